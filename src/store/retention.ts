import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { Clock } from '../platform/clock.ts';
import type { AuditService } from '../audit/audit.service.ts';
import { dropReadingPartition, listReadingPartitions, maintainReadingPartitions } from './readings-partitions.ts';

const DAY_MS = 86_400_000;
const BATCH = 5_000; // rows per DELETE statement: bounded work per statement
/** Batches per transaction: a table's deletion is one transaction with its audit entry, up to this many rows. */
const BATCHES_PER_TXN = 40;

export interface RetentionPolicy {
  /**
   * (device, seq) de-duplication keys. A device (or a broker session) can re-send a message only for so
   * long: the external consumers' sessions expire after 7 days, so 14 days keeps every possible repeat.
   */
  dedupDays: number;
  /** Rejected payloads (the admin's "why was this refused" view). */
  rejectionsDays: number;
  /** Sent or finally failed notification jobs (the alert's own history stays on the alert). */
  notificationsDays: number;
  /** Expired sign-in sessions are useless; kept this long after expiry for investigation. */
  expiredSessionsDays: number;
  /** API tokens revoked or expired this long ago (they can never authenticate again; the audit log keeps their story). */
  deadTokensDays: number;
  /** Sign-in throttle counts (auth_throttle): a failure older than a day no longer counts (login-throttle.ts). */
  throttleDays: number;
  /**
   * Video-visit rejoin secrets (visit_rejoin) whose rejoin window ended this long ago: useless, and kept otherwise
   * until the visit's Encounter ends (a room that never had its patient never has one; found by review).
   */
  rejoinDays: number;
  /**
   * Readings (VIGIL_RETENTION_READINGS_MONTHS): kept at least this many calendar months, removed a whole
   * monthly partition at a time once all of it is older. Unset: kept (medical-records law often asks for
   * 10 years or more; the clinic decides).
   */
  readingsMonths?: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  dedupDays: 14,
  rejectionsDays: 30,
  notificationsDays: 90,
  expiredSessionsDays: 1,
  deadTokensDays: 30,
  throttleDays: 1,
  rejoinDays: 1,
};

/** `ms` moved back `months` calendar months (UTC), the day clamped to the target month's last day. */
export function monthsBefore(ms: number, months: number): number {
  const d = new Date(ms);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - months + 1, 0)).getUTCDate();
  return Date.UTC(
    d.getUTCFullYear(),
    d.getUTCMonth() - months,
    Math.min(d.getUTCDate(), lastDay),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
  );
}

/** Each pruned table: which rows are old, given the cut-off time as $1. */
const RULES: Array<{ table: string; key: Exclude<keyof RetentionPolicy, 'readingsMonths'>; where: string }> = [
  { table: 'ingested_messages', key: 'dedupDays', where: 'received_at < $1' },
  { table: 'rejected_payloads', key: 'rejectionsDays', where: 'received_at < $1' },
  { table: 'notification_jobs', key: 'notificationsDays', where: `status IN ('sent', 'failed') AND created_at < $1` },
  { table: 'sessions', key: 'expiredSessionsDays', where: 'expires_at < $1' },
  { table: 'api_tokens', key: 'deadTokensDays', where: '(revoked_at < $1 OR expires_at < $1)' },
  { table: 'auth_throttle', key: 'throttleDays', where: 'last_at < $1 AND (busy_until IS NULL OR busy_until < $1)' },
  { table: 'visit_rejoin', key: 'rejoinDays', where: 'until < $1' },
];

/**
 * Deletes what has outlived its use, in small batches (`ctid` of at most BATCH rows per statement), so the
 * operational tables stop growing with every message. Idempotent: several instances may sweep at once.
 * ONC §170.315(d)(2): each table's deletion is one transaction with one `retention.delete` audit entry (table,
 * rows deleted, cut-off, policy days), written only when rows were deleted; a table with more than
 * BATCH × BATCHES_PER_TXN old rows takes several transactions, each with its entry. If the entry cannot be written
 * the deletion is rolled back (and the sweep stops; the next one retries).
 */
