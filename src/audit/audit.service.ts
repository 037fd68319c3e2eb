import { createHash } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import type { Principal } from '../domain/types.ts';

export interface AuditEntry {
  actor: Principal | 'cli' | 'system' | `device:${string}`;
  action: string;
  entityType?: string;
  entityId?: string | null;
  patientId?: string | null;
  outcome?: 'success' | 'failure';
  details?: Record<string, unknown>;
}

const GENESIS = '0'.repeat(64);
const AUDIT_LOCK_KEY = 7_441_002; // one writer at a time across instances keeps the chain linear

/**
 * Tamper-evident audit trail: each entry stores the hash of its predecessor, so any edit or deletion
 * breaks the chain from that point (`vigil audit verify`). Services record; routes never do.
 */
export function createAuditService(db: Db) {
  const actorName = (a: AuditEntry['actor']) => (typeof a === 'string' ? a : `user:${a.userId}`);

  return {
    async record(e: AuditEntry): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
        const [last] = await tx.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1');
        const prev = last?.hash ?? GENESIS;
        const ts = new Date().toISOString();
        const row = {
          ts,
          actor: actorName(e.actor),
          action: e.action,
          entity_type: e.entityType ?? null,
          entity_id: e.entityId ?? null,
          patient_id: e.patientId ?? null,
          outcome: e.outcome ?? 'success',
          details: e.details ?? null,
        };
        const hash = hashEntry(prev, row);
        await tx.query(
          `INSERT INTO audit_log (ts, actor, action, entity_type, entity_id, patient_id, outcome, details, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [row.ts, row.actor, row.action, row.entity_type, row.entity_id, row.patient_id, row.outcome, row.details ? JSON.stringify(row.details) : null, prev, hash],
        );
      });
    },

    /** Walks the chain; returns the first entry whose hash does not match, or null when intact. */
    async verify(): Promise<{ checked: number; firstBad: { id: string; reason: string } | null }> {
      const rows = await db.query<{
        id: string; ts: Date; actor: string; action: string; entity_type: string | null; entity_id: string | null;
        patient_id: string | null; outcome: string; details: Record<string, unknown> | null; prev_hash: string; hash: string;
      }>('SELECT * FROM audit_log ORDER BY id');
      let prev = GENESIS;
      for (const r of rows) {
        if (r.prev_hash !== prev) return { checked: rows.length, firstBad: { id: String(r.id), reason: 'previous-hash link broken (an entry was removed or reordered)' } };
        const expected = hashEntry(prev, {
          ts: new Date(r.ts).toISOString(), actor: r.actor, action: r.action, entity_type: r.entity_type, entity_id: r.entity_id,
          patient_id: r.patient_id, outcome: r.outcome, details: r.details,
        });
        if (expected !== r.hash) return { checked: rows.length, firstBad: { id: String(r.id), reason: 'content does not match its hash (the entry was edited)' } };
        prev = r.hash;
      }
      return { checked: rows.length, firstBad: null };
    },
  };
}

function hashEntry(prev: string, row: Record<string, unknown>): string {
  return createHash('sha256').update(prev + '\n' + canonicalJson(row)).digest('hex');
}

/** JSON with sorted keys, so the hash does not depend on how jsonb reorders them. */
function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson((v as Record<string, unknown>)[k])).join(',') + '}';
}

export type AuditService = ReturnType<typeof createAuditService>;
