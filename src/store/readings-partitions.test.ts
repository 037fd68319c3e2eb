/**
 * Issue 11, time-partitioned readings (migrations 024–025, readings-partitions.ts), on PGlite and PostgreSQL:
 * a new database is partitioned by month; a database of migration 023 with readings in it is upgraded in
 * place (every row and id kept, the old table attached as a partition, not copied); rows of months without a
 * partition land in DEFAULT and the maintenance moves them; a one-patient day's query touches only its month.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, openPostgres, type Db } from '../platform/db.ts';
import { migrate } from './migrate.ts';
import { createReadingsRepository } from './readings.repository.ts';
import { listReadingPartitions, maintainReadingPartitions, monthStart, partitionName } from './readings-partitions.ts';
import { createTestDatabase, postgresAvailable, skipNote } from '../../test/support/services.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (partitioned readings on PostgreSQL)');
const DAY = 86_400_000;
const BEFORE = '023_device_disable.sql';

/** Which partitions a statement reads, from its EXPLAIN (pruned partitions do not appear). */
async function partitionsRead(db: Db, sql: string): Promise<string[]> {
  const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
  const text = rows.map((r) => r['QUERY PLAN']).join('\n');
  return [...new Set([...text.matchAll(/ on (readings_\w+)/g)].map((m) => m[1]))].sort();
}

const insertSql = (n: number, patient: string, tsSql: string) =>
  `INSERT INTO readings (patient_id, device_id, code, value, unit, ts, seq)
   SELECT '${patient}', 'dev_1', '8867-4', 60 + g % 40, '/min', ${tsSql}, g FROM generate_series(1, ${n}) g`;

