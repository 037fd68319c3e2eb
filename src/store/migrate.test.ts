/**
 * migrate.ts: several instances starting at once against one PostgreSQL apply every migration exactly once,
 * including one that runs outside a transaction (024, `-- migrate: no-transaction`) between transactional ones.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgres, type Db } from '../platform/db.ts';
import { migrate, splitStatements } from './migrate.ts';
import { createTestDatabase, postgresAvailable, skipNote } from '../../test/support/services.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (concurrent migrations)');

describe('migrate', () => {
  it('splits on line-ending semicolons, keeps dollar-quoted bodies whole and drops comment lines', () => {
    expect(splitStatements('-- migrate: no-transaction\nSELECT 1;\nDO $$\nBEGIN\n  PERFORM 1;\nEND $$;\n')).toEqual([
      'SELECT 1',
      'DO $$\nBEGIN\n  PERFORM 1;\nEND $$',
    ]);
  });

  describe.skipIf(!hasPg)('on PostgreSQL', () => {
    const dbs: Db[] = [];
    let drop: (() => Promise<void>) | undefined;
    afterAll(async () => {
      for (const db of dbs) await db.close();
      await drop?.();
    });

    it('three instances migrating at once apply each file once, and a later start applies nothing', async () => {
      const created = await createTestDatabase();
      drop = created.drop;
      for (let i = 0; i < 3; i++) dbs.push(await openPostgres(created.url));
      const results = await Promise.all(dbs.map((db) => migrate(db)));
      const all = results.flat();
      expect(all.length).toBe(new Set(all).size);
      expect(all).toContain('024_readings_partition_prepare.sql');
      const [{ n }] = await dbs[0].query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
      expect(Number(n)).toBe(all.length);
      expect(await migrate(dbs[0])).toEqual([]);
    }, 120_000);
  });
});
