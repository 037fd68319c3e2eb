import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { canConnect, freePort } from './ports.ts';

export const PG_ADMIN_URL = process.env.VIGIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Is the machine's PostgreSQL reachable? Suites that need it skip loudly when not. */
export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** A fresh, uniquely named database; `drop()` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `vigil_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = '/' + name;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function mosquittoAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).status === 0;
}

/** A private Mosquitto on a random port (the machine's own stays untouched). */
export async function startMosquitto(extraConfig = ''): Promise<{ url: string; port: number; pid: number; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-mosq-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n${extraConfig}\n`);
  const proc: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  const killOnExit = () => proc.kill('SIGKILL'); // never leave a broker behind if the test process dies
  process.once('exit', killOnExit);
  for (let i = 0; i < 50 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await canConnect(port))) throw new Error('mosquitto did not start');
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    async stop() {
      process.off('exit', killOnExit);
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Says loudly that a suite is skipped; under CI (VIGIL_REQUIRE_ALL=1) a missing dependency is an error instead. */
export function skipNote(what: string): string {
  if (process.env.VIGIL_REQUIRE_ALL === '1') throw new Error(`${what} is required in CI but is not available`);
  const msg = `\n*** SKIPPED: ${what} is not available on this machine; run .ci/run to include it ***\n`;
  console.warn(msg);
  return msg;
}
