import type { Db, Queryable } from '../platform/db.ts';

/**
 * The monthly partitions of `readings` (migrations 024–025): listing them, creating them ahead, emptying the
 * DEFAULT partition into its months, and dropping whole months. SQL and nothing else; the retention sweep
 * (retention.ts) schedules it and audits the drops.
 *
 * Every partition covers whole UTC months, except the two made at an upgrade: `readings_legacy` (the old
 * table, everything before the cut-over instant) and the cut-over month's partition (the rest of that month).
 * Together they cover whole months too, so a month is always either fully covered or not at all.
 */

export interface ReadingPartition {
  name: string;
  /** Range bounds in ms; null: MINVALUE (the legacy partition) or the DEFAULT partition. */
  from: number | null;
  to: number | null;
  isDefault: boolean;
}

/**
 * Months kept ahead of the current one, so a reading of a new month always has its partition, and behind it
 * (the previous month: late arrivals, devices uploading yesterday's memory on the 1st).
 */
export const MONTHS_AHEAD = 2;
export const MONTHS_BEHIND = 1;
// Shared with nothing else: serialises two instances creating the same month.
const PARTITION_LOCK_KEY = 7_441_024;
// A partition change waits at most this long for running queries, then the next sweep retries (it must
// not queue every reader behind it).
const LOCK_TIMEOUT = '10s';
const COLUMNS = 'id, patient_id, device_id, system, code, value, unit, ts, seq, command_id, method, received_at, imported';

/** First instant (UTC) of the month of `ms`, shifted by `add` months. */
export function monthStart(ms: number, add = 0): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1);
}

/** readings_y2026m12 */
export function partitionName(monthMs: number): string {
  const d = new Date(monthMs);
  return `readings_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function listReadingPartitions(q: Queryable): Promise<ReadingPartition[]> {
  // Bounds are printed in the session's TimeZone and cast back in the same session: no parsing in JS.
  const rows = await q.query<{ name: string; bound: string; lo: number | null; hi: number | null }>(
    `SELECT c.relname AS name, b.bound,
            extract(epoch FROM substring(b.bound FROM $re$FROM \\('([^']+)'\\)$re$)::timestamptz) * 1000 AS lo,
            extract(epoch FROM substring(b.bound FROM $re$TO \\('([^']+)'\\)$re$)::timestamptz) * 1000 AS hi
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
     WHERE i.inhparent = 'readings'::regclass
     ORDER BY lo NULLS FIRST`,
  );
  return rows.map((r) => ({
    name: r.name,
    from: r.lo === null ? null : Number(r.lo),
    to: r.hi === null ? null : Number(r.hi),
    isDefault: r.bound === 'DEFAULT',
  }));
}

/**
 * Creates the partitions of the previous month, this month and the next MONTHS_AHEAD, and a partition for every month that has
 * rows in the DEFAULT partition (a backfill of last year, a clock far off), moving those rows into it with
 * their ids. Each month is one transaction under an advisory lock, so several instances may run it at once.
 * Returns what it did.
 */
export async function maintainReadingPartitions(db: Db, now: number): Promise<{ created: string[]; moved: number }> {
  const months = new Set<number>();
  for (let i = -MONTHS_BEHIND; i <= MONTHS_AHEAD; i++) months.add(monthStart(now, i));
  const strays = await db.query<{ m: number }>(`SELECT DISTINCT extract(epoch FROM date_trunc('month', ts, 'UTC')) * 1000 AS m FROM readings_default`);
  for (const s of strays) months.add(Number(s.m));
  return createMonths(db, months);
}

/**
 * Creates the partitions of the months of `timestamps` (ms) that have none: before an import of history, so
 * its rows go straight into their months instead of into DEFAULT, to be moved there later (written twice, and
 * the move holds DEFAULT while it runs). Returns the months it created, oldest first.
 */
export async function ensureReadingMonths(db: Db, timestamps: Iterable<number>): Promise<string[]> {
  const months = new Set<number>();
  for (const ts of timestamps) months.add(monthStart(ts));
  return (await createMonths(db, months)).created;
}

/** The partitions of these months (month starts, ms) that no partition covers, each moving its DEFAULT rows in. */
async function createMonths(db: Db, months: Set<number>): Promise<{ created: string[]; moved: number }> {
  const covered = (await listReadingPartitions(db)).filter((p) => !p.isDefault);
  const created: string[] = [];
  let moved = 0;
  for (const from of [...months].sort((a, b) => a - b)) {
    const to = monthStart(from, 1);
    if (covered.some((p) => (p.from ?? -Infinity) < to && (p.to ?? Infinity) > from)) continue;
    const name = partitionName(from);
    await db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock($2)`, [LOCK_TIMEOUT, PARTITION_LOCK_KEY]);
      const [{ exists }] = await tx.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [name]);
      if (exists) return;
      // Created alone and then attached: ATTACH locks the parent only against other schema changes (PostgreSQL
      // 12+), not against reads and inserts; it scans the DEFAULT partition, which is small.
      await tx.query(`CREATE TABLE ${name} (LIKE readings)`);
      const rows = await tx.query<{ n: string }>(
        `WITH gone AS (DELETE FROM readings_default WHERE ts >= $1 AND ts < $2 RETURNING ${COLUMNS}),
              kept AS (INSERT INTO ${name} (${COLUMNS}) SELECT ${COLUMNS} FROM gone RETURNING 1)
         SELECT count(*) AS n FROM kept`,
        [iso(from), iso(to)],
      );
      await tx.query(`ALTER TABLE readings ATTACH PARTITION ${name} FOR VALUES FROM ('${iso(from)}') TO ('${iso(to)}')`);
      moved += Number(rows[0].n);
      created.push(name);
    });
  }
  return { created, moved };
}

/**
 * Drops one partition in the caller's transaction; returns how many readings it held, or null when another
 * instance dropped it first.
 */
export async function dropReadingPartition(tx: Queryable, name: string): Promise<number | null> {
  if (!/^readings_(y\d{4}m\d{2}|legacy)$/.test(name)) throw new Error(`not a readings partition: ${name}`);
  await tx.query(`SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock($2)`, [LOCK_TIMEOUT, PARTITION_LOCK_KEY]);
  const [{ exists }] = await tx.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [name]);
  if (!exists) return null;
  const [{ n }] = await tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${name}`);
  await tx.query(`DROP TABLE ${name}`);
  return Number(n);
}
