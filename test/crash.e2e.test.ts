/**
 * "Nothing acknowledged is lost": readings whose QoS 1 PUBACK a device received are in the store after the
 * server is killed with SIGKILL (no shutdown hook runs) and started again, on PGlite and on PostgreSQL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { startServerProcess } from './support/server-process.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { freePort } from './support/ports.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (crash test on PostgreSQL)');

const MESSAGES = 300;

async function api<T>(url: string, token: string, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(url + route, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const cases = [
  { name: 'PGlite', enabled: true, database: async () => ({ env: {}, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    enabled: hasPg,
    database: async () => {
      const db = await createTestDatabase();
      return { env: { DATABASE_URL: db.url }, drop: db.drop };
    },
  },
];

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
});

for (const c of cases) {
  describe.skipIf(!c.enabled)(`crash safety on ${c.name}`, () => {
    it(`keeps every acknowledged reading across kill -9 (${MESSAGES} QoS 1 messages)`, async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-crash-'));
      const database = await c.database();
      cleanups.push(async () => {
        await rm(dataDir, { recursive: true, force: true });
        await database.drop();
      });
      const env = { VIGIL_DATA_DIR: dataDir, ...database.env };
      const ports = { http: await freePort(), mqtt: await freePort() };
      const first = await startServerProcess(env, ports);
      cleanups.push(() => first.kill());
      const patient = await api<{ id: string }>(first.url, first.token, 'POST', '/api/v1/patients', { name: 'Crash Test' });
      const device = await api<{ id: string; secret: string }>(first.url, first.token, 'POST', '/api/v1/devices', {
        patientId: patient.id,
        type: 'pulse-oximeter',
      });

      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${first.mqttPort}`, {
        username: device.id,
        password: device.secret,
        clientId: device.id,
        reconnectPeriod: 0,
      });
      let acked = 0;
      const inFlight: Array<Promise<unknown>> = [];
      for (let seq = 1; seq <= MESSAGES; seq++) {
        inFlight.push(
          client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, JSON.stringify({ seq, hr: 60 + (seq % 40) }), { qos: 1 }).then(() => acked++),
        );
      }
      // Kill the server the moment the last PUBACK arrives: nothing gets a chance to flush on the way out.
      await Promise.all(inFlight);
      await first.kill('SIGKILL');
      client.end(true);
      expect(acked).toBe(MESSAGES);

      const second = await startServerProcess(env, ports);
      cleanups.push(() => second.kill());
      const count = await api<{ total: number }>(second.url, second.token, 'GET', `/fhir/R4/Observation?patient=${patient.id}&code=8867-4&_summary=count`);
      expect(count.total).toBe(MESSAGES);
      await second.kill('SIGTERM');
    });
  });
}
