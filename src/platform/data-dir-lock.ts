import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from './errors.ts';

/**
 * One process per embedded database. PGlite has no lock of its own: a second `vigil start` on the same data
 * directory ran beside the first, and their two writers left the database unopenable ("Aborted()", found by
 * review). A lock file holding the owner's pid, created exclusively (O_EXCL); a file whose process is gone
 * (kill -9, power loss) is stale and taken over. The same process may open the directory again (tests, the
 * CLI's offline services after a server in one process).
 */
export async function lockEmbeddedDatabase(dir: string): Promise<() => Promise<void>> {
  const file = path.join(dir, 'vigil.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid }));
      await handle.close();
      return async () => {
        if ((await holderOf(file)) === process.pid) await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const pid = await holderOf(file);
      if (pid === process.pid) return async () => undefined; // opened again by this process: the first opener releases it
      if (pid !== null && alive(pid))
        throw new AppError(
          'CONFLICT',
          `VIGIL_DATA_DIR: the embedded database in ${path.dirname(dir)} is in use by another Vigil process (pid ${pid}); stop it first (CLI verbs reach a running server by themselves)`,
        );
      await rm(file, { force: true }); // stale: its process is gone
    }
  }
}

async function holderOf(file: string): Promise<number | null> {
  try {
    const pid = (JSON.parse(await readFile(file, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null; // unreadable or half-written: treated as stale
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}