export function createRetention(deps: { db: Db; audit: AuditService; clock: Clock; logger: Logger; policy?: Partial<RetentionPolicy> }) {
  const policy = { ...DEFAULT_RETENTION, ...deps.policy };
  const log = deps.logger.child({ module: 'retention' });
  let timer: NodeJS.Timeout | null = null;
  let first: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;

  /** Deletes the rows of `table` matching `where` ($1: the cut-off), in audited transactions of bounded size. */
  async function deleteInBatches(table: string, where: string, cutoff: string, details: Record<string, unknown>): Promise<number> {
    let total = 0;
    for (let more = true; more;) {
      total += await deps.audit.change(async (tx, audit) => {
        let inTxn = 0;
        for (let i = 0; i < BATCHES_PER_TXN; i++) {
          const rows = await tx.query<{ n: string }>(
            `WITH gone AS (DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${where} LIMIT ${BATCH})) RETURNING 1)
             SELECT count(*) AS n FROM gone`,
            [cutoff],
          );
          const n = Number(rows[0]?.n ?? 0);
          inTxn += n;
          more = n === BATCH;
          if (!more) break;
        }
        if (inTxn > 0)
          audit({ actor: 'system', action: 'retention.delete', entityType: 'Table', entityId: table, details: { table, deleted: inTxn, cutoff, ...details } });
        return inTxn;
      });
    }
    return total;
  }

  /**
   * Readings: whole monthly partitions older than the retention are dropped, each in one transaction with its
   * `retention.delete` entry (partition, rows, cut-off, months). The partition kept from before partitioning
   * (`readings_legacy`, everything before the upgrade) loses its old rows in batches until all of it is past.
   */
  async function pruneReadings(now: number): Promise<Record<string, number>> {
    const months = policy.readingsMonths;
    if (!months) return {};
    const cutoffMs = monthsBefore(now, months);
    const cutoff = new Date(cutoffMs).toISOString();
    const deleted: Record<string, number> = {};
    for (const part of await listReadingPartitions(deps.db)) {
      if (part.isDefault) continue;
      if (part.to !== null && part.to <= cutoffMs) {
        const n = await deps.audit.change(async (tx, audit) => {
          const n = await dropReadingPartition(tx, part.name);
          if (n === null) return null;
          audit({
            actor: 'system',
            action: 'retention.delete',
            entityType: 'Table',
            entityId: part.name,
            details: { table: 'readings', partition: part.name, deleted: n, dropped: true, cutoff, months },
          });
          return n;
        });
        if (n !== null) deleted[part.name] = n;
      } else if (part.name === 'readings_legacy') {
        const n = await deleteInBatches(part.name, 'ts < $1', cutoff, { months });
        if (n > 0) deleted[part.name] = n;
      }
    }
    return deleted;
  }

  async function sweep(): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {};
    for (const rule of RULES) {
      const cutoff = new Date(deps.clock.now() - policy[rule.key] * DAY_MS).toISOString();
      deleted[rule.table] = await deleteInBatches(rule.table, rule.where, cutoff, { days: policy[rule.key] });
    }
    // Readings' partitions: months ahead created, DEFAULT emptied into its months, then old months dropped.
    const now = deps.clock.now();
    try {
      const made = await maintainReadingPartitions(deps.db, now);
      if (made.created.length) log.info(made, 'readings partitions created');
    } catch (err) {
      log.warn({ err }, 'readings partition maintenance failed (rows of a missing month wait in DEFAULT; next sweep retries)');
    }
    Object.assign(deleted, await pruneReadings(now));
    if (Object.values(deleted).some((n) => n > 0)) log.info({ deleted }, 'retention sweep');
    return deleted;
  }

  return {
    policy,
    sweep,
    start(everyMs = 3_600_000) {
      const run = () => {
        if (running) return;
        running = sweep()
          .catch((err) => log.warn({ err }, 'retention sweep failed'))
          .finally(() => (running = null));
      };
      timer = setInterval(run, everyMs);
      timer.unref();
      first = setTimeout(run, 30_000); // not during start-up, but soon after
      first.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      if (first) clearTimeout(first);
      await running;
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
