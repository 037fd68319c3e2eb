/**
 * `queryPrepared` on PGlite (pglite-worker.ts, bench:fhir): a named statement parsed and planned once, run with a
 * generic plan, its bind/describe/execute/sync sent in one buffer. The same answers as `query` (types, nulls,
 * arrays, JSON), also after a partition is added under the plan; the generic-plan setting never leaks to other
 * queries, not even when the prepared statement fails; a statement that does not parse fails alone; and the
 * number of statements kept is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgliteWorker, type Db } from './db.ts';

describe('PGlite prepared statements for hot queries', () => {
  let db: Db;
  const byMonth = `SELECT id, k, ts, v, doc FROM m WHERE k = ANY($1::text[]) AND ts >= $2 ORDER BY ts DESC, id DESC LIMIT $3`;
  const mode = `SELECT current_setting('plan_cache_mode') AS m`;
  beforeAll(async () => {
    db = await openPgliteWorker(null);
    await db.exec(`CREATE TABLE m (id bigint, k text, ts timestamptz, v float8, doc jsonb) PARTITION BY RANGE (ts);
      CREATE TABLE m_2026_01 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
      CREATE INDEX ON m (k, ts DESC);
      INSERT INTO m SELECT i, 'k' || (i % 3), '2026-01-01'::timestamptz + i * interval '1 minute', CASE WHEN i % 7 = 0 THEN NULL ELSE i / 4.0 END,
        jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i % 2 = 0)) FROM generate_series(1, 2000) i;`);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('answers as query does, with a generic plan, and sees a partition added after it was planned', async () => {
    const args = [['k1', 'k2'], '2026-01-01T10:00:00Z', 25];
    const want = await db.query<{ ts: unknown; doc: unknown; v: unknown }>(byMonth, args);
    expect(want).toHaveLength(25);
    expect(want[0].ts).toBeInstanceOf(Date);
    expect(want.some((r) => r.v === null)).toBe(true);
    for (let i = 0; i < 8; i++) expect(await db.queryPrepared(byMonth, args)).toEqual(want);
    const [stmt] = await db.query<{ generic_plans: string; custom_plans: string }>(
      'SELECT generic_plans::text, custom_plans::text FROM pg_prepared_statements WHERE statement = $1',
      [byMonth],
    );
    expect(stmt).toEqual({ generic_plans: '8', custom_plans: '0' });
    await db.exec(`CREATE TABLE m_2026_02 PARTITION OF m FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
      INSERT INTO m VALUES (9001, 'k1', '2026-02-10T00:00:00Z', 1, NULL), (9002, 'k2', '2026-02-11T00:00:00Z', 2, '{"x":1}');`);
    const after = await db.queryPrepared<{ id: unknown; doc: unknown }>(byMonth, args);
    expect(after.slice(0, 2).map((r) => String(r.id))).toEqual(['9002', '9001']);
    expect(after[0].doc).toEqual({ x: 1 });
    expect(after).toEqual(await db.query(byMonth, args));
    // Null and Date parameters are sent as query sends them.
    const nullable = 'SELECT count(*)::int AS n FROM m WHERE ($1::text IS NULL OR k = $1) AND ts < $2';
    for (const k of [null, 'k0'])
      expect(await db.queryPrepared(nullable, [k, new Date('2026-01-01T05:00:00Z')])).toEqual(await db.query(nullable, [k, new Date('2026-01-01T05:00:00Z')]));
  });

  it('keeps the generic plan to its own statements, also when one fails', async () => {
    expect(await db.query(mode)).toEqual([{ m: 'auto' }]);
    expect(await db.queryPrepared(mode)).toEqual([{ m: 'force_generic_plan' }]);
    expect(await db.query(mode)).toEqual([{ m: 'auto' }]);
    // A value the statement's parameter type refuses: the error is the database's, and nothing is left behind.
    await expect(db.queryPrepared('SELECT count(*) AS n FROM m WHERE id = $1::bigint', ['not a number'])).rejects.toThrow(
      /invalid input syntax for type bigint/,
    );
    expect(await db.query(mode)).toEqual([{ m: 'auto' }]);
    expect(await db.transaction((tx) => tx.query(mode))).toEqual([{ m: 'auto' }]);
    expect(await db.queryPrepared<{ n: number }>('SELECT count(*)::int AS n FROM m WHERE id = $1::bigint', [5])).toEqual([{ n: 1 }]);
  });

  it('fails a statement that does not parse alone; the next one is prepared as usual', async () => {
    await expect(db.queryPrepared('SELEKT 1')).rejects.toThrow(/syntax error/);
    expect(await db.queryPrepared<{ one: number }>('SELECT $1::int AS one', [1])).toEqual([{ one: 1 }]);
    expect(await db.queryPrepared<{ one: number }>('SELECT $1::int AS one', [2])).toEqual([{ one: 2 }]);
  });

  it('keeps at most 64 statements; the rest still answer, unnamed', async () => {
    for (let i = 0; i < 84; i++) {
      const [r] = await db.queryPrepared<{ n: number }>(`SELECT $1::int + ${i} AS n`, [1]);
      expect(r.n).toBe(1 + i);
    }
    const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements');
    expect(n).toBeLessThanOrEqual(64);
  });
});
