/**
 * Per-patient ownership on a real PostgreSQL: one owner per bucket, fair shares, and takeover when the
 * owner's session ends (closed, or killed by the server as after a crash).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Db } from '../platform/db.ts';
import { createLogger } from '../platform/logger.ts';
import { bucketOf, createLeaseOwnership, soleOwnership, type OwnershipChange } from './ownership.ts';
import { createTestDatabase, postgresAvailable, skipNote } from '../../test/support/services.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (ownership leases)');
const logger = createLogger('silent');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('bucketOf', () => {
  it('is stable and spreads ids over the buckets', () => {
    expect(bucketOf('pat_abc')).toBe(bucketOf('pat_abc'));
    const seen = new Set(Array.from({ length: 2000 }, (_, i) => bucketOf(`pat_${i}`, 16)));
    expect(seen.size).toBe(16);
  });
  it('a single instance owns everything', async () => {
    expect(await soleOwnership('x').owns('anyone')).toBe(true);
  });
});

describe.skipIf(!hasPg)('advisory-lock ownership on PostgreSQL', () => {
  let db: Db;
  let url: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const t = await createTestDatabase();
    drop = t.drop;
    url = t.url;
    db = await openPostgres(t.url);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('one owner per patient; the other takes over when the owner closes', async () => {
    const a = await createLeaseOwnership({ db, instanceId: 'a', logger, retryMs: 50 });
    const b = await createLeaseOwnership({ db, instanceId: 'b', logger, retryMs: 50 });
    const changesB: OwnershipChange[] = [];
    b.onChange((c) => changesB.push(c));
    expect(await a.owns('pat_1')).toBe(true);
    expect(await b.owns('pat_1')).toBe(false);
    expect(await a.owns('pat_1')).toBe(true);
    // Asked again within the retry window: answered from memory, no claim.
    expect(await b.owns('pat_1')).toBe(false);
    await a.close();
    await new Promise((r) => setTimeout(r, 60));
    expect(await b.owns('pat_1')).toBe(true);
    expect(changesB).toEqual([{ bucket: bucketOf('pat_1'), owned: true }]);
    await b.close();
  });

  it('a session killed by the server (a crashed instance) frees its patients, and the loser knows at once', async () => {
    const a = await createLeaseOwnership({ db, instanceId: 'crash-a', logger, retryMs: 50 });
    const b = await createLeaseOwnership({ db, instanceId: 'crash-b', logger, retryMs: 50 });
    const lost: OwnershipChange[] = [];
    a.onChange((c) => !c.owned && lost.push(c));
    expect(await a.owns('pat_2')).toBe(true);
    await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vigil-owner-crash-a'`);
    for (let i = 0; i < 50 && lost.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(lost).toEqual([{ bucket: bucketOf('pat_2'), owned: false }]);
    expect(a.ownsNow('pat_2')).toBe(false);
    await new Promise((r) => setTimeout(r, 60));
    expect(await b.owns('pat_2')).toBe(true);
    // A reconnects and, asked again, finds the patient held by B.
    for (let i = 0; i < 100 && !a.stats().connected; i++) await new Promise((r) => setTimeout(r, 20));
    expect(a.stats().connected).toBe(true);
    expect(await a.owns('pat_2')).toBe(false);
    await a.close();
    await b.close();
  });

  it('a frozen instance (SIGSTOP: its connection stays open, it says nothing) loses its patients to a live one', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/ownership-holder.ts')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url, PATIENT: 'pat_frozen', FROZEN_AFTER_MS: '1500' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      for (let i = 0; i < 300 && !out.includes('owned'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('owned');
      const b = await createLeaseOwnership({ db, instanceId: 'frozen-b', logger, retryMs: 0 });
      expect(await b.owns('pat_frozen')).toBe(false);
      child.kill('SIGSTOP');
      const stoppedAt = performance.now();
      let took = -1;
      while (performance.now() - stoppedAt < 15_000) {
        if (await b.owns('pat_frozen')) {
          took = performance.now() - stoppedAt;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      // PostgreSQL ended the silent session after its idle_session_timeout; without it, never (the socket is open).
      expect(took).toBeGreaterThan(0);
      expect(took).toBeLessThan(10_000);
      await b.close();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('each instance claims at most its fair share, so patients spread over instances', async () => {
    const a = await createLeaseOwnership({ db, instanceId: 'share-a', logger, buckets: 8, retryMs: 0 });
    const b = await createLeaseOwnership({ db, instanceId: 'share-b', logger, buckets: 8, retryMs: 0 });
    // A counted its peers before B connected; the next check (every 2 s) sees both.
    for (let i = 0; i < 60 && a.stats().peers < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const ids = Array.from({ length: 200 }, (_, i) => `p${i}`);
    for (const id of ids) await a.owns(id);
    expect(a.stats().owned).toBe(4);
    for (const id of ids) await b.owns(id);
    expect(b.stats().owned).toBe(4);
    // Every patient has exactly one owner.
    for (const id of ids) expect(Number(a.ownsNow(id)) + Number(b.ownsNow(id))).toBe(1);
    await a.close();
    await b.close();
  });
  it('an instance that joins gets its share: the one that held every bucket hands back the excess, and only that', async () => {
    const a = await createLeaseOwnership({ db, instanceId: 'join-a', logger, buckets: 8, retryMs: 0 });
    const ids = Array.from({ length: 200 }, (_, i) => `j${i}`);
    for (const id of ids) await a.owns(id);
    expect(a.stats().owned).toBe(8); // alone: everything
    const lost: number[] = [];
    a.onChange((c) => !c.owned && lost.push(c.bucket));
    const b = await createLeaseOwnership({ db, instanceId: 'join-b', logger, buckets: 8, retryMs: 0 });
    // B is still starting (monitoring not up): handed nothing, else its patients would have no evaluating owner.
    await new Promise((r) => setTimeout(r, 4_500)); // two of A's checks (every 2 s)
    expect([a.stats().peers, a.stats().owned, lost.length]).toEqual([2, 8, 0]);
    await b.ready();
    // A's next check sees B ready and holding nothing, and hands back four; before, A kept all eight for good.
    for (let i = 0; i < 60 && a.stats().owned > 4; i++) await new Promise((r) => setTimeout(r, 100));
    expect(a.stats().owned).toBe(4);
    expect(lost).toHaveLength(4);
    for (const id of ids) await a.owns(id); // A does not take them straight back
    expect(a.stats().owned).toBe(4);
    for (const id of ids) await b.owns(id);
    expect(b.stats().owned).toBe(4);
    for (const id of ids) expect(Number(a.ownsNow(id)) + Number(b.ownsNow(id))).toBe(1);
    // Balanced: nothing more moves.
    await new Promise((r) => setTimeout(r, 2_500));
    expect([a.stats().owned, b.stats().owned, lost.length]).toEqual([4, 4, 4]);
    await a.close();
    await b.close();
  }, 30_000);
  it('keeps its buckets when its own event loop, not the session, was late: an answer that came in time counts', async () => {
    const a = await createLeaseOwnership({ db, instanceId: 'busy-a', logger, retryMs: 0 });
    const changes: OwnershipChange[] = [];
    a.onChange((c) => changes.push(c));
    expect(await a.owns('pat_busy')).toBe(true);
    const busy = (ms: number) => {
      for (const end = performance.now() + ms; performance.now() < end;);
    };
    // The ping (every 2 s) falls due while the loop is busy, goes out first thing after, and then the loop is
    // busy again for longer than the ping's timeout (3 s) while the database answers at once.
    busy(2_100);
    await new Promise<void>((resolve) => setTimeout(() => resolve(busy(3_500)), 0));
    await new Promise((r) => setTimeout(r, 300));
    expect(changes).toEqual([{ bucket: a.bucketOf('pat_busy'), owned: true }]);
    expect(a.ownsNow('pat_busy')).toBe(true);
    await a.close();
  }, 20_000);
});
