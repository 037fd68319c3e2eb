/**
 * recordSoon (the extra entries beside a read, e.g. one per patient a FHIR search disclosed) rides with the
 * next group commit instead of an append of its own right after the read's batch (which doubled the appends per
 * search, bench:fhir), and is still written within SOON_MS (250 ms) when no other entry comes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { openPgliteWorker, type Db } from '../platform/db.ts';
import { migrate } from '../store/migrate.ts';
import { createAuditService, type AuditService } from './audit.service.ts';

let db: Db;
let audit: AuditService;
let appends = 0;
/** Appends wait for this (a batch held under way). */
let gate: Promise<void> = Promise.resolve();
const key = randomBytes(32);
const keys = { current: key, all: [key] };

beforeAll(async () => {
  db = await openPgliteWorker(null);
  await migrate(db);
});
afterAll(async () => db.close());
beforeEach(async () => {
  await audit?.flush();
  await db.exec('ALTER TABLE audit_log DISABLE TRIGGER USER; TRUNCATE audit_log RESTART IDENTITY; ALTER TABLE audit_log ENABLE TRIGGER USER');
  // The same database, counting audit_append statements (and holding them while `gate` is closed).
  const counting: Db = Object.assign(Object.create(db) as Db, {
    query: async (sql: string, params?: unknown[]) => {
      if (sql.includes('audit_append')) {
        appends++;
        await gate;
      }
      return db.query(sql, params);
    },
  });
  audit = createAuditService(counting, { keys });
  appends = 0;
});

const actions = async () => (await db.query<{ action: string }>('SELECT action FROM audit_log ORDER BY id')).map((r) => r.action);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('recordSoon', () => {
  it('rides with the next read instead of an append of its own after the batch under way', async () => {
    const read = audit.recordBatched({ actor: 'system', action: 'read' });
    audit.recordSoon({ actor: 'system', action: 'fhir.search', patientId: 'pat_1', details: { count: 3 } }); // the search returns
    await read;
    await sleep(20);
    expect(await actions()).toEqual(['read']);
    await audit.recordBatched({ actor: 'system', action: 'read' }); // the next request
    expect(await actions()).toEqual(['read', 'fhir.search', 'read']);
    expect(appends).toBe(2);
    expect((await audit.verify()).bad).toEqual([]);
  });

  it('is written within 250 ms when nothing else comes, and by flush()', async () => {
    audit.recordSoon({ actor: 'system', action: 'fhir.search', patientId: 'pat_1' });
    await expect.poll(actions, { timeout: 2000, interval: 20 }).toEqual(['fhir.search']);
    audit.recordSoon({ actor: 'system', action: 'fhir.read', patientId: 'pat_1' });
    await audit.flush();
    expect(await actions()).toEqual(['fhir.search', 'fhir.read']);
  });

  it('whose timer fires while a batch is being written goes right after that batch', async () => {
    let open = () => undefined as void;
    gate = new Promise((r) => (open = r));
    const read = audit.recordBatched({ actor: 'system', action: 'read' }); // held under way
    audit.recordSoon({ actor: 'system', action: 'fhir.search', patientId: 'pat_1' });
    await sleep(300); // its timer fires meanwhile
    open();
    gate = Promise.resolve();
    await read;
    await expect.poll(actions, { timeout: 200, interval: 10 }).toEqual(['read', 'fhir.search']); // not another 250 ms later
    expect((await audit.verify()).bad).toEqual([]);
  });
});
