import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canConnect, freePort } from './ports.ts';

/** The server binaries of the installed PostgreSQL (Debian keeps them out of PATH). */
function pgBin(name: string): string | null {
  const r = spawnSync('sh', ['-c', `ls -d /usr/lib/postgresql/*/bin/${name} 2>/dev/null | sort -V | tail -1`], { encoding: 'utf8' });
  return r.stdout.trim() || null;
}

export function privatePostgresAvailable(): boolean {
  return pgBin('initdb') !== null && pgBin('postgres') !== null;
}

/**
 * A PostgreSQL server of the test's own on a random loopback port, so that the test may restart it (the
 * machine's shared server is not ours to restart). As root, it runs as the `postgres` user (PostgreSQL
 * refuses to run as root). fsync is off: the test is about connections dropping, not about disks.
 */
export async function startPrivatePostgres(): Promise<{ url: string; restart(): Promise<void>; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-pg-'));
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (asRoot) {
    const { uid, gid } = userIds('postgres');
    chownSync(dir, uid, gid);
  }
  const [c, a] = wrap(pgBin('initdb')!, ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const init = spawnSync(c, a, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    const [cmd, args] = wrap(pgBin('postgres')!, [
      '-D',
      path.join(dir, 'data'),
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ]);
    proc = spawn(cmd, args, { stdio: 'ignore' });
    for (let i = 0; i < 150 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await canConnect(port))) throw new Error('private PostgreSQL did not start');
    await new Promise((r) => setTimeout(r, 300)); // accepting TCP a moment before it accepts logins
  };
  const stopServer = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    // SIGINT = fast shutdown: every session is ended, as in a restart of the service. The postmaster's
    // own pid (runuser stands between us and it).
    process.kill(postmasterPid(), 'SIGINT');
    await exited;
    proc = null;
  };
  const postmasterPid = () => Number(readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const killOnExit = () => {
    try {
      process.kill(postmasterPid(), 'SIGKILL');
    } catch {
      /* not running */
    }
  };
  process.once('exit', killOnExit);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart() {
      await stopServer();
      await start();
    },
    async stop() {
      process.off('exit', killOnExit);
      await stopServer();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function userIds(name: string): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}
