/**
 * `queryPrepared` on PostgreSQL (bench:fhir): named statements on a pool of their own whose plan_cache_mode is
 * force_generic_plan, so the FHIR search is parsed and planned once per connection. The same answers as
 * `query`, also after a partition is added under a prepared plan; every other query keeps PostgreSQL's own
 * plan choice; the number of statements kept is bounded; and it can be turned off (VIGIL_PG_PREPARED=0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, PREPARED_STATEMENTS_MAX, type Db } from './db.ts';
import { createTestDatabase, postgresAvailable, skipNote } from '../../test/support/services.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (prepared statements)');

describe.skipIf(!hasPg)('PostgreSQL prepared statements for hot queries', () => {
  let db: Db;
  let drop: () => Promise<void>;
  let url: string;
  const byMonth = `SELECT id, v FROM m WHERE k = ANY($1::text[]) AND ts >= $2 ORDER BY ts DESC, id DESC LIMIT $3`;
  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    url = t.url;
    db = await openPostgres(url);
    await db.exec(`CREATE TABLE m (id bigint, k text, ts timestamptz, v float8) PARTITION BY RANGE (ts);
      CREATE TABLE m_2026_01 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
      CREATE INDEX ON m (k, ts DESC);
      INSERT INTO m SELECT i, 'k' || (i % 3), '2026-01-01'::timestamptz + i * interval '1 minute', i FROM generate_series(1, 2000) i;`);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('answers as query does, with a generic plan, and sees a partition added after it was planned', async () => {
    const args = [['k1', 'k2'], '2026-01-01T10:00:00Z', 25];
    const want = await db.query(byMonth, args);
    expect(want).toHaveLength(25);
    for (let i = 0; i < 8; i++) expect(await db.queryPrepared(byMonth, args)).toEqual(want);
    // Sequential calls use one connection of the prepared pool (the pool hands out the last one returned).
    const stmts = await db.queryPrepared<{ statement: string; generic_plans: string; custom_plans: string }>(
      'SELECT statement, generic_plans::text, custom_plans::text FROM pg_prepared_statements WHERE statement = $1',
      [byMonth],
    );
    expect(stmts).toEqual([{ statement: byMonth, generic_plans: '8', custom_plans: '0' }]);
    // A new partition (as readings-partitions.ts adds each month) invalidates the plan: its rows are found.
    await db.exec(`CREATE TABLE m_2026_02 PARTITION OF m FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
      INSERT INTO m VALUES (9001, 'k1', '2026-02-10T00:00:00Z', 1), (9002, 'k2', '2026-02-11T00:00:00Z', 2);`);
    const after = await db.queryPrepared<{ id: string }>(byMonth, args);
    expect(after.slice(0, 2).map((r) => String(r.id))).toEqual(['9002', '9001']);
    expect(after).toEqual(await db.query(byMonth, args));
  });

  it("leaves every other query to PostgreSQL's own plan choice", async () => {
    const mode = `SELECT current_setting('plan_cache_mode') AS m`;
    expect(await db.query(mode)).toEqual([{ m: 'auto' }]);
    expect(await db.transaction((tx) => tx.query(mode))).toEqual([{ m: 'auto' }]);
    expect(await db.queryPrepared(mode)).toEqual([{ m: 'force_generic_plan' }]);
  });

  it(`keeps at most ${PREPARED_STATEMENTS_MAX} statements; the rest still answer, unnamed`, async () => {
    for (let i = 0; i < PREPARED_STATEMENTS_MAX + 20; i++) {
      const [r] = await db.queryPrepared<{ n: number }>(`SELECT $1::int + ${i} AS n`, [1]);
      expect(r.n).toBe(1 + i);
    }
    const [{ n }] = await db.queryPrepared<{ n: string }>('SELECT count(*)::text AS n FROM pg_prepared_statements');
    expect(Number(n)).toBeLessThanOrEqual(PREPARED_STATEMENTS_MAX);
  });

  it('is plain query when turned off (a pooler that cannot keep named statements)', async () => {
    const plain = await openPostgres(url, { preparedStatements: false });
    try {
      expect(await plain.queryPrepared(byMonth, [['k0'], '2026-01-01T00:00:00Z', 3])).toEqual(await plain.query(byMonth, [['k0'], '2026-01-01T00:00:00Z', 3]));
      expect(await plain.queryPrepared(`SELECT current_setting('plan_cache_mode') AS m`)).toEqual([{ m: 'auto' }]);
      expect(await plain.queryPrepared('SELECT count(*)::int AS n FROM pg_prepared_statements')).toEqual([{ n: 0 }]);
    } finally {
      await plain.close();
    }
  });
});
