import type { Db, Queryable } from '../platform/db.ts';

export type JobChannel = 'email' | 'webhook' | 'webpush';

export interface NewJob {
  idempotencyKey: string;
  alertId: string;
  userId: string | null;
  channel: JobChannel;
  /** Email address, webhook URL or push endpoint. */
  target: string;
  payload: Record<string, unknown>;
}

export interface Job extends NewJob {
  id: string;
  attempts: number;
}

type Row = {
  id: string;
  idempotency_key: string;
  alert_id: string;
  user_id: string | null;
  channel: JobChannel;
  target: string;
  payload: Record<string, unknown>;
  attempts: number;
};
const iso = (ms: number) => new Date(ms).toISOString();

/** SQL for the notifications outbox (durable job table), and nothing else. */
export function createNotificationsRepository(db: Db) {
  return {
    /** Enqueues in the caller's transaction; an idempotency key already queued adds nothing. */
    async enqueue(tx: Queryable, jobs: NewJob[], now: number): Promise<void> {
      for (const j of jobs) {
        await tx.query(
          `INSERT INTO notification_jobs (idempotency_key, alert_id, user_id, channel, target, payload, next_attempt_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING`,
          [j.idempotencyKey, j.alertId, j.userId, j.channel, j.target, JSON.stringify(j.payload), iso(now)],
        );
      }
    },
    /**
     * Claims due jobs: pending ones whose time has come, and 'sending' ones whose lease ran out (the
     * instance that claimed them died). SKIP LOCKED lets concurrent workers take disjoint rows.
     */
    async claim(now: number, leaseMs: number, limit: number): Promise<Job[]> {
      const rows = await db.query<Row>(
        `UPDATE notification_jobs SET status = 'sending', lease_until = $2, attempts = attempts + 1
         WHERE id IN (SELECT id FROM notification_jobs
                      WHERE (status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND lease_until < $1)
                      ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id, idempotency_key, alert_id, user_id, channel, target, payload, attempts`,
        [iso(now), iso(now + leaseMs), limit],
      );
      return rows.map((r) => ({
        id: String(r.id),
        idempotencyKey: r.idempotency_key,
        alertId: r.alert_id,
        userId: r.user_id,
        channel: r.channel,
        target: r.target,
        payload: r.payload,
        attempts: Number(r.attempts),
      }));
    },
    async markSent(id: string, now: number): Promise<void> {
      await db.query(`UPDATE notification_jobs SET status = 'sent', sent_at = $2, lease_until = NULL, last_error = NULL WHERE id = $1`, [id, iso(now)]);
    },
    async markRetry(id: string, error: string, nextAttemptAt: number): Promise<void> {
      await db.query(`UPDATE notification_jobs SET status = 'pending', next_attempt_at = $2, lease_until = NULL, last_error = $3 WHERE id = $1`, [
        id,
        iso(nextAttemptAt),
        error.slice(0, 500),
      ]);
    },
    async markFailed(id: string, error: string): Promise<void> {
      await db.query(`UPDATE notification_jobs SET status = 'failed', lease_until = NULL, last_error = $2 WHERE id = $1`, [id, error.slice(0, 500)]);
    },
    async counts(): Promise<Record<string, number>> {
      const rows = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM notification_jobs GROUP BY status');
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    },
  };
}

export type NotificationsRepository = ReturnType<typeof createNotificationsRepository>;
