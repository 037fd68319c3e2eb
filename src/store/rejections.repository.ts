import type { Db } from '../platform/db.ts';

export interface RejectedPayload {
  id: string;
  deviceId: string | null;
  topic: string;
  reason: string;
  excerpt: string | null;
  receivedAt: number;
}

const EXCERPT_CHARS = 300; // enough to see what was wrong, not a place to store PHI in bulk
const REASON_CHARS = 2_000;

/** What a rejection keeps must itself be storable: PostgreSQL text refuses U+0000, so it is shown as \0. */
const storable = (s: string, max: number) => s.slice(0, max).replaceAll('\u0000', '\\0');

export function createRejectionsRepository(db: Db) {
  return {
    async insert(r: { deviceId: string | null; topic: string; reason: string; payload: string; at: number }) {
      await db.query('INSERT INTO rejected_payloads (device_id, topic, reason, excerpt, received_at) VALUES ($1, $2, $3, $4, $5)', [
        r.deviceId,
        storable(r.topic, 300),
        storable(r.reason, REASON_CHARS),
        storable(r.payload, EXCERPT_CHARS),
        new Date(r.at).toISOString(),
      ]);
    },
    async recent(limit: number, deviceId?: string): Promise<RejectedPayload[]> {
      const rows = await db.query<{ id: string; device_id: string | null; topic: string; reason: string; excerpt: string | null; received_at: Date }>(
        `SELECT * FROM rejected_payloads WHERE ($2::text IS NULL OR device_id = $2) ORDER BY received_at DESC, id DESC LIMIT $1`,
        [limit, deviceId ?? null],
      );
      return rows.map((r) => ({
        id: String(r.id),
        deviceId: r.device_id,
        topic: r.topic,
        reason: r.reason,
        excerpt: r.excerpt,
        receivedAt: new Date(r.received_at).getTime(),
      }));
    },
  };
}

export type RejectionsRepository = ReturnType<typeof createRejectionsRepository>;
