import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openPgliteWorker, type Db } from '../platform/db.ts';
import { migrate } from '../store/migrate.ts';
import { canonicalJson } from './canonical-json.ts';
import { createAuditService, type AuditService } from './audit.service.ts';

let db: Db;
let dir: string;
let audit: AuditService;
const key = randomBytes(32);
const keys = { current: key, all: [key] };

beforeAll(async () => {
  db = await openPgliteWorker(null);
  await migrate(db);
  dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-audit-'));
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});
// Each test starts from a fresh 10-entry chain (emptying the table needs the owner to lift the triggers).
beforeEach(async () => {
  await audit?.flush(); // the previous test's pending checkpoint must not land on this test's chain
  await db.exec('ALTER TABLE audit_log DISABLE TRIGGER USER; TRUNCATE audit_log RESTART IDENTITY; ALTER TABLE audit_log ENABLE TRIGGER USER');
  audit = createAuditService(db, { keys, anchorFile: path.join(dir, 'anchor.json') });
  for (let i = 1; i <= 10; i++)
    await audit.record({ actor: 'system', action: 'test.write', entityType: 'Thing', entityId: `t${i}`, patientId: i % 2 ? 'pat_1' : null, details: { n: i } });
  await audit.checkpoint();
});

/** What an attacker holding the database owner's role can do: switch the append-only triggers off. */
const asOwner = async (sql: string, params: unknown[] = []) => {
  await db.exec('ALTER TABLE audit_log DISABLE TRIGGER USER');
  await db.query(sql, params);
  await db.exec('ALTER TABLE audit_log ENABLE TRIGGER USER');
};

describe('audit trail', () => {
  it('F1: an entry whose details hold undefined members (the web app acknowledging with {}) verifies', async () => {
    await audit.record({ actor: 'system', action: 'alert.acknowledge', details: { note: undefined, by: 'x' } });
    await audit.record({ actor: 'system', action: 'x', details: { list: [1, undefined, 'a\u0000b'], deep: { gone: undefined } } });
    const r = await audit.verify();
    expect(r.bad).toEqual([]);
    expect(r.checked).toBe(12);
  });

  it('F10: the table refuses UPDATE, DELETE and TRUNCATE from the application role', async () => {
    await expect(db.query("UPDATE audit_log SET action = 'x' WHERE id = 1")).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM audit_log WHERE id = 1')).rejects.toThrow(/append-only/);
    await expect(db.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    expect((await audit.verify()).bad).toEqual([]);
  });

  it('F10: reports every edited entry, not only the first, and keeps checking after it', async () => {
    await asOwner('UPDATE audit_log SET details = \'{"n": 99}\' WHERE id IN (3, 7)');
    const streamed: string[] = [];
    const r = await audit.verify((b) => streamed.push(b.id));
    expect(r.bad.map((b) => b.id)).toEqual(['3', '7']);
    expect(streamed).toEqual(['3', '7']);
    expect(r.bad[0].reason).toMatch(/MAC/);
  });

  it('F10: an edit re-chained without the key (plain SHA-256, or a guessed key) is detected', async () => {
    const rows = await db.query<Record<string, unknown> & { id: string; prev_hash: string }>('SELECT * FROM audit_log ORDER BY id');
    let prev = rows[3].prev_hash as string;
    for (const r of rows.slice(3)) {
      const row = {
        ts: new Date(r.ts as string).toISOString(),
        actor: r.actor,
        action: r.id === rows[3].id ? 'forged' : r.action,
        entity_type: r.entity_type,
        entity_id: r.entity_id,
        patient_id: r.patient_id,
        outcome: r.outcome,
        details: r.details,
      };
      const hash = createHash('sha256')
        .update(prev + '\n' + canonicalJson(row))
        .digest('hex');
      await asOwner('UPDATE audit_log SET action = $1, prev_hash = $2, hash = $3, key_id = NULL WHERE id = $4', [row.action, prev, hash, r.id]);
      prev = hash;
    }
    const r = await audit.verify();
    expect(r.bad.length).toBeGreaterThanOrEqual(7);
    expect(r.bad[0]).toMatchObject({ id: '4', reason: expect.stringMatching(/unkeyed/) });
  });

  it('F10: truncating the tail is detected through the signed checkpoint outside the table', async () => {
    await asOwner('DELETE FROM audit_log WHERE id > 8');
    const r = await audit.verify();
    expect(r.anchor).toMatchObject({ id: '10', ok: false });
    expect(r.bad).toEqual([expect.objectContaining({ id: '10', reason: expect.stringMatching(/truncated/) })]);
  });

  it('F10: a deleted middle entry breaks the link at the next one', async () => {
    await asOwner('DELETE FROM audit_log WHERE id = 5');
    expect((await audit.verify()).bad).toEqual([expect.objectContaining({ id: '6', reason: expect.stringMatching(/link broken/) })]);
  });

  it('a verifier with another key reports every entry as forged', async () => {
    const other = randomBytes(32);
    const r = await createAuditService(db, { keys: { current: other, all: [other] }, anchorFile: null }).verify();
    expect(r.bad).toHaveLength(10);
  });

  it('(d)(2) change: the entries (log or recordIn) are written at the end of the change, and roll back with it', async () => {
    const n = async (action: string) => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE action = $1', [action]))[0].n);
    await audit.change(async (tx, log) => {
      log({ actor: 'system', action: 'test.logged' });
      await audit.recordIn(tx, { actor: 'system', action: 'test.deferred' });
      // Not yet written: the chain's lock is not taken while the change goes on writing.
      expect(Number((await tx.query<{ n: string }>("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'test.%ed'"))[0].n)).toBe(0);
    });
    expect([await n('test.logged'), await n('test.deferred')]).toEqual([1, 1]);
    await expect(
      audit.change(async (tx, log) => {
        log({ actor: 'system', action: 'test.rolled-back' });
        await tx.query('SELECT 1');
        throw new Error('the change fails');
      }),
    ).rejects.toThrow('the change fails');
    expect(await n('test.rolled-back')).toBe(0);
    expect((await audit.verify()).bad).toEqual([]);
  });

  it("lists one patient's entries newest first", async () => {
    const rows = await audit.forPatient('pat_1');
    expect(rows.map((r) => r.entity_id)).toEqual(['t9', 't7', 't5', 't3', 't1']);
  });
  it("stamps entries and the checkpoint with the app's Clock, and they verify", async () => {
    const at = Date.parse('2031-05-06T07:08:09.000Z');
    const clocked = createAuditService(db, { keys, anchorFile: path.join(dir, 'anchor.json'), clock: { now: () => at } });
    await clocked.record({ actor: 'system', action: 'test.clock', entityType: 'Thing', entityId: 'tc', patientId: 'pat_9' });
    await clocked.checkpoint();
    await clocked.flush();
    const [row] = await clocked.forPatient('pat_9');
    expect(new Date(row!.ts).toISOString()).toBe('2031-05-06T07:08:09.000Z');
    expect(JSON.parse(await readFile(path.join(dir, 'anchor.json'), 'utf8')).at).toBe('2031-05-06T07:08:09.000Z');
    const verified = await clocked.verify();
    expect(verified.bad).toEqual([]);
    expect(verified.anchor).toMatchObject({ at: '2031-05-06T07:08:09.000Z', ok: true });
  });
});
