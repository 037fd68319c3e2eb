import type { Db, Queryable } from '../platform/db.ts';
import type { Severity } from './rule-schema.ts';
import type { StoredReading } from '../domain/types.ts';

export type AlertStatus = 'open' | 'acknowledged' | 'resolved';

/** An alert as the API returns it (interfaces.md §4): times are ISO strings. */
export interface Alert {
  id: string;
  patientId: string;
  rule: string;
  ruleId: string;
  ruleVersion: number;
  subject: string;
  severity: Severity;
  status: AlertStatus;
  message: string;
  value: number | null;
  openedAt: string;
  updatedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
  snoozedUntil: string | null;
  snoozeReason: string | null;
  assigneeId: string | null;
  escalationLevel: number;
  escalatedAt: string | null;
}

/** What a rule decides when it opens an alert; the rest of a new alert is its lifecycle's starting state. */
export type AlertOpening = Pick<Alert, 'id' | 'patientId' | 'rule' | 'ruleId' | 'ruleVersion' | 'subject' | 'severity' | 'message' | 'value'>;

/** A just-opened alert at `at` (ISO time): open, unacknowledged, unassigned, not escalated. */
export function openedAlert(o: AlertOpening, at: string): Alert {
  return {
    ...o,
    status: 'open',
    openedAt: at,
    updatedAt: at,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    resolutionNote: null,
    snoozedUntil: null,
    snoozeReason: null,
    assigneeId: null,
    escalationLevel: 0,
    escalatedAt: null,
  };
}

type Row = Record<string, unknown>;
const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());

function toAlert(r: Row): Alert {
  return {
    id: r.id as string,
    patientId: r.patient_id as string,
    rule: r.rule_key as string,
    ruleId: r.rule_id as string,
    ruleVersion: Number(r.rule_version),
    subject: r.subject as string,
    severity: r.severity as Severity,
    status: r.status as AlertStatus,
    message: r.message as string,
    value: r.value === null ? null : Number(r.value),
    openedAt: iso(r.opened_at)!,
    updatedAt: iso(r.updated_at)!,
    acknowledgedAt: iso(r.acknowledged_at),
    acknowledgedBy: (r.acknowledged_by as string) ?? null,
    resolvedAt: iso(r.resolved_at),
    resolvedBy: (r.resolved_by as string) ?? null,
    resolutionNote: (r.resolution_note as string) ?? null,
    snoozedUntil: iso(r.snoozed_until),
    snoozeReason: (r.snooze_reason as string) ?? null,
    assigneeId: (r.assignee_id as string) ?? null,
    escalationLevel: Number(r.escalation_level),
    escalatedAt: iso(r.escalated_at),
  };
}

/** Columns a service may change, camelCase → column. */
const PATCHABLE = {
  severity: 'severity',
  status: 'status',
  message: 'message',
  value: 'value',
  updatedAt: 'updated_at',
  lastValueAt: 'last_value_at',
  acknowledgedAt: 'acknowledged_at',
  acknowledgedBy: 'acknowledged_by',
  resolvedAt: 'resolved_at',
  resolvedBy: 'resolved_by',
  resolutionNote: 'resolution_note',
  snoozedUntil: 'snoozed_until',
  snoozeReason: 'snooze_reason',
  assigneeId: 'assignee_id',
  escalationLevel: 'escalation_level',
  escalatedAt: 'escalated_at',
} as const;
export type AlertPatch = Partial<Record<keyof typeof PATCHABLE, unknown>>;

