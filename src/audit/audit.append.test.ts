/**
 * The one-round-trip append (migration 029's audit_append, audit.service.ts `insert`) keeps the chain linear
 * when the head this instance remembers is stale: another instance appended meanwhile, or a transaction that
 * appended rolled back. Two audit services on one database stand for two instances (each has its own
 * remembered head); on PostgreSQL they write concurrently through a pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openPgliteWorker, openPostgres, type Db } from '../platform/db.ts';
import { migrate } from '../store/migrate.ts';
import { createAuditService } from './audit.service.ts';
import { createTestDatabase, postgresAvailable, skipNote } from '../../test/support/services.ts';

const key = randomBytes(32);
const keys = { current: key, all: [key] };
const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (concurrent audit appends from two instances)');

const count = async (db: Db) => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_log'))[0].n);

function suite(name: string, open: () => Promise<{ db: Db; close(): Promise<void> }>) {
  describe(name, () => {
    let db: Db;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ db, close } = await open());
      await migrate(db);
    });
    afterAll(async () => close?.());

    it('audit_append inserts nothing and answers the real head when the entries were chained onto another', async () => {
      const a = createAuditService(db, { keys });
      await a.record({ actor: 'system', action: 'test.first' });
      const before = await count(db);
      const [head] = await db.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1');
      const stale = [{ ts: new Date().toISOString(), actor: 'system', action: 'x', outcome: 'success', prev_hash: '0'.repeat(64), hash: 'f'.repeat(64) }];
      const [r] = await db.query<{ head: string }>('SELECT audit_append($1, $2::jsonb) AS head', ['0'.repeat(64), JSON.stringify(stale)]);
      expect(r.head).toBe(head.hash);
      expect(await count(db)).toBe(before);
    });

    it('two instances appending at once (reads, changes, a rolled-back transaction) leave one verifiable chain', async () => {
      const one = createAuditService(db, { keys });
      const two = createAuditService(db, { keys });
      const before = await count(db);
      const work: Array<Promise<unknown>> = [];
      for (let i = 0; i < 40; i++) {
        const s = i % 2 ? one : two;
        work.push(s.recordBatched({ actor: 'system', action: 'test.read', details: { i } }));
        if (i % 5 === 0) work.push(s.record({ actor: 'system', action: 'test.record', details: { i } }));
        if (i % 7 === 0)
          work.push(
            s.change(async (tx, log) => {
              await tx.query('SELECT 1');
              log({ actor: 'system', action: 'test.change', details: { i } });
            }),
          );
      }
      // A transaction that appended and then rolled back: its instance remembers a head that was never stored.
      await expect(
        db.transaction(async (tx) => {
          await one.recordIn(tx, { actor: 'system', action: 'test.rolled-back' });
          throw new Error('the change fails');
        }),
      ).rejects.toThrow('the change fails');
      await Promise.all(work);
      await one.record({ actor: 'system', action: 'test.after-rollback' });
      await two.record({ actor: 'system', action: 'test.after-rollback' });
      const written = 40 + 8 + 6 + 2; // reads, records (i % 5), changes (i % 7), after the rollback
      expect((await count(db)) - before).toBe(written);
      const verified = await one.verify();
      expect(verified.bad).toEqual([]);
      expect(verified.checked).toBe(before + written);
      expect(Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM audit_log WHERE action = 'test.rolled-back'"))[0].n)).toBe(0);
    });
  });
}

suite('audit append on PGlite', async () => {
  const db = await openPgliteWorker(null);
  return { db, close: () => db.close() };
});

if (hasPg)
  suite('audit append on PostgreSQL', async () => {
    const t = await createTestDatabase();
    const db = await openPostgres(t.url);
    return {
      db,
      async close() {
        await db.close();
        await t.drop();
      },
    };
  });
