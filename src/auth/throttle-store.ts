import { createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../platform/db.ts';

/** A key's failures and when the last one happened (ms). */
export interface ThrottleCount {
  failures: number;
  last: number;
}

/**
 * Where the sign-in throttle (login-throttle.ts) keeps its counts and its "attempt being checked" claims. In the
 * database, so that every instance behind a load balancer counts the same failures and one attempt runs at a time
 * whichever instance receives it (before: in memory, per instance, so N instances allowed N times the guesses; and
 * a spray of 200,000 random emails cleared everyone's counts).
 */
export interface ThrottleStore {
  read(keys: readonly string[]): Promise<Map<string, ThrottleCount>>;
  /** One more failure for each key at `at`; a count whose last failure is older than `windowMs` starts again. */
  fail(keys: readonly string[], at: number, windowMs: number): Promise<void>;
  clear(keys: readonly string[]): Promise<void>;
  /**
   * Gives back the count `countUnlessWaiting` took at `at` (an attempt counted before it ran that was no failure):
   * one failure fewer per key, and the time of the last failure as it was `before`, unless a failure came since
   * (found by review: a success left the backoff restarted, so the next valid request waited).
   */
  refund(keys: readonly string[], at: number, before: Map<string, ThrottleCount>): Promise<void>;
  /**
   * Atomically: reads the keys' counts, asks `waitFor` how long this request must still wait, and counts it as one more
   * unless it must wait. For throttles where every request counts (reset emails): a read then a separate write let
   * requests sent in parallel all read the counts before any was written (found by review: 50 reset emails at once).
   */
  countUnlessWaiting(
    keys: readonly string[],
    at: number,
    windowMs: number,
    waitFor: (counts: Map<string, ThrottleCount>) => number,
  ): Promise<{ wait: number; before: Map<string, ThrottleCount> }>;
  /**
   * Claims `key` until `at + leaseMs` unless someone holds it now (the lease ends a claim whose holder died): the
   * claim's token, or null. Only the token's holder releases it.
   */
  claim(key: string, at: number, leaseMs: number): Promise<string | null>;
  release(key: string, token: string): Promise<void>;
}

const iso = (ms: number) => new Date(ms).toISOString();
const ms = (v: unknown) => (v instanceof Date ? v.getTime() : Date.parse(String(v)));

/**
 * Table `auth_throttle` (migration 041). Keys are stored as an HMAC under a key kept outside the database, so the
 * table names no email or client address (they are personal data; the table only needs to tell keys apart).
 * Keys are written in sorted order, so two instances upserting the same keys cannot deadlock.
 */
export function dbThrottleStore(db: Db, secret: Buffer): ThrottleStore {
  const hmacKey = createHmac('sha256', secret).update('vigil-sign-in-throttle').digest();
  const hash = (key: string) => createHmac('sha256', hmacKey).update(key).digest('base64url').slice(0, 32);
  const hashed = (keys: readonly string[]) => {
    const byHash = new Map(keys.map((k) => [hash(k), k]));
    return { byHash, sorted: [...byHash.keys()].sort() };
  };
  type Row = { key: string; failures: number; last_at: unknown };
  /** Rows with failures, by the caller's keys. */
  const countsOf = (rows: Row[], byHash: Map<string, string>) =>
    new Map(rows.filter((r) => Number(r.failures) > 0).map((r) => [byHash.get(r.key)!, { failures: Number(r.failures), last: ms(r.last_at) }]));
  /** One more failure per key ($1 sorted hashes, $2 now, $3 the window's start: an older count starts again). */
  const LOCK_SORTED = 'SELECT 1 FROM auth_throttle WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE';
  const FAIL = `INSERT INTO auth_throttle AS t (key, failures, last_at) SELECT k, 1, $2 FROM unnest($1::text[]) AS k
     ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN t.last_at < $3 THEN 1 ELSE t.failures + 1 END, last_at = $2`;
  return {
    async read(keys) {
      const { byHash, sorted } = hashed(keys);
      return countsOf(await db.query<Row>('SELECT key, failures, last_at FROM auth_throttle WHERE key = ANY($1::text[]) AND failures > 0', [sorted]), byHash);
    },
    async fail(keys, at, windowMs) {
      await db.query(FAIL, [hashed(keys).sorted, iso(at), iso(at - windowMs)]);
    },
    async clear(keys) {
      // Counts to zero, not the row: the pair's row also holds the claim of the attempt now succeeding. Rows locked in
      // key order first, as countUnlessWaiting locks them (an UPDATE … ANY locks in scan order: two could deadlock).
      const { sorted } = hashed(keys);
      await db.transaction(async (tx) => {
        await tx.query(LOCK_SORTED, [sorted]);
        await tx.query('UPDATE auth_throttle SET failures = 0 WHERE key = ANY($1::text[])', [sorted]);
      });
    },
    async refund(keys, at, before) {
      const { byHash, sorted } = hashed(keys);
      const previous = sorted.map((h) => {
        const c = before.get(byHash.get(h)!);
        return c ? iso(c.last) : null;
      });
      await db.transaction(async (tx) => {
        await tx.query(LOCK_SORTED, [sorted]);
        await tx.query(
          `UPDATE auth_throttle t SET failures = GREATEST(t.failures - 1, 0),
                  last_at = CASE WHEN t.last_at = $2 AND v.previous IS NOT NULL THEN v.previous ELSE t.last_at END
             FROM unnest($1::text[], $3::timestamptz[]) AS v(key, previous)
            WHERE t.key = v.key AND t.failures > 0`,
          [sorted, iso(at), previous],
        );
      });
    },
    async countUnlessWaiting(keys, at, windowMs, waitFor) {
      const { byHash, sorted } = hashed(keys);
      return db.transaction(async (tx) => {
        // The rows exist first, so that FOR UPDATE has something to lock: two first requests queue on them too.
        await tx.query('INSERT INTO auth_throttle (key, failures, last_at) SELECT k, 0, $2 FROM unnest($1::text[]) AS k ON CONFLICT (key) DO NOTHING', [
          sorted,
          iso(at),
        ]);
        const rows = await tx.query<Row>('SELECT key, failures, last_at FROM auth_throttle WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE', [sorted]);
        const before = countsOf(rows, byHash);
        const wait = waitFor(before);
        if (wait === 0) await tx.query(FAIL, [sorted, iso(at), iso(at - windowMs)]);
        return { wait, before };
      });
    },
    async claim(key, at, leaseMs) {
      const token = randomBytes(12).toString('base64url');
      const rows = await db.query(
        `INSERT INTO auth_throttle AS t (key, failures, last_at, busy_until, claim_token) VALUES ($1, 0, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET busy_until = $3, claim_token = $4 WHERE t.busy_until IS NULL OR t.busy_until <= $2
         RETURNING 1`,
        [hash(key), iso(at), iso(at + leaseMs), token],
      );
      return rows.length === 1 ? token : null;
    },
    async release(key, token) {
      await db.query('UPDATE auth_throttle SET busy_until = NULL, claim_token = NULL WHERE key = $1 AND claim_token = $2', [hash(key), token]);
    },
  };
}

/** The same in memory: for unit tests of the backoff rules. */
export function memoryThrottleStore(): ThrottleStore {
  const counts = new Map<string, ThrottleCount>();
  const busy = new Map<string, { until: number; token: string }>();
  const read = (keys: readonly string[]) => new Map(keys.flatMap((k) => (counts.get(k)?.failures ? [[k, { ...counts.get(k)! }] as const] : [])));
  const fail = (keys: readonly string[], at: number, windowMs: number) => {
    for (const k of keys) {
      const c = counts.get(k);
      counts.set(k, { failures: c && c.last >= at - windowMs ? c.failures + 1 : 1, last: at });
    }
  };
  return {
    read: async (keys) => read(keys),
    fail: async (keys, at, windowMs) => fail(keys, at, windowMs),
    async clear(keys) {
      for (const k of keys) counts.delete(k);
    },
    async refund(keys, at, before) {
      for (const k of keys) {
        const c = counts.get(k);
        const was = before.get(k);
        if (c) counts.set(k, { failures: Math.max(0, c.failures - 1), last: c.last === at && was ? was.last : c.last });
      }
    },
    // Atomic as it is: nothing awaits between the read and the count.
    async countUnlessWaiting(keys, at, windowMs, waitFor) {
      const before = read(keys);
      const wait = waitFor(before);
      if (wait === 0) fail(keys, at, windowMs);
      return { wait, before };
    },
    async claim(key, at, leaseMs) {
      if ((busy.get(key)?.until ?? -Infinity) > at) return null;
      const token = randomBytes(12).toString('base64url');
      busy.set(key, { until: at + leaseMs, token });
      return token;
    },
    async release(key, token) {
      if (busy.get(key)?.token === token) busy.delete(key);
    },
  };
}