/** SQL for alerts, and nothing else. */
export function createAlertsRepository(db: Db) {
  return {
    async insert(
      tx: Queryable,
      a: {
        id: string;
        patientId: string;
        rule: string;
        ruleId: string;
        ruleVersion: number;
        subject: string;
        severity: Severity;
        message: string;
        value: number | null;
        at: number;
      },
    ): Promise<Alert> {
      const [row] = await tx.query<Row>(
        `INSERT INTO alerts (id, patient_id, rule_key, rule_id, rule_version, subject, severity, status, message, value, opened_at, updated_at, last_value_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $10, $10) RETURNING *`,
        [a.id, a.patientId, a.rule, a.ruleId, a.ruleVersion, a.subject, a.severity, a.message, a.value, new Date(a.at).toISOString()],
      );
      return toAlert(row!);
    },
    /**
     * Applies a patch; with `onlyIfStatus` the update happens only from those statuses (returns null
     * otherwise). With `unlessNewer` (a reading's code and time) it happens only if no newer reading of that
     * code is stored for the patient: an alert is never resolved on a late reading, whichever instance and
     * rule state asks (a new owner's state may not know the newest reading yet).
     */
    async update(
      tx: Queryable,
      id: string,
      patch: AlertPatch,
      onlyIfStatus?: AlertStatus[],
      unlessNewer?: { code: string; ts: number },
    ): Promise<Alert | null> {
      const entries = Object.entries(patch).filter(([k]) => k in PATCHABLE);
      const sets = entries.map(([k], i) => `${PATCHABLE[k as keyof typeof PATCHABLE]} = $${i + 2}`);
      const params: unknown[] = [id, ...entries.map(([, v]) => v)];
      let where = 'id = $1';
      if (onlyIfStatus) {
        params.push(onlyIfStatus);
        where += ` AND status = ANY($${params.length}::text[])`;
      }
      if (unlessNewer) {
        params.push(unlessNewer.code, new Date(unlessNewer.ts).toISOString());
        where += ` AND NOT EXISTS (SELECT 1 FROM latest_readings l WHERE l.patient_id = alerts.patient_id AND l.code = $${params.length - 1} AND l.ts > $${params.length})`;
      }
      const [row] = await tx.query<Row>(`UPDATE alerts SET ${sets.join(', ')} WHERE ${where} RETURNING *`, params);
      return row ? toAlert(row) : null;
    },
    async byId(id: string): Promise<Alert | null> {
      const [row] = await db.query<Row>('SELECT * FROM alerts WHERE id = $1', [id]);
      return row ? toAlert(row) : null;
    },
    /** Patients with a reading of one of `codes` since `sinceMs` (from latest_readings: one row per patient and code). */
    async recentPatients(sinceMs: number, codes: string[]): Promise<string[]> {
      if (!codes.length) return [];
      const rows = await db.query<{ patient_id: string }>('SELECT DISTINCT patient_id FROM latest_readings WHERE ts > $1 AND code = ANY($2::text[])', [
        new Date(sinceMs).toISOString(),
        codes,
      ]);
      return rows.map((r) => r.patient_id);
    },
    /**
     * Readings (device and manual; not derived, not imported history) of the last `sinceMs` for the given codes, oldest first, at most
     * `limit` (of the given patients only, if given): what the alert engine replays after a restart or a takeover. Found through latest_readings (the
     * patients and codes with anything that recent) and then each one's (patient, code, ts) index range.
     */
    async recentReadings(
      sinceMs: number,
      codes: string[],
      limit: number,
      patientIds?: readonly string[],
    ): Promise<Array<StoredReading & { receivedAt: number }>> {
      if (!codes.length || patientIds?.length === 0) return [];
      const since = new Date(sinceMs).toISOString();
      const rows = await db.query<{
        id: string;
        patient_id: string;
        device_id: string | null;
        code: string;
        value: number;
        unit: string;
        ts: Date | string;
        received_at: Date | string;
      }>(
        `SELECT r.id::text AS id, r.patient_id, r.device_id, r.code, r.value, r.unit, r.ts, r.received_at
           FROM latest_readings l
           JOIN LATERAL (SELECT * FROM readings x WHERE x.patient_id = l.patient_id AND x.code = l.code AND x.ts > $1 AND x.method IS NULL
                           AND NOT x.imported) r ON true
          WHERE l.ts > $1 AND l.code = ANY($2::text[])${patientIds ? ' AND l.patient_id = ANY($4::text[])' : ''}
          ORDER BY r.ts, r.id LIMIT $3`,
        patientIds ? [since, codes, limit, patientIds] : [since, codes, limit],
      );
      return rows.map((r) => ({
        id: r.id,
        patientId: r.patient_id,
        deviceId: r.device_id,
        code: r.code,
        value: Number(r.value),
        unit: r.unit,
        ts: new Date(r.ts).getTime(),
        seq: null,
        receivedAt: new Date(r.received_at).getTime(),
      }));
    },
    /** Alerts resolved since `sinceMs` (by a person or by the engine): the replay must not raise them again from older readings. */
    async resolvedSince(sinceMs: number): Promise<Array<{ patientId: string; rule: string; subject: string; resolvedAt: number }>> {
      const rows = await db.query<{ patient_id: string; rule_key: string; subject: string; resolved_at: Date | string }>(
        `SELECT patient_id, rule_key, subject, resolved_at FROM alerts WHERE status = 'resolved' AND resolved_at > $1`,
        [new Date(sinceMs).toISOString()],
      );
      return rows.map((r) => ({ patientId: r.patient_id, rule: r.rule_key, subject: r.subject, resolvedAt: new Date(r.resolved_at).getTime() }));
    },
    /** Time (ms) of the newest stored reading per patient and code, keyed `patientId|code`. */
    async newestReadings(patientIds: string[]): Promise<Map<string, number>> {
      if (patientIds.length === 0) return new Map();
      const rows = await db.query<{ patient_id: string; code: string; ts: Date | string }>(
        'SELECT patient_id, code, ts FROM latest_readings WHERE patient_id = ANY($1::text[])',
        [patientIds],
      );
      return new Map(rows.map((r) => [`${r.patient_id}|${r.code}`, new Date(r.ts).getTime()]));
    },
    /** Unresolved alerts (for rebuilding engine state at start and for escalation). */
    async active(): Promise<Alert[]> {
      return (await db.query<Row>(`SELECT * FROM alerts WHERE status <> 'resolved'`)).map(toAlert);
    },
    /** patientIds null = all; newest first. */
    async list(q: { patientIds: string[] | null; status?: AlertStatus[]; limit: number }): Promise<Alert[]> {
      const params: unknown[] = [q.limit];
      const where: string[] = [];
      if (q.patientIds) {
        params.push(q.patientIds);
        where.push(`patient_id = ANY($${params.length}::text[])`);
      }
      if (q.status?.length) {
        params.push(q.status);
        where.push(`status = ANY($${params.length}::text[])`);
      }
      const rows = await db.query<Row>(`SELECT * FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY opened_at DESC LIMIT $1`, params);
      return rows.map(toAlert);
    },
    async openCounts(patientIds: string[]): Promise<Map<string, { critical: number; total: number }>> {
      const rows = await db.query<{ patient_id: string; critical: string; total: string }>(
        `SELECT patient_id, count(*) FILTER (WHERE severity = 'critical') AS critical, count(*) AS total
         FROM alerts WHERE status <> 'resolved' AND patient_id = ANY($1::text[]) GROUP BY patient_id`,
        [patientIds],
      );
      return new Map(rows.map((r) => [r.patient_id, { critical: Number(r.critical), total: Number(r.total) }]));
    },
  };
}

export type AlertsRepository = ReturnType<typeof createAlertsRepository>;
