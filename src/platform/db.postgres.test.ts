/**
 * Issue 11 (found by the two-instance reliability test): a PostgreSQL restart while a transaction held a
 * pooled connection raised an uncaught 'error' on that client and took the whole instance down. Now the
 * transaction rejects, the broken connection is dropped, and the next query works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Db } from './db.ts';
import { createTestDatabase, postgresAvailable, skipNote } from '../../test/support/services.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (connection loss inside a transaction)');

describe.skipIf(!hasPg)('PostgreSQL connection lost inside a transaction', () => {
  let db: Db;
  let admin: Db;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    db = await openPostgres(t.url);
    admin = await openPostgres(t.url);
  });
  afterAll(async () => {
    await db?.close();
    await admin?.close();
    await drop?.();
  });

  it('rejects the transaction instead of crashing the process, and the pool recovers', async () => {
    const crashed: unknown[] = [];
    const onUncaught = (err: unknown) => crashed.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const tx = db.transaction(async (q) => {
        await q.query(`SELECT set_config('application_name', 'vigil-doomed', false)`);
        await q.query('SELECT pg_sleep(10)');
      });
      // Observe the outcome now: the rejection arrives while the admin query below is still awaited, and a
      // rejection with no handler yet is an unhandled rejection that fails the whole run (CI, 8cfcb9a).
      const outcome = tx.then(
        () => 'committed',
        (err: unknown) => err,
      );
      await new Promise((r) => setTimeout(r, 300));
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vigil-doomed'`);
      expect(await outcome).toBeInstanceOf(Error);
      await new Promise((r) => setTimeout(r, 100));
      expect(crashed).toEqual([]);
      for (let i = 0; i < 10; i++) expect(await db.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      expect(await db.transaction(async (q) => (await q.query<{ two: number }>('SELECT 2 AS two'))[0].two)).toBe(2);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
