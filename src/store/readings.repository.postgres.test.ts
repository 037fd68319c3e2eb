/**
 * The PostgreSQL bulk path (COPY into `readings`, ids from the id sequence (the column default) as rows are copied): every
 * reading comes back with the id of its own row, also when concurrent transactions take ids from the same
 * sequence in between (then the ids are not one contiguous range and are looked up by transaction), and a
 * row PostgreSQL refuses fails the whole COPY with its SQLSTATE (the batch writer isolates it by that).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Db } from '../platform/db.ts';
import { migrate } from './migrate.ts';
import { createReadingsRepository, type NewReading } from './readings.repository.ts';
import { createTestDatabase, postgresAvailable, skipNote } from '../../test/support/services.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (COPY path of readings)');

const batch = (device: string, n: number, t0: number): NewReading[] =>
  Array.from({ length: n }, (_, i) => ({
    patientId: 'pat_copy',
    deviceId: device,
    code: i % 2 ? '8867-4' : '59408-5',
    value: i + 0.5,
    unit: i % 2 ? '/min' : '%',
    ts: t0 + i,
    seq: i,
    commandId: i === 3 ? 'cmd "quoted", with comma' : null,
    method: i === 5 ? { name: 'x,"y"', version: '1' } : null,
  }));

describe.skipIf(!hasPg)('readings COPY path on PostgreSQL', () => {
  let db: Db;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    db = await openPostgres(t.url);
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('gives each reading the id of its own row, also when concurrent transactions interleave their ids', async () => {
    const repo = createReadingsRepository(db);
    const t0 = Date.parse('2026-11-30T10:00:00Z');
    // Four transactions copying at once draw from one sequence: their ids interleave.
    const batches = ['dev_a', 'dev_b', 'dev_c', 'dev_d'].map((d) => batch(d, 20_000, t0));
    const stored = await Promise.all(batches.map((rows) => db.transaction((tx) => repo.insertBatch(tx, rows))));
    const all = stored.flat();
    expect(new Set(all.map((r) => r.id)).size).toBe(80_000);
    const back = new Map((await repo.byIds(all.map((r) => r.id))).map((r) => [r.id, r]));
    for (const r of all) {
      const row = back.get(r.id)!;
      expect([row.deviceId, row.seq, row.value, row.code, row.unit, row.ts, row.commandId]).toEqual([
        r.deviceId,
        r.seq,
        r.value,
        r.code,
        r.unit,
        r.ts,
        r.commandId,
      ]);
    }
    expect(back.get(stored[0][5].id)!.method).toEqual({ name: 'x,"y"', version: '1' });
    expect(back.get(stored[0][3].id)!.commandId).toBe('cmd "quoted", with comma');
    // Ascending in row order within each batch (announcements and id-ordered reads rely on it).
    for (const s of stored) expect(s.every((r, i) => i === 0 || BigInt(r.id) > BigInt(s[i - 1].id))).toBe(true);
  });

  it('refuses a row PostgreSQL cannot hold with its SQLSTATE, and stores nothing of that batch', async () => {
    const repo = createReadingsRepository(db);
    const rows = batch('dev_bad', 10, Date.parse('2026-11-30T11:00:00Z'));
    rows[4] = { ...rows[4], unit: 'bad\u0000unit' };
    const err = await db.transaction((tx) => repo.insertBatch(tx, rows)).catch((e: unknown) => e as { code?: string });
    expect(err).toMatchObject({ code: expect.stringMatching(/^22/) });
    const [{ n }] = await db.query<{ n: string }>("SELECT count(*) AS n FROM readings WHERE device_id = 'dev_bad'");
    expect(Number(n)).toBe(0);
    // The pool's connection is usable afterwards.
    expect(await db.transaction((tx) => repo.insertBatch(tx, rows.slice(0, 4)))).toHaveLength(4);
  });
});
