import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import type { AlertEventKind, EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService, AuditEntry } from '../audit/audit.service.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { Principal } from '../domain/types.ts';
import { AppError, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import { openedAlert, type AlertsRepository, type Alert, type AlertStatus, type AlertPatch } from './alerts.repository.ts';
import type { NotificationsRepository } from './notifications.repository.ts';
import type { RecipientsRepository, Recipient } from './recipients.repository.ts';
import type { RulesService } from './rules.service.ts';
import type { AlertsConfig } from './alerts.config.ts';
import { planNotifications, type NotifyEvent } from './notification-plan.ts';
import { SEVERITY_RANK, type Rule, type Severity } from './rule-schema.ts';

const VALUE_WRITE_INTERVAL_MS = 10_000; // a de-duplicated alert's latest value is written at most every 10 s
const MAX_SNOOZE_MS = 24 * 3_600_000; // 24 h: longer silences belong in the rule, not a snooze
const PATIENT_NAME_TTL_MS = 5 * 60_000;

export const snoozeSchema = z
  .object({
    reason: z.string().trim().min(1, 'a reason is required').max(500),
    /** ISO time or minutes from now. */
    until: z.string().datetime().optional(),
    minutes: z
      .number()
      .int()
      .min(1)
      .max(MAX_SNOOZE_MS / 60_000)
      .optional(),
  })
  .refine((s) => s.until || s.minutes, 'give until (ISO time) or minutes');

/**
 * The alert lifecycle: open (de-duplicated per patient + rule + subject), update, acknowledge, snooze,
 * assign, escalate, resolve (by a person or automatically when the condition clears). Every transition is
 * written first (with its notifications in the same transaction), then audited, then emitted live.
 */
export function createAlertService(deps: {
  db: Db;
  alerts: AlertsRepository;
  outbox: NotificationsRepository;
  recipients: RecipientsRepository;
  patients: PatientsRepository;
  rules: RulesService;
  access: AccessPolicy;
  audit: AuditService;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  config: AlertsConfig;
  appUrl: () => string;
  /** True once the Web Push channel has its VAPID keys. */
  webpushReady?: () => boolean;
  onQueued?: () => void;
}) {
  const log = deps.logger.child({ module: 'alerts' });
  /** Unresolved alerts by id: escalation and counts need no query. */
  const active = new Map<string, Alert>();
  const lastValueWrite = new Map<string, number>();
  const names = new Map<string, { at: number; name: string }>();

  async function patientName(id: string): Promise<string> {
    const now = deps.clock.now();
    const hit = names.get(id);
    if (hit && now - hit.at < PATIENT_NAME_TTL_MS) return hit.name;
    const name = (await deps.patients.byId(id))?.name ?? id;
    names.set(id, { at: now, name });
    return name;
  }

  async function recipientsFor(alert: Alert, target: string): Promise<Recipient[]> {
    if (target === 'care-team') return deps.recipients.careTeamUsers(alert.patientId);
    if (target === 'admins') return deps.recipients.admins();
    const userId = target.startsWith('user:') ? target.slice(5) : null;
    // F8: an escalation or assignment to a named person reaches them only if they may see the patient.
    if (!userId || !(await deps.recipients.mayReceive(userId, alert.patientId))) return [];
    const user = await deps.recipients.byId(userId);
    return user ? [user] : [];
  }

  async function jobsFor(alert: Alert, event: NotifyEvent, target: string) {
    const webpush = deps.webpushReady?.() ?? false;
    if (!deps.config.smtpUrl && !deps.config.webhookUrl && !webpush) return [];
    const recipients = deps.config.smtpUrl || webpush ? await recipientsFor(alert, target) : [];
    return planNotifications({
      alert,
      event,
      recipients,
      patientName: await patientName(alert.patientId),
      now: deps.clock.now(),
      email: !!deps.config.smtpUrl,
      webpush,
      webhookUrl: deps.config.webhookUrl,
      appUrl: deps.appUrl(),
    });
  }

  // Alerts resolved lately: a late copy of an earlier state (another instance's event relayed after the
  // resolution) must not bring one back into the open set.
  const resolved = new Set<string>();
  function remember(a: Alert) {
    if (a.status === 'resolved') {
      active.delete(a.id);
      lastValueWrite.delete(a.id);
      resolved.add(a.id);
      if (resolved.size > 10_000) resolved.delete(resolved.values().next().value!);
    } else if (!resolved.has(a.id)) {
      const known = active.get(a.id);
      if (!known || known.updatedAt <= a.updatedAt) active.set(a.id, a);
    }
  }
  // Every instance keeps the same open set: its own changes and (cluster/relay.ts) other instances'. The
  // panel's counts and the engine's de-duplication then agree whichever instance answers.
  deps.events.on('alert.changed', (e) => remember(e.alert as Alert));

  /** Re-reads open alerts from the database (start, a missed-events resync, a unique-index race). */
  async function reload(only: (a: Alert) => boolean = () => true) {
    const rows = (await deps.alerts.active()).filter(only);
    const open = new Set(rows.map((a) => a.id));
    for (const [id, a] of active) if (only(a) && !open.has(id)) active.delete(id);
    for (const a of rows) active.set(a.id, a);
  }

  /** Write (alert + notification jobs + audit entry in one transaction) → live. */
  async function commit(
    event: AlertEventKind,
    actor: Principal | 'system',
    write: (tx: Parameters<Parameters<Db['transaction']>[0]>[0]) => Promise<Alert | null>,
    notify?: { event: NotifyEvent; target: string; pre?: Alert },
    details?: Record<string, unknown>,
  ): Promise<Alert | null> {
    const jobs = notify?.pre ? await jobsFor(notify.pre, notify.event, notify.target) : [];
    // The alert, its notification jobs and its audit entry commit together ((d)(2)).
    const alert = await deps.audit.change(async (tx, log) => {
      const a = await write(tx);
      if (a && jobs.length)
        await deps.outbox.enqueue(
          tx,
          jobs.map((j) => ({ ...j, payload: j.channel === 'webhook' ? { ...j.payload, alert: a } : j.payload })),
          deps.clock.now(),
        );
      if (a)
        log({
          actor: actor as AuditEntry['actor'],
          action: `alert.${event}`,
          entityType: 'Alert',
          entityId: a.id,
          patientId: a.patientId,
          details: { rule: a.rule, ruleId: a.ruleId, ruleVersion: a.ruleVersion, severity: a.severity, status: a.status, ...details },
        });
      return a;
    });
    if (!alert) return null;
    remember(alert);
    deps.events.emit('alert.changed', { event, patientId: alert.patientId, alert });
    if (jobs.length) deps.onQueued?.();
    return alert;
  }

  async function load(p: Principal, id: string): Promise<Alert> {
    const a = active.get(id) ?? (await deps.alerts.byId(id));
    if (!a || !(await deps.access.canSeePatient(p, a.patientId))) throw notFound(`alert ${id}`);
    deps.access.assertStaff(p);
    return a;
  }

  const iso = (ms: number) => new Date(ms).toISOString();

  return {
    active: () => [...active.values()],

    async start() {
      await reload();
    },

    reload,

    /** From the rule engine: opens an alert, or updates the one already open for this patient + rule + subject. */
    async raise(r: { patientId: string; rule: Rule; subject: string; severity: Severity; value: number | null; message: string }): Promise<Alert | null> {
      const existing = [...active.values()].find((a) => a.patientId === r.patientId && a.rule === r.rule.key && a.subject === r.subject);
      if (existing) return this.updateFromEngine(existing.id, r);
      const now = deps.clock.now();
      const draft = openedAlert(
        {
          id: newId('alr'),
          patientId: r.patientId,
          rule: r.rule.key,
          ruleId: r.rule.id,
          ruleVersion: r.rule.version,
          subject: r.subject,
          severity: r.severity,
          message: r.message,
          value: r.value,
        },
        iso(now),
      );
      lastValueWrite.set(draft.id, now);
      try {
        return await commit('opened', 'system', (tx) => deps.alerts.insert(tx, { ...draft, at: now }), { event: 'opened', target: 'care-team', pre: draft });
      } catch (err) {
        // alerts_one_active: the same alert is already open (opened by another instance around a change of
        // owner, its event not here yet). Take that one and update it, never a second alert.
        if ((err as { code?: string }).code !== '23505') throw err;
        lastValueWrite.delete(draft.id);
        await reload((a) => a.patientId === r.patientId);
        const open = [...active.values()].find((a) => a.patientId === r.patientId && a.rule === r.rule.key && a.subject === r.subject);
        return open ? this.updateFromEngine(open.id, r) : null;
      }
    },

    /** De-duplication: the open alert takes the latest value; a worse severity re-opens it and notifies again. */
    async updateFromEngine(id: string, r: { severity: Severity; value: number | null; message: string }): Promise<Alert | null> {
      const a = active.get(id);
      if (!a) return null;
      const now = deps.clock.now();
      const worse = SEVERITY_RANK[r.severity] > SEVERITY_RANK[a.severity];
      if (r.severity === a.severity) {
        const next = { ...a, value: r.value, message: r.message };
        active.set(id, next);
        if (now - (lastValueWrite.get(id) ?? 0) < VALUE_WRITE_INTERVAL_MS) return next;
        lastValueWrite.set(id, now);
        const saved = await deps.alerts.update(deps.db, id, { value: r.value, message: r.message, lastValueAt: iso(now) }, ['open', 'acknowledged']);
        if (saved) {
          remember(saved);
          deps.events.emit('alert.changed', { event: 'updated', patientId: saved.patientId, alert: saved });
        }
        return saved;
      }
      lastValueWrite.set(id, now);
      const patch: AlertPatch = { severity: r.severity, value: r.value, message: r.message, updatedAt: iso(now), lastValueAt: iso(now) };
      if (worse) Object.assign(patch, { status: 'open', acknowledgedAt: null, acknowledgedBy: null, escalationLevel: 0, escalatedAt: null });
      const pre: Alert = { ...a, ...(patch as Partial<Alert>) };
      return commit(
        worse ? 'worsened' : 'improved',
        'system',
        (tx) => deps.alerts.update(tx, id, patch, ['open', 'acknowledged']),
        worse ? { event: 'worsened', target: 'care-team', pre } : undefined,
        { from: a.severity, to: r.severity },
      );
    },

    /**
     * The condition cleared: resolve automatically with a note. With `evidence` (the reading that cleared
     * it), only if no newer reading of that code is stored (null otherwise: the alert stays open).
     */
    async autoResolve(id: string, note: string, evidence?: { code: string; ts: number }): Promise<Alert | null> {
      const now = iso(deps.clock.now());
      return commit(
        'resolved',
        'system',
        (tx) =>
          deps.alerts.update(
            tx,
            id,
            { status: 'resolved', resolvedAt: now, resolvedBy: 'system', resolutionNote: `auto: ${note}`, updatedAt: now },
            ['open', 'acknowledged'],
            evidence,
          ),
        undefined,
        { note, automatic: true },
      );
    },

    async acknowledge(p: Principal, id: string, note?: string): Promise<Alert> {
      await load(p, id);
      const now = iso(deps.clock.now());
      const a = await commit(
        'acknowledged',
        p,
        (tx) => deps.alerts.update(tx, id, { status: 'acknowledged', acknowledgedAt: now, acknowledgedBy: p.userId, updatedAt: now }, ['open']),
        undefined,
        { note },
      );
      if (!a) throw new AppError('CONFLICT', `alert ${id} is not open`);
      return a;
    },

    async resolve(p: Principal, id: string, note?: string): Promise<Alert> {
      await load(p, id);
      const now = iso(deps.clock.now());
      const a = await commit(
        'resolved',
        p,
        (tx) =>
          deps.alerts.update(tx, id, { status: 'resolved', resolvedAt: now, resolvedBy: p.userId, resolutionNote: note ?? null, updatedAt: now }, [
            'open',
            'acknowledged',
          ]),
        undefined,
        { note },
      );
      if (!a) throw new AppError('CONFLICT', `alert ${id} is already resolved`);
      return a;
    },

    async snooze(p: Principal, id: string, body: unknown): Promise<Alert> {
      await load(p, id);
      const s = snoozeSchema.safeParse(body);
      if (!s.success) throw new AppError('VALIDATION', s.error.issues[0]?.message ?? 'invalid snooze');
      const now = deps.clock.now();
      const until = s.data.until ? Date.parse(s.data.until) : now + s.data.minutes! * 60_000;
      if (until <= now || until - now > MAX_SNOOZE_MS) throw new AppError('VALIDATION', 'snooze must end in the future and within 24 h');
      const a = await commit(
        'snoozed',
        p,
        (tx) => deps.alerts.update(tx, id, { snoozedUntil: iso(until), snoozeReason: s.data.reason, updatedAt: iso(now) }, ['open', 'acknowledged']),
        undefined,
        { reason: s.data.reason, until: iso(until) },
      );
      if (!a) throw new AppError('CONFLICT', `alert ${id} is already resolved`);
      return a;
    },

    async assign(p: Principal, id: string, userId: string): Promise<Alert> {
      const cur = await load(p, id);
      const user = typeof userId === 'string' ? await deps.recipients.byId(userId) : null;
      if (!user || !deps.access.isStaff(user)) throw new AppError('VALIDATION', `user ${userId} is not a clinician or admin`);
      // F8: only someone who may see the patient (care team or admin) can be made responsible for the alert.
      if (!(await deps.recipients.mayReceive(user.userId, cur.patientId)))
        throw new AppError('VALIDATION', `user ${userId} is not on this patient's care team`);
      const now = iso(deps.clock.now());
      const a = await commit(
        'assigned',
        p,
        (tx) => deps.alerts.update(tx, id, { assigneeId: userId, updatedAt: now }, ['open', 'acknowledged']),
        { event: 'escalated', target: `user:${userId}`, pre: { ...cur, assigneeId: userId } },
        { assignee: userId },
      );
      if (!a) throw new AppError('CONFLICT', `alert ${id} is already resolved`);
      return a;
    },

    /**
     * Escalation ladders: an open (unacknowledged, unsnoozed) alert climbs one step each time the step's
     * delay has passed since it opened, last escalated or came out of snooze. The conditional update on
     * the level makes two instances' ticks escalate once.
     */
    async escalateDue(): Promise<void> {
      const now = deps.clock.now();
      // From the database, not this process's memory: an alert opened by another instance (or one that
      // died) escalates too. Each escalation locks the row and re-checks its level (SELECT … FOR UPDATE
      // re-reads a row another transaction changed), so two instances' ticks escalate it once.
      for (const a of await deps.alerts.active()) {
        if (a.status !== 'open') continue;
        const snoozedUntil = a.snoozedUntil ? Date.parse(a.snoozedUntil) : 0;
        if (snoozedUntil > now) continue;
        const ladder = (await deps.rules.byIdFresh(a.ruleId))?.definition.escalation ?? [];
        const step = ladder[a.escalationLevel];
        if (!step) continue;
        const since = Math.max(Date.parse(a.escalatedAt ?? a.openedAt), snoozedUntil);
        if (now - since < step.afterMs) continue;
        const level = a.escalationLevel + 1;
        const patch: AlertPatch = {
          escalationLevel: level,
          escalatedAt: iso(now),
          updatedAt: iso(now),
          ...(step.to.startsWith('user:') ? { assigneeId: step.to.slice(5) } : {}),
        };
        const pre: Alert = { ...a, escalationLevel: level, escalatedAt: iso(now) };
        await commit(
          'escalated',
          'system',
          async (tx) => {
            const [row] = await tx.query<{ id: string }>(`SELECT id FROM alerts WHERE id = $1 AND escalation_level = $2 AND status = 'open' FOR UPDATE`, [
              a.id,
              a.escalationLevel,
            ]);
            return row ? deps.alerts.update(tx, a.id, patch) : null;
          },
          { event: 'escalated', target: step.to, pre },
          { level, to: step.to },
        ).catch((err) => log.error({ err, alert: a.id }, 'escalation failed'));
      }
    },

    /** GET /api/v1/alerts: visible alerts, most severe first, then the longest waiting. */
    async list(p: Principal, q: { patient?: string; status?: string; limit?: number }): Promise<Alert[]> {
      let ids = await deps.access.visiblePatientIds(p);
      if (q.patient) {
        await deps.access.assertPatient(p, q.patient);
        ids = [q.patient];
      }
      const statuses = q.status ? q.status.split(',').flatMap((s) => (s === 'active' ? ['open', 'acknowledged'] : [s])) : undefined;
      if (statuses?.some((s) => !['open', 'acknowledged', 'resolved'].includes(s)))
        throw new AppError('VALIDATION', 'status must be open, acknowledged, resolved or active');
      const rows = await deps.alerts.list({
        patientIds: ids,
        status: statuses as AlertStatus[] | undefined,
        limit: Math.min(Math.max(q.limit ?? 200, 1), 1000),
      });
      return rows.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.openedAt.localeCompare(b.openedAt));
    },

    async get(p: Principal, id: string): Promise<Alert> {
      return load(p, id);
    },

    /** OpenAlertCounter for the patient panel (served from memory). */
    async countsFor(patientIds: string[]) {
      const want = new Set(patientIds);
      const out = new Map<string, { critical: number; total: number }>();
      for (const a of active.values()) {
        if (!want.has(a.patientId)) continue;
        const c = out.get(a.patientId) ?? { critical: 0, total: 0 };
        c.total++;
        if (a.severity === 'critical') c.critical++;
        out.set(a.patientId, c);
      }
      return out;
    },
  };
}

export type AlertService = ReturnType<typeof createAlertService>;
