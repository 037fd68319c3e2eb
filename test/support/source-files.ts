import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** Every non-test .ts file under src/, as `dir/file.ts` relative to src/ (for the grep-style rule tests). */
export function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [path.relative(SRC, p).split(path.sep).join('/')] : [];
  });
}

/** How many times `pattern` (a /g regex) matches in each source file; files without a match are left out. */
export function countMatches(pattern: RegExp, skip: (file: string) => boolean = () => false): Record<string, number> {
  const found: Record<string, number> = {};
  for (const file of sourceFiles()) {
    if (skip(file)) continue;
    const n = (readFileSync(path.join(SRC, file), 'utf8').match(pattern) ?? []).length;
    if (n) found[file] = n;
  }
  return found;
}
