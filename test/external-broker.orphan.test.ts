/**
 * Behind Mosquitto (MQTT_URL), an instance that dies for good must not take its share of the devices'
 * messages with it. Its consumers' persistent sessions stay in the `$share` group and Mosquitto goes on
 * queueing their share for them; a live instance finds them unseen (broker_sessions) and drains them
 * (ingest/broker/orphan-sessions.ts). Real processes: instance A is killed with SIGKILL and its data directory
 * removed (a container that is gone), then devices publish; every acknowledged reading must be stored, once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mosquittoAvailable, postgresAvailable, skipNote, startMosquitto } from './support/services.ts';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { eventually } from './support/eventually.ts';

const enabled = (await postgresAvailable()) && mosquittoAvailable();
if (!enabled) skipNote('PostgreSQL + Mosquitto (orphaned broker sessions)');

const DEVICES = 8;
const MESSAGES = 150; // per device, one reading each

describe.skipIf(!enabled)('external broker: the sessions of an instance that is gone are drained by a live one', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Client;
  let a: ServerProcess;
  let b: ServerProcess;
  const dirs: string[] = [];
  const keys = { VIGIL_MASTER_KEY: randomBytes(32).toString('base64'), VIGIL_AUDIT_KEY: randomBytes(32).toString('base64') };
  const boot = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-orphan-'));
    dirs.push(dir);
    return startServerProcess({
      ...keys,
      VIGIL_DATA_DIR: dir,
      DATABASE_URL: db.url,
      MQTT_URL: broker.url,
      VIGIL_MQTT_PORT: '0',
      VIGIL_BROKER_ORPHAN_AFTER_S: '3',
    });
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startMosquitto('max_queued_messages 0\nmax_queued_bytes 0');
    a = await boot();
    b = await boot();
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  }, 180_000);
  afterAll(async () => {
    await sql?.end();
    await a?.kill();
    await b?.kill();
    await broker?.stop();
    await db?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('every acknowledged reading is stored once, including the share Mosquitto queued for the dead instance', async () => {
    const api = async <T>(method: string, url: string, body: unknown): Promise<T> => {
      const res = await fetch(b.url + url, {
        method,
        headers: { authorization: `Bearer ${b.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.ok).toBe(true);
      return (await res.json()) as T;
    };
    const patient = await api<{ id: string }>('POST', '/api/v1/patients', { name: 'Orphan Test' });
    const devices: Array<{ id: string; secret: string }> = [];
    for (let i = 0; i < DEVICES; i++) devices.push(await api('POST', '/api/v1/devices', { patientId: patient.id, type: 'multi' }));
    // Both instances registered their consumers.
    const registered = await eventually(
      async () => Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM broker_sessions')).rows[0].n),
      (n) => n === 8,
      20_000,
    );
    expect(registered).toBe(8);

    await a.kill('SIGKILL'); // and its data directory is gone: it never comes back under its id
    await rm(dirs[0], { recursive: true, force: true });

    // The devices go on publishing (paced, 15 s) while the dead instance's sessions are drained: a drained session
    // leaves the share group at once, so the drain ends during the traffic, not only after it.
    const t0 = Date.now();
    const PUBLISH_MS = 15_000;
    let acked = 0;
    let drainedAt = 0;
    const watch = (async () => {
      while (!drainedAt && Date.now() - t0 < PUBLISH_MS + 30_000) {
        const n = (await sql.query<{ n: string }>('SELECT count(*) AS n FROM broker_sessions')).rows[0].n;
        if (Number(n) === 4) drainedAt = Date.now();
        else await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await Promise.all(
      devices.map(async (d) => {
        const c = await mqtt.connectAsync(broker.url, { clientId: `orphan-${d.id}`, username: d.id, password: d.secret, reconnectPeriod: 0 });
        for (let seq = 1; seq <= MESSAGES; seq++) {
          await c.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, JSON.stringify({ seq, ts: t0 - 60_000 + seq * 100, hr: 60 + (seq % 30) }), { qos: 1 });
          acked++;
          await new Promise((r) => setTimeout(r, PUBLISH_MS / MESSAGES));
        }
        await c.endAsync();
      }),
    );
    const publishedAt = Date.now();
    await watch;
    expect(acked).toBe(DEVICES * MESSAGES);
    // A's four sessions were drained, ended and unregistered while the devices were still publishing; B's remain.
    expect(drainedAt).toBeGreaterThan(0);
    expect(drainedAt).toBeLessThan(publishedAt);
    const count = async () => Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM readings WHERE patient_id = $1', [patient.id])).rows[0].n);
    // Without the drain, about half (A's four of eight consumers' share) stays queued in Mosquitto for 7 days.
    const stored = await eventually(count, (n) => n >= DEVICES * MESSAGES, 60_000);
    expect(stored).toBe(DEVICES * MESSAGES);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await count()).toBe(DEVICES * MESSAGES); // nothing twice
    expect(b.output()).toContain('drained and ended the broker session of an instance that is gone');
  }, 180_000);
});
