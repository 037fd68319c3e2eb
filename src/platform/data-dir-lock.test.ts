import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockEmbeddedDatabase } from './data-dir-lock.ts';
import { openPgliteWorker } from './db.ts';

describe('one process per embedded database (found by review: two servers on one data dir broke it)', () => {
  const dirs: string[] = [];
  const children: Array<ReturnType<typeof spawn>> = [];
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const tempDir = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'vigil-lock-'));
    dirs.push(d);
    return d;
  };

  it('refuses a directory another live process holds, naming it and the pid; takes over one whose process is gone', async () => {
    const dir = await tempDir();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    children.push(other);
    await writeFile(path.join(dir, 'vigil.lock'), JSON.stringify({ pid: other.pid }));
    await expect(lockEmbeddedDatabase(dir)).rejects.toThrow(new RegExp(`in use by another Vigil process \\(pid ${other.pid}\\)`));
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
    const release = await lockEmbeddedDatabase(dir); // stale: taken over
    expect(JSON.parse(await readFile(path.join(dir, 'vigil.lock'), 'utf8')).pid).toBe(process.pid);
    expect((await stat(path.join(dir, 'vigil.lock'))).mode & 0o777).toBe(0o600);
    await release();
    await expect(stat(path.join(dir, 'vigil.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('the embedded database holds the lock while open and gives it back on close', async () => {
    const dataDir = await tempDir();
    const db = await openPgliteWorker(dataDir);
    const lock = path.join(dataDir, 'pgdata', 'vigil.lock');
    expect(JSON.parse(await readFile(lock, 'utf8')).pid).toBe(process.pid);
    await db.close();
    await expect(stat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
