/**
 * Issue 11, scale-out: per-patient ownership across instances. Two real Vigil processes on one PostgreSQL
 * receive the same patients' readings in turn. Exactly one of them evaluates each patient: one NEWS2 row per
 * score (not one per instance), one alert per patient. Then the owner of some patients is killed with
 * SIGKILL; the survivor takes its patients over (PostgreSQL frees a dead session's advisory locks): it
 * stores their next NEWS2 once and resolves the alerts the dead instance opened. Last, a new instance joins the
 * survivor, which holds every patient: it hands half back, and the newcomer evaluates those (one alert each).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { eventually } from './support/eventually.ts';
import { bucketOf } from '../src/cluster/ownership.ts';
import { DERIVED_CODES } from '../src/domain/codes.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (two instances, per-patient ownership)');

const PATIENTS = 8;

describe.skipIf(!hasPg)('per-patient ownership across two instances', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let c: ServerProcess | undefined;
  const dirOf = new Map<ServerProcess, string>();
  let db: pg.Client;
  let drop: () => Promise<void>;
  const dirs: string[] = [];
  const patients: Array<{ id: string; device: { id: string; secret: string } }> = [];

  const api = async <T = unknown>(server: ServerProcess, token: string, method: string, url: string, body?: unknown) => {
    const res = await fetch(server.url + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as T };
  };
  const boot = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-own-'));
    dirs.push(dir);
    const server = await startServerProcess({ VIGIL_DATA_DIR: dir, DATABASE_URL: dbUrl, VIGIL_MQTT_PORT: '0', VIGIL_ALERT_TICK_MS: '500' });
    dirOf.set(server, dir);
    return server;
  };
  let dbUrl = '';

  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    dbUrl = t.url;
    a = await boot();
    b = await boot(); // (its start rotates the CLI admin token: b.token is the valid one on both)
    db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    const rule = await api(a, b.token, 'PUT', '/api/v1/alert-rules/hr-cluster', {
      scope: 'clinic',
      definition: { kind: 'threshold', code: '8867-4', op: 'above', value: 140, clearAt: 130, severity: 'warning' },
    });
    expect(rule.status).toBe(200);
    for (let i = 0; i < PATIENTS; i++) {
      const p = await api<{ id: string }>(a, b.token, 'POST', '/api/v1/patients', { name: `Owned ${i}`, birthDate: '1950-01-01' });
      const d = await api<{ id: string; secret: string }>(a, b.token, 'POST', '/api/v1/devices', { patientId: p.body.id, type: 'pulse-oximeter' });
      patients.push({ id: p.body.id, device: d.body });
    }
  }, 240_000);
  afterAll(async () => {
    await a?.kill();
    await b?.kill();
    await c?.kill();
    await db?.end();
    await drop?.();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const send = (server: ServerProcess, p: (typeof patients)[number], vitals: Record<string, number>) =>
    api(server, p.device.secret, 'POST', `/api/v1/devices/${p.device.id}/telemetry`, vitals);
  const news2Rows = async (patientId: string) =>
    (
      await db.query(`SELECT value FROM readings WHERE patient_id = $1 AND code = $2 AND method IS NOT NULL ORDER BY ts`, [patientId, DERIVED_CODES.news2.code])
    ).rows.map((r) => Number(r.value));
  const alertsOf = async (patientId: string) =>
    (await db.query(`SELECT status, resolved_by FROM alerts WHERE patient_id = $1 AND rule_key = 'hr-cluster'`, [patientId])).rows as Array<{
      status: string;
      resolved_by: string | null;
    }>;
  /** Buckets held by a process, from PostgreSQL's own lock table. */
  const bucketsOf = async (server: ServerProcess) => {
    const id = (await readFile(path.join(dirOf.get(server)!, 'instance-id'), 'utf8')).trim();
    const { rows } = await db.query(
      `SELECT l.objid FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.classid = ${0x5647} AND l.granted AND s.application_name = $1`,
      [`vigil-owner-${id}.${server.proc.pid}`],
    );
    return new Set(rows.map((r) => Number(r.objid)));
  };

  it('each patient is evaluated by one instance: one NEWS2 row per score, one alert', async () => {
    const vitals = { hr: 150, rr: 18, spo2: 97, sbp: 125, temp: 37 };
    // Three rounds, each patient's readings alternating between the instances.
    for (let round = 0; round < 3; round++) {
      for (const [i, p] of patients.entries()) expect((await send((i + round) % 2 ? b : a, p, vitals)).status).toBe(202);
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const p of patients) {
      await eventually(
        () => news2Rows(p.id),
        (rows) => rows.length >= 1,
        15_000,
      );
      await eventually(
        () => alertsOf(p.id),
        (rows) => rows.length >= 1,
        15_000,
      );
    }
    await new Promise((r) => setTimeout(r, 6_000)); // past NEWS2's 5 s interval: a second instance would have stored its own by now
    for (const p of patients) {
      expect(await news2Rows(p.id)).toHaveLength(1);
      expect(await alertsOf(p.id)).toEqual([{ status: 'open', resolved_by: null }]);
    }
    // No patient's bucket is held by both. (It may be held by neither for a moment: the one holding more than its
    // fair share hands the excess back, and the other claims it on the patient's next reading; the next test's do.)
    const [ofA, ofB] = [await bucketsOf(a), await bucketsOf(b)];
    for (const p of patients) expect(Number(ofA.has(bucketOf(p.id))) + Number(ofB.has(bucketOf(p.id)))).toBeLessThanOrEqual(1);
    expect(ofA.size).toBeGreaterThan(0);
  }, 90_000);

  it('after kill -9 of an owner, the survivor takes its patients over: next NEWS2 stored once, its alerts resolved', async () => {
    const ofA = await bucketsOf(a);
    const fromA = patients.filter((p) => ofA.has(bucketOf(p.id)));
    expect(fromA.length).toBeGreaterThan(0);
    await a.kill('SIGKILL');
    // HR 80 clears the alert; RR 25 (3 points) and SpO2 93 (2 points) raise the score from 3 to 5.
    for (let round = 0; round < 2; round++) {
      for (const p of patients) expect((await send(b, p, { hr: 80, rr: 25, spo2: 93, sbp: 125, temp: 37 })).status).toBe(202);
      await new Promise((r) => setTimeout(r, 1_500));
    }
    for (const p of patients) {
      await eventually(
        () => alertsOf(p.id),
        (rows) => rows[0]?.status === 'resolved',
        20_000,
      );
      await eventually(
        () => news2Rows(p.id),
        (rows) => rows.length >= 2,
        20_000,
      );
    }
    await new Promise((r) => setTimeout(r, 6_000));
    for (const p of patients) {
      const rows = await news2Rows(p.id);
      expect(rows).toHaveLength(2);
      expect(rows).toEqual([3, 5]);
      expect(await alertsOf(p.id)).toEqual([{ status: 'resolved', resolved_by: 'system' }]);
    }
    const ofB = await bucketsOf(b);
    for (const p of fromA) expect(ofB.has(bucketOf(p.id))).toBe(true);
  }, 120_000);

  it('an instance that joins gets a share: the survivor, holding every patient, hands half back; one alert each', async () => {
    const before = await bucketsOf(b);
    const used = new Set(patients.map((p) => bucketOf(p.id)));
    for (const bucket of used) expect(before.has(bucket)).toBe(true);
    c = await boot();
    const token = c.token; // its start rotated the CLI admin token
    // The survivor hands back half of what is in use once it sees the newcomer ready (checks every 2 s); the newcomer
    // claims those on the patients' next readings (HR 150 opens the rule's alert again). Before, it kept them all.
    const high = { hr: 150, rr: 25, spo2: 93, sbp: 125, temp: 37 };
    const spread = async () => {
      for (const [i, p] of patients.entries()) expect((await send(i % 2 ? b : c!, p, high)).status).toBe(202);
      await new Promise((r) => setTimeout(r, 500));
      return [await bucketsOf(b), await bucketsOf(c!)];
    };
    const [ofB, ofC] = await eventually(spread, ([, heldByC]) => heldByC.size >= Math.floor(used.size / 2), 30_000);
    expect(ofC.size).toBe(Math.floor(used.size / 2)); // fair: ⌈held ÷ 2⌉ stays with the survivor
    for (const bucket of used) expect(Number(ofB.has(bucket)) + Number(ofC.has(bucket))).toBe(1);
    // One open alert per patient, whichever instance now evaluates it (the resolved one from before stays).
    for (const p of patients)
      await eventually(
        () => alertsOf(p.id),
        (rows) => rows.some((r) => r.status === 'open'),
        20_000,
      );
    await new Promise((r) => setTimeout(r, 3_000));
    for (const p of patients) expect((await alertsOf(p.id)).map((r) => r.status).sort()).toEqual(['open', 'resolved']);
    expect((await api(c, token, 'GET', '/health')).status).toBe(200);
  }, 120_000);
});
