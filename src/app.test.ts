/**
 * app.ts is the one composition root (issue 7): it builds every service (its parts live in src/app/);
 * modules receive what they use and never import app.ts or src/app/ (that made cycles: monitoring and the
 * demo seed imported `Services` from it). Only the CLI's entry points start or open the app.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SRC, sourceFiles } from '../test/support/source-files.ts';

const importsOf = (file: string): string[] =>
  [...readFileSync(path.join(SRC, file), 'utf8').matchAll(/(?:from |import\()'(\.{1,2}\/[^']+)'/g)].map((m) => path.posix.join(path.posix.dirname(file), m[1]));

const inRoot = (f: string) => f === 'app.ts' || f.startsWith('app/');

describe('the composition root', () => {
  it('is imported only by the CLI entry points (the server and the offline verbs)', () => {
    const importers = sourceFiles().filter((f) => !inRoot(f) && importsOf(f).includes('app.ts'));
    expect(importers.sort()).toEqual(['cli/commands/start.ts', 'cli/offline-services.ts']);
  });

  it('keeps its parts (src/app/) to itself', () => {
    const outside = sourceFiles().filter((f) => !inRoot(f) && importsOf(f).some((i) => i.startsWith('app/')));
    expect(outside).toEqual([]);
    // and the parts exist, so the check above is not vacuous
    expect(sourceFiles().filter((f) => f.startsWith('app/')).length).toBeGreaterThanOrEqual(5);
  });

  it('is the only place that builds a service from the CLI: no verb calls a create…Service or opens the database', () => {
    const verbs = sourceFiles().filter((f) => f.startsWith('cli/'));
    const builders = verbs.filter((f) =>
      /\bcreate\w*(Service|Repository|Module)\(|\bopenDatabase\(|\bcreateServices\(/.test(readFileSync(path.join(SRC, f), 'utf8')),
    );
    expect(builders).toEqual([]);
  });
});
