import { existsSync, statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from './command.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WEB = path.join(ROOT, 'web');
const DIST_INDEX = path.join(WEB, 'dist', 'index.html');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds the web app with Vite when it is missing or older than its sources (first `npm start`). */
export async function ensureWebBuilt(io: CliIo): Promise<void> {
  if (!existsSync(path.join(WEB, 'index.html'))) return;
  const built = existsSync(DIST_INDEX) ? statSync(DIST_INDEX).mtimeMs : 0;
  if (built > newestMtime(path.join(WEB, 'src'))) return;
  io.stderr.write('Building the web app (first start)…\n');
  try {
    const { build } = await import('vite');
    await build({ root: WEB, configFile: path.join(WEB, 'vite.config.ts'), logLevel: 'warn' });
  } catch (err) {
    // A read-only install (a package, a container image) cannot rebuild; the web app it shipped still works.
    if (!built) throw err;
    io.stderr.write(`Could not rebuild the web app (${(err as Error).message.split('\n')[0]}); serving the build that is there.\n`);
  }
}
