/**
 * Issue 11: when an instance gains a bucket of patients (a takeover, a lost and regained ownership session), the
 * first signal of one of its patients reseeds the bucket and replays its recent stored readings through the
 * threshold rules (alerts/alert-monitor.ts `mine` → `seed` → `replay`): readings that an instance stored and
 * acknowledged but never evaluated still raise their alert. The replay reads only the gained bucket's readings
 * (grouped by bucket once per burst). Here on one instance on PostgreSQL: readings are written as a crash leaves
 * them (stored, no event), the ownership session is killed and comes back, and each bucket replays on its own
 * first signal, not before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { eventually } from './support/eventually.ts';
import { bucketOf } from '../src/cluster/ownership.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (alert replay of a gained bucket)');

describe.skipIf(!hasPg)('alert replay of a gained bucket', () => {
  let app: TestApp;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    app = await bootApp({ databaseUrl: db.url, env: { VIGIL_MQTT_PORT: '0' } });
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await drop?.();
  });

  it('each gained bucket replays its own unevaluated readings on its first signal, and no other bucket’s', async () => {
    const s = app.services;
    const patient = async (name: string) => {
      const id = (await s.patientService.create({ name }, 'system')).id;
      const device = (await s.deviceService.provision({ patientId: id, type: 'pulse-oximeter' }, 'system')).id;
      return { id, device };
    };
    const x = await patient('Replay X');
    let y = await patient('Replay Y');
    while (bucketOf(y.id) === bucketOf(x.id)) y = await patient('Replay Y');
    const now = Date.now();
    // 160 s below 90 % for both (spo2-low needs 2 min): stored and acknowledged, never evaluated (no event).
    const low = (p: { id: string; device: string }) =>
      Array.from({ length: 17 }, (_, i) => ({
        patientId: p.id,
        deviceId: p.device,
        code: '59408-5',
        value: 85,
        unit: '%',
        ts: now - 170_000 + i * 10_000,
        seq: null,
      }));
    await s.db.transaction((tx) => s.repos.readings.insertBatch(tx, [...low(x), ...low(y)]));
    const spo2Low = (patientId: string) =>
      s.db.query<{ status: string }>(`SELECT status FROM alerts WHERE patient_id = $1 AND rule_key = 'spo2-low'`, [patientId]);
    expect(await spo2Low(x.id)).toEqual([]);

    // The ownership session dies and comes back: every bucket is lost, then gained again.
    await s.db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'vigil-owner-%' AND datname = current_database()`);
    await eventually(
      () => s.ownership.stats(),
      (st) => !st.connected,
      10_000,
    );
    await eventually(
      () => s.ownership.stats(),
      (st) => st.connected && st.owned === st.buckets,
      20_000,
    );

    // X's first signal (a reading stamped just after the stored ones) replays X's bucket: the 2 minutes were reached.
    expect((await s.ingest.acceptTelemetry(x.device, JSON.stringify({ ts: now - 5_000, seq: 1, spo2: 85 }))).ok).toBe(true);
    expect(
      await eventually(
        () => spo2Low(x.id),
        (a) => a.length > 0,
        15_000,
      ),
    ).toEqual([{ status: 'open' }]);
    // Y's bucket had no signal yet: its readings were not replayed with X's.
    await s.alerts.monitor.idle();
    expect(await spo2Low(y.id)).toEqual([]);
    // Y's first signal replays Y's bucket.
    expect((await s.ingest.acceptTelemetry(y.device, JSON.stringify({ ts: now - 5_000, seq: 1, spo2: 85 }))).ok).toBe(true);
    expect(
      await eventually(
        () => spo2Low(y.id),
        (a) => a.length > 0,
        15_000,
      ),
    ).toEqual([{ status: 'open' }]);
  }, 120_000);
});
