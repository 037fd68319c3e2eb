/**
 * Issue 11, readings retention (VIGIL_RETENTION_READINGS_MONTHS): whole monthly partitions older than the
 * retention are dropped, each with its retention.delete audit entry; newer months, and readings read by id
 * in them, stay. After an upgrade the old table (readings_legacy) loses its old rows in audited batches.
 * Unset, nothing of readings is removed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, bootAppOn, STORES, type TestApp } from './support/app.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { createRetention } from '../src/store/retention.ts';
import { createLogger } from '../src/platform/logger.ts';
import { openPostgres } from '../src/platform/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { createReadingsRepository } from '../src/store/readings.repository.ts';
import { monthStart, partitionName } from '../src/store/readings-partitions.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (readings retention on PostgreSQL)');
const DAY = 86_400_000;

type Entry = {
  actor: string;
  entity_id: string;
  details: { table: string; partition?: string; deleted: number; dropped?: boolean; months: number; cutoff: string };
};

for (const setup of STORES) {
  describe.skipIf(setup.pg && !hasPg)(`readings retention on ${setup.name}`, () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await bootAppOn(setup);
    }, 180_000);
    afterAll(async () => {
      await app?.stop();
    });

    it('drops whole months past the retention, each audited, and keeps the rest', async () => {
      const db = app.services.db;
      const now = Date.now();
      const at = (monthsAgo: number) => new Date(monthStart(now, -monthsAgo) + 5 * DAY).toISOString();
      // 14 and 13 months ago: past a 12-month retention; 12 and 2 months ago and now: kept.
      const ages = [14, 13, 12, 2, 0];
      const ids: Record<number, string> = {};
      for (const age of ages) {
        const [{ id }] = await db.query<{ id: string }>(
          `INSERT INTO readings (patient_id, code, value, unit, ts) SELECT 'pat_r', '8867-4', 60 + g, '/min', $1::timestamptz + g * interval '1 minute' FROM generate_series(1, 3) g RETURNING id`,
          [at(age)],
        );
        ids[age] = String(id);
      }
      const logger = createLogger('silent');
      const clock = { now: () => now };
      const before = (await db.query(`SELECT 1 FROM audit_log WHERE action = 'retention.delete'`)).length;

      // Unset: the sweep moves the old rows out of DEFAULT into their months, and removes none.
      const keep = createRetention({ db, audit: app.services.audit, clock, logger });
      await keep.sweep();
      const [{ n: all }] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM readings WHERE patient_id = 'pat_r'`);
      expect(Number(all)).toBe(15);
      expect((await db.query(`SELECT 1 FROM readings_default`)).length).toBe(0);

      const retention = createRetention({ db, audit: app.services.audit, clock, logger, policy: { readingsMonths: 12 } });
      const deleted = await retention.sweep();
      const gone = [14, 13].map((a) => partitionName(monthStart(now, -a)));
      expect(Object.fromEntries(Object.entries(deleted).filter(([k]) => k.startsWith('readings_')))).toEqual({ [gone[0]]: 3, [gone[1]]: 3 });
      const left = await db.query<{ ts: Date }>(`SELECT ts FROM readings WHERE patient_id = 'pat_r' ORDER BY ts`);
      expect(left.length).toBe(9);
      expect(new Date(left[0].ts).getTime()).toBeGreaterThanOrEqual(monthStart(now, -12));
      for (const name of gone) expect((await db.query(`SELECT to_regclass($1) AS t`, [name]))[0]).toEqual({ t: null });
      // A reading of a kept month is still read by id; one of a dropped month is gone.
      const repo = createReadingsRepository(db);
      expect((await repo.byId(ids[12]))?.patientId).toBe('pat_r');
      expect(await repo.byId(ids[14])).toBeNull();

      // (d)(2): one retention.delete entry per dropped month, by the system, with rows, cut-off and policy.
      const entries = await db.query<Entry>(`SELECT actor, entity_id, details FROM audit_log WHERE action = 'retention.delete' ORDER BY id OFFSET $1`, [
        before,
      ]);
      const months = entries.filter((e) => e.details.table === 'readings');
      expect(months.map((e) => [e.actor, e.entity_id, e.details.deleted, e.details.dropped, e.details.months])).toEqual([
        ['system', gone[0], 3, true, 12],
        ['system', gone[1], 3, true, 12],
      ]);
      expect(Date.parse(months[0].details.cutoff)).toBeLessThanOrEqual(monthStart(now, -11));
      // Nothing more on a second sweep.
      const again = await retention.sweep();
      expect(Object.keys(again).filter((k) => k.startsWith('readings_'))).toEqual([]);
      expect((await app.services.audit.verify()).bad).toEqual([]);
    });
  });
}

describe.skipIf(!hasPg)('readings retention after an upgrade (PostgreSQL)', () => {
  let app: TestApp;
  let drop: (() => Promise<void>) | null = null;
  beforeAll(async () => {
    const created = await createTestDatabase();
    drop = created.drop;
    const db = await openPostgres(created.url);
    await migrate(db, { until: '023_device_disable.sql' });
    // 12,000 readings, one every hour back from now (500 days): more than two delete batches are old.
    await db.query(
      `INSERT INTO readings (patient_id, code, value, unit, ts) SELECT 'pat_l', '8867-4', 70, '/min', now() - g * interval '1 hour' FROM generate_series(1, 12000) g`,
    );
    await db.close();
    app = await bootApp({ databaseUrl: created.url });
  }, 180_000);
  afterAll(async () => {
    await app?.stop();
    await drop?.();
  });

  it('deletes the old rows of readings_legacy in audited batches until the whole partition is past', async () => {
    const db = app.services.db;
    const now = Date.now();
    const retention = createRetention({
      db,
      audit: app.services.audit,
      clock: { now: () => now },
      logger: createLogger('silent'),
      policy: { readingsMonths: 6 },
    });
    const deleted = await retention.sweep();
    const [{ n: old }] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM readings WHERE ts < now() - interval '6 months' - interval '1 day'`);
    expect(Number(old)).toBe(0);
    const [{ n: kept }] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM readings_legacy`);
    expect(Number(kept)).toBeGreaterThan(24 * 180);
    expect(deleted.readings_legacy).toBe(12000 - Number(kept));
    const entries = await db.query<Entry>(
      `SELECT actor, entity_id, details FROM audit_log WHERE action = 'retention.delete' AND entity_id = 'readings_legacy'`,
    );
    expect(entries.reduce((s, e) => s + e.details.deleted, 0)).toBe(deleted.readings_legacy);
    expect(entries.every((e) => e.details.months === 6)).toBe(true);
    // Once the cut-over itself is past the retention, the whole partition goes.
    const later = createRetention({
      db,
      audit: app.services.audit,
      clock: { now: () => now + 200 * DAY },
      logger: createLogger('silent'),
      policy: { readingsMonths: 6 },
    });
    expect((await later.sweep()).readings_legacy).toBe(Number(kept));
    expect((await db.query(`SELECT to_regclass('readings_legacy') AS t`))[0]).toEqual({ t: null });
  });
});
