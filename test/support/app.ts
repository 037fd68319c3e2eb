import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/config.ts';
import { startApp, type RunningApp } from '../../src/app.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { freePort } from './ports.ts';
import { createTestDatabase } from './services.ts';

export interface TestApp extends RunningApp {
  dataDir: string;
  /** Where this instance listens: `httpUrl`, unless a VIGIL_PUBLIC_URL names the proxy in front of it. */
  localUrl: string;
  /** Creates a user and returns a bearer token for it. */
  tokenFor(role: 'admin' | 'clinician' | 'patient', opts?: { patientId?: string }): Promise<{ token: string; email: string; practitionerId: string | null }>;
  api<T = unknown>(token: string, method: string, url: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

let counter = 0;

/** Boots the real app (database, broker, HTTP) on random ports with its own data dir. */
export async function bootApp(opts: { databaseUrl?: string; mqttUrl?: string; env?: Record<string, string> } = {}): Promise<TestApp> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-test-'));
  const config = loadConfig({
    VIGIL_HTTP_PORT: '0',
    VIGIL_HTTP_HOST: '127.0.0.1',
    VIGIL_MQTT_PORT: opts.mqttUrl ? '0' : String(await freePort()),
    VIGIL_DATA_DIR: dataDir,
    VIGIL_DEMO: '0',
    DATABASE_URL: opts.databaseUrl,
    MQTT_URL: opts.mqttUrl,
    VIGIL_LOG_LEVEL: process.env.VIGIL_TEST_LOG ?? 'silent',
    VIGIL_STRICT_RESPONSES: '1', // a response that drifts from its contract fails the test
    ...opts.env,
  });
  const app = await startApp(config, { logger: createLogger(config.logLevel) });
  const s = app.services;
  const localUrl = config.publicUrl ? `${config.tls ? 'https' : 'http'}://127.0.0.1:${app.httpPort}` : app.httpUrl;
  let stopping: Promise<void> | undefined;
  return {
    ...app,
    dataDir,
    localUrl,
    async tokenFor(role, o = {}) {
      const email = `${role}${++counter}-${Math.random().toString(36).slice(2, 6)}@test.vigil`;
      const u = await s.auth.createUser({ email, role, password: 'correct horse battery', patientId: o.patientId ?? null }, 'system');
      const { token } = await s.auth.createToken(email, 'test', 'system');
      return { token, email, practitionerId: u.practitionerId };
    },
    async api(token, method, url, body) {
      const res = await fetch(localUrl + url, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed as never };
    },
    // Idempotent: a test may stop an instance early (to kill it) and the fixture's cleanup stops it again.
    stop() {
      stopping ??= app.close().then(() => rm(dataDir, { recursive: true, force: true }));
      return stopping;
    },
  };
}

export interface Instances {
  /** The instances, in boot order. */
  apps: TestApp[];
  databaseUrl: string;
  /** Stops every instance still running, then drops the database. */
  stop(): Promise<void>;
}

/**
 * `n` instances of one deployment on one fresh PostgreSQL database, booted one after the other. Like a real
 * deployment they share the master key (patients' data keys are wrapped by it) and the audit key; no
 * embedded MQTT broker unless `env` asks for one (`mqttUrl`: all on one external broker).
 */
export async function bootInstances(n: number, opts: { mqttUrl?: string; env?: Record<string, string> } = {}): Promise<Instances> {
  const db = await createTestDatabase();
  const env = { VIGIL_MQTT_PORT: '0', VIGIL_MASTER_KEY: randomBytes(32).toString('base64'), VIGIL_AUDIT_KEY: randomBytes(32).toString('base64'), ...opts.env };
  const apps: TestApp[] = [];
  const stop = async () => {
    for (const app of apps) await app.stop();
    await db.drop();
  };
  try {
    for (let i = 0; i < n; i++) apps.push(await bootApp({ databaseUrl: db.url, mqttUrl: opts.mqttUrl, env }));
  } catch (err) {
    await stop();
    throw err;
  }
  return { apps, databaseUrl: db.url, stop };
}

/** The two stores every storage-level behaviour is tested on (embedded PGlite, and a PostgreSQL server). */
export const STORES = [
  { name: 'PGlite', pg: false },
  { name: 'PostgreSQL', pg: true },
] as const;

/** `bootApp` on PGlite, or on a fresh PostgreSQL database that `stop()` drops afterwards. */
export async function bootAppOn(store: { pg: boolean }, opts: { env?: Record<string, string> } = {}): Promise<TestApp> {
  if (!store.pg) return bootApp(opts);
  const db = await createTestDatabase();
  const app = await bootApp({ ...opts, databaseUrl: db.url }).catch(async (err) => {
    await db.drop();
    throw err;
  });
  let stopping: Promise<void> | undefined;
  return {
    ...app,
    stop() {
      stopping ??= app.stop().then(() => db.drop());
      return stopping;
    },
  };
}
