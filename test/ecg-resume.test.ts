/**
 * Issue 11: ECG analysis resumes from a durable position. An instance analyses the first 100 s of a record
 * (40 s sinus, then AF) and stops; the next 150 s are stored while no instance analyses them (in the
 * reliability test: the owner was killed and the survivor's leases went with a PostgreSQL restart; here
 * written straight into ecg_chunks, as an ingest that committed and then died would leave them). A second
 * instance finds them behind the device's position, replays them (after a quiet warm-up before the
 * position) and continues the AF episode the first one had open: one episode (started where the first
 * instance saw it start, ~150 s long), one AF alert, no finding stored twice. Before the position existed
 * the second instance never analysed those chunks: no episode at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { eventually } from './support/eventually.ts';
import { createEcgModel } from '../src/simulator/ecg-model.ts';
import { DERIVED_CODES } from '../src/domain/codes.ts';

const enabled = await postgresAvailable();
if (!enabled) skipNote('PostgreSQL (ECG resume from the durable analysis position)');

const FS = 250;
const rhythm = (s: number) => (s < 40 ? { hr: 72, rr: 15, af: false } : s < 190 ? { hr: 110, rr: 15, af: true } : { hr: 72, rr: 15, af: false });

describe.skipIf(!enabled)('ECG analysis resumes from its durable position', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let first: TestApp | undefined;
  let second: TestApp | undefined;
  let db: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = new pg.Client({ connectionString: database.url });
    await db.connect();
  });
  afterAll(async () => {
    await first?.stop().catch(() => undefined);
    await second?.stop();
    await db?.end();
    await database?.drop();
  });

  it('chunks stored while nobody analysed them are analysed by the next instance, each finding once', async () => {
    first = await bootApp({ databaseUrl: database.url });
    const patientId = (await first.services.patientService.create({ name: 'Resumed' }, 'system')).id;
    const device = await first.services.deviceService.provision({ patientId, type: 'ecg' }, 'system');
    const model = createEcgModel({ seed: 42, fs: FS });
    const start = Date.now() - 300_000;
    const chunk = (s: number) => ({ ts: start + s * 1000, seq: s, fs: FS, lead: 'II', unit: 'uV', samples: model.next(FS, rhythm(s)) });
    for (let s = 0; s < 100; s++) expect((await first.services.ingest.acceptEcg(device.id, JSON.stringify(chunk(s)))).ok).toBe(true);
    const position = async () =>
      (await db.query(`SELECT analysed_to, af_start FROM ecg_analysis_positions WHERE device_id = $1`, [device.id])).rows[0] as
        { analysed_to: Date | null; af_start: Date | null } | undefined;
    // The first instance stood in AF when it stopped (its position says so).
    const before = await eventually(position, (p) => !!p?.af_start && !!p.analysed_to && p.analysed_to.getTime() >= start + 90_000, 60_000);
    expect(before!.af_start!.getTime()).toBeGreaterThan(start + 25_000);
    await first.stop();
    first = undefined;

    // 150 s more, stored while no instance analyses the device.
    for (let s = 100; s < 250; s++) {
      const c = chunk(s);
      await db.query(`INSERT INTO ecg_chunks (patient_id, device_id, ts, seq, fs, lead, unit, samples) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
        patientId,
        device.id,
        new Date(c.ts),
        c.seq,
        c.fs,
        c.lead,
        c.unit,
        c.samples,
      ]);
    }

    second = await bootApp({ databaseUrl: database.url });
    const episodes = () =>
      db
        .query(`SELECT ts, value FROM readings WHERE device_id = $1 AND code = $2 AND method IS NOT NULL`, [device.id, DERIVED_CODES.afEpisode.code])
        .then((r) => r.rows as Array<{ ts: Date; value: number }>);
    await eventually(episodes, (rows) => rows.length >= 1, 60_000);
    await eventually(position, (p) => !!p?.analysed_to && p.analysed_to.getTime() >= start + 249_000, 30_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const found = await episodes();
    expect(found).toHaveLength(1);
    // It started where the first instance saw it start (not where the second one re-detected it).
    expect(found[0].ts.getTime()).toBe(before!.af_start!.getTime());
    expect(found[0].value).toBeGreaterThan(120); // 150 s of AF; onset back-dated, offset decided late
    expect(found[0].value).toBeLessThan(200);
    // No heart-rate finding stored twice (the replay before the position stores nothing).
    const hr = (
      await db.query(`SELECT count(*)::int AS n, count(DISTINCT ts)::int AS d FROM readings WHERE device_id = $1 AND code = $2 AND method IS NOT NULL`, [
        device.id,
        DERIVED_CODES.ecgHeartRate.code,
      ])
    ).rows[0];
    expect(hr.n).toBe(hr.d);
    expect(hr.n).toBeGreaterThan(15);
    // One AF alert, opened by the first instance, and resolved by the second when the rhythm returned.
    const alerts = (await db.query(`SELECT status FROM alerts WHERE patient_id = $1 AND rule_key = 'af'`, [patientId])).rows;
    expect(alerts).toHaveLength(1);
    await eventually(
      async () => (await db.query(`SELECT status FROM alerts WHERE patient_id = $1 AND rule_key = 'af'`, [patientId])).rows[0]?.status,
      (s) => s === 'resolved',
      20_000,
    );
  }, 180_000);
});
