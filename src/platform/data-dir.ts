import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * The data directory holds the embedded database, keys and uploads: owner-only (HIPAA §164.312(a)(1)).
 * New files: the process umask becomes 077 (PGlite's worker thread shares it). Existing files (an older
 * install, a copied-in backup): every group/other permission bit is removed. Returns how many were fixed.
 */
export async function secureDataDir(dataDir: string): Promise<number> {
  try {
    process.umask(0o077);
  } catch {
    // Worker threads cannot change the umask; the sweep below still runs.
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  return tighten(dataDir);
}

async function tighten(p: string): Promise<number> {
  const st = await lstat(p).catch(() => null);
  if (!st || st.isSymbolicLink()) return 0;
  let fixed = 0;
  if (st.mode & 0o077) {
    await chmod(p, st.mode & 0o700);
    fixed++;
  }
  if (st.isDirectory()) for (const name of await readdir(p)) fixed += await tighten(path.join(p, name));
  return fixed;
}

/** Paths under `dir` that group or others can read, write or enter (for tests and `vigil doctor`-style checks). */
export async function looseFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string) => {
    const st = await lstat(p);
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const n of await readdir(p)) await walk(path.join(p, n));
  };
  await walk(dir);
  return out;
}