for (const setup of [
  { name: 'PGlite', pg: false },
  { name: 'PostgreSQL', pg: true },
]) {
  describe.skipIf(setup.pg && !hasPg)(`partitioned readings on ${setup.name}`, () => {
    const open: Array<{ db: Db; drop?: () => Promise<void> }> = [];
    const fresh = async (): Promise<Db> => {
      if (!setup.pg) {
        const db = await openDatabase({ dataDir: null });
        open.push({ db });
        return db;
      }
      const { url, drop } = await createTestDatabase();
      const db = await openPostgres(url);
      open.push({ db, drop });
      return db;
    };
    afterAll(async () => {
      for (const o of open) {
        await o.db.close();
        await o.drop?.();
      }
    });

    describe('a new database', () => {
      let db: Db;
      beforeAll(async () => {
        db = await fresh();
        await migrate(db);
      }, 120_000);

      it('is partitioned by month, from the previous month to two ahead, with a DEFAULT and no legacy table', async () => {
        const parts = await listReadingPartitions(db);
        const now = Date.now();
        const months = [-1, 0, 1, 2].map((i) => monthStart(now, i));
        expect(parts.filter((p) => !p.isDefault).map((p) => [p.name, p.from, p.to])).toEqual(months.map((m) => [partitionName(m), m, monthStart(m, 1)]));
        expect(parts.filter((p) => p.isDefault).map((p) => p.name)).toEqual(['readings_default']);
        const [{ kind }] = await db.query<{ kind: string }>(`SELECT relkind::text AS kind FROM pg_class WHERE relname = 'readings'`);
        expect(kind).toBe('p');
      });

      it('stores through the repository (COPY on PGlite, INSERT on PostgreSQL), reads by id, and charts', async () => {
        const repo = createReadingsRepository(db);
        const now = Date.now();
        const rows = Array.from({ length: 50 }, (_, i) => ({
          patientId: 'pat_a',
          deviceId: 'dev_a',
          code: '8867-4',
          value: 70 + (i % 5),
          unit: '/min',
          ts: now - (50 - i) * 60_000,
          seq: i,
        }));
        const stored = await db.transaction((tx) => repo.insertBatch(tx, rows));
        expect(new Set(stored.map((r) => r.id)).size).toBe(50);
        const one = await repo.byId(stored[7].id);
        expect(one).toMatchObject({ id: stored[7].id, patientId: 'pat_a', value: rows[7].value, ts: rows[7].ts });
        expect((await repo.byIds([stored[0].id, stored[49].id])).map((r) => r.id)).toEqual([stored[0].id, stored[49].id]);
        const series = await repo.series('pat_a', '8867-4', now - DAY, now, 20);
        expect(series.bucketMs).not.toBeNull();
        expect(series.points.at(-1)).toEqual([rows[49].ts, rows[49].value]); // the newest reading ends the chart
      });

      it("reads only the current month's partitions for one patient's last 24 h", async () => {
        const now = Date.now();
        const from = new Date(now - DAY).toISOString();
        const to = new Date(now).toISOString();
        const read = await partitionsRead(
          db,
          `SELECT ts, value FROM readings WHERE patient_id = 'pat_a' AND code = '8867-4' AND ts >= '${from}' AND ts <= '${to}'`,
        );
        const expected = [...new Set([partitionName(monthStart(now - DAY)), partitionName(monthStart(now))])].sort();
        expect(read).toEqual(expected);
      });

      it('puts rows of months without a partition into DEFAULT, and the maintenance moves them, ids kept', async () => {
        const past = Date.UTC(2019, 2, 14, 12);
        const future = monthStart(Date.now(), 7) + 3 * DAY;
        const ids = await db.query<{ id: string; ts: Date }>(
          `INSERT INTO readings (patient_id, code, value, unit, ts) VALUES ('pat_b', '8867-4', 61, '/min', $1), ('pat_b', '8867-4', 62, '/min', $2)
           RETURNING id, ts`,
          [new Date(past).toISOString(), new Date(future).toISOString()],
        );
        const where = async () =>
          (await db.query<{ part: string }>(`SELECT tableoid::regclass::text AS part FROM readings WHERE patient_id = 'pat_b' ORDER BY ts`)).map((r) => r.part);
        expect(await where()).toEqual(['readings_default', 'readings_default']);
        const done = await maintainReadingPartitions(db, Date.now());
        expect(done).toEqual({ created: [partitionName(monthStart(past)), partitionName(monthStart(future))], moved: 2 });
        expect(await where()).toEqual([partitionName(monthStart(past)), partitionName(monthStart(future))]);
        const again = await db.query<{ id: string }>(`SELECT id FROM readings WHERE patient_id = 'pat_b' ORDER BY ts`);
        expect(again.map((r) => String(r.id))).toEqual(ids.map((r) => String(r.id)));
        expect(await maintainReadingPartitions(db, Date.now())).toEqual({ created: [], moved: 0 });
        // A new month ahead is created once the clock reaches it.
        const later = await maintainReadingPartitions(db, monthStart(Date.now(), 3) + DAY);
        expect(later.created).toEqual([3, 4, 5].map((i) => partitionName(monthStart(Date.now(), i))));
      });
    });

    describe('a database of migration 023 with readings', () => {
      let db: Db;
      let before: Array<{ id: string; ts: string; value: number }>;
      const now = Date.now();
      beforeAll(async () => {
        db = await fresh();
        await migrate(db, { until: BEFORE });
        // 3,000 readings over the last 400 days, and one from a clock 90 days ahead (past any cut-over).
        await db.query(insertSql(3000, 'pat_old', `now() - g * interval '3 hours'`));
        await db.query(insertSql(1, 'pat_ahead', `now() + interval '90 days'`));
        before = await db.query(`SELECT id::text, ts::text, value FROM readings ORDER BY id`);
        expect((await migrate(db)).slice(0, 2)).toEqual(['024_readings_partition_prepare.sql', '025_readings_partitioned.sql']);
      }, 120_000);

      it('keeps every row and id; the old table is the partition readings_legacy, then monthly partitions', async () => {
        expect(await db.query(`SELECT id::text, ts::text, value FROM readings ORDER BY id`)).toEqual(before);
        const parts = await listReadingPartitions(db);
        const legacy = parts.find((p) => p.name === 'readings_legacy')!;
        expect(legacy.from).toBeNull();
        expect(legacy.to! - now).toBeGreaterThan(22 * 3600_000); // the cut-over is about a day ahead
        expect(legacy.to! - now).toBeLessThan(25 * 3600_000);
        const [{ n }] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM readings_legacy`);
        expect(Number(n)).toBe(3000);
        // The reading from the clock ahead went back in through the partitioned table (its month or DEFAULT).
        const [ahead] = await db.query<{ part: string }>(`SELECT tableoid::regclass::text AS part FROM readings WHERE patient_id = 'pat_ahead'`);
        expect(ahead.part).toBe('readings_default');
        // Monthly partitions continue seamlessly after the cut-over.
        const monthly = parts.filter((p) => /_y\d{4}m\d{2}$/.test(p.name));
        expect(monthly[0].from).toBe(legacy.to);
        for (let i = 1; i < monthly.length; i++) expect(monthly[i].from).toBe(monthly[i - 1].to);
      });

      it('reads by id, hands out new ids after the old ones and stores new readings in monthly partitions', async () => {
        const repo = createReadingsRepository(db);
        const oldest = before[0];
        expect((await repo.byId(oldest.id))?.value).toBe(oldest.value);
        const maxOld = Math.max(...before.map((r) => Number(r.id)));
        const ts = monthStart(now, 1) + 2 * DAY; // next month: past the cut-over
        const stored = await db.transaction((tx) =>
          repo.insertBatch(tx, [{ patientId: 'pat_new', deviceId: 'dev_n', code: '8867-4', value: 77, unit: '/min', ts, seq: 1 }]),
        );
        expect(Number(stored[0].id)).toBeGreaterThan(maxOld);
        const [row] = await db.query<{ part: string }>(`SELECT tableoid::regclass::text AS part FROM readings WHERE id = $1`, [stored[0].id]);
        expect(row.part).toBe(partitionName(monthStart(ts)));
        expect((await repo.byId(stored[0].id))?.ts).toBe(ts);
      });

      it('the maintenance moves the reading from DEFAULT into its month', async () => {
        const done = await maintainReadingPartitions(db, now);
        expect(done.moved).toBe(1);
        const [ahead] = await db.query<{ part: string }>(`SELECT tableoid::regclass::text AS part FROM readings WHERE patient_id = 'pat_ahead'`);
        expect(ahead.part).toBe(partitionName(monthStart(now + 90 * DAY)));
      });
    });
  });
}
