import type { Clock } from '../platform/clock.ts';
import { z } from 'zod';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Principal } from '../domain/types.ts';
import { AppError } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import type { RulesRepository } from './rules.repository.ts';
import { DEFAULT_RULES, SUPERSEDED_DEFAULTS, ruleDefinitionSchema, type Rule, type RuleScope } from './rule-schema.ts';
import { isDeepStrictEqual } from 'node:util';

const TEAMS_TTL_MS = 30_000; // care-team and SpO2-scale changes reach rule resolution within 30 s
const SPO2 = '59408-5';
// NEWS2 chart 1, SpO2 scale 2 (hypercapnic respiratory failure, prescribed target 88–92 %): 86–87 % scores 1,
// 84–85 % scores 2. A clinic-wide "SpO2 < 90 %" alarm would ring all day for these patients, so unless a
// patient-level rule says otherwise their SpO2 alarm sits below the target range instead.
const SCALE2_ALARM_BELOW = 86; // %
const SCALE2_CLEAR_AT = 88; // %, the bottom of the prescribed target range

export const ruleEditSchema = z.object({
  scope: z.enum(['clinic', 'team', 'patient']),
  /** practitioner id (team) or patient id (patient); omitted for clinic. */
  scopeId: z.string().default(''),
  enabled: z.boolean().default(true),
  definition: ruleDefinitionSchema,
});

/**
 * Rules as versioned data: resolves the effective rule set of a patient (patient → care team → clinic,
 * most specific wins; among several teams the most recently edited) and saves edits as new versions.
 * The rule table is small, so it is held in memory and reloaded after each edit.
 */
export function createRulesService(deps: {
  rules: RulesRepository;
  access: AccessPolicy;
  audit: AuditService;
  clock: Clock;
  spo2ScaleOf?: (patientId: string) => Promise<1 | 2>;
}) {
  let all: Rule[] = [];
  const teams = new Map<string, { at: number; ids: string[] }>();
  const listeners = new Set<() => void>();

  async function reload() {
    all = await deps.rules.all();
    listeners.forEach((l) => l());
  }

  async function teamsOf(patientId: string, now: number): Promise<string[]> {
    const hit = teams.get(patientId);
    if (hit && now - hit.at < TEAMS_TTL_MS) return hit.ids;
    const ids = (await deps.rules.teamsOf([patientId])).get(patientId) ?? [];
    teams.set(patientId, { at: now, ids });
    return ids;
  }

  const scales = new Map<string, { at: number; scale: 1 | 2 }>();
  async function scaleOf(patientId: string, now: number): Promise<1 | 2> {
    if (!deps.spo2ScaleOf) return 1;
    const hit = scales.get(patientId);
    if (hit && now - hit.at < TEAMS_TTL_MS) return hit.scale;
    const scale = await deps.spo2ScaleOf(patientId);
    scales.set(patientId, { at: now, scale });
    return scale;
  }

  /** A clinic or team SpO2-low threshold, moved below the scale-2 target range (see SCALE2_ALARM_BELOW). */
  function forScale2(r: Rule): Rule {
    const d = r.definition;
    if (r.scope === 'patient' || d.kind !== 'threshold' || d.code !== SPO2 || d.op !== 'below') return r;
    return { ...r, definition: { ...d, value: Math.min(d.value, SCALE2_ALARM_BELOW), clearAt: Math.min(d.clearAt, SCALE2_CLEAR_AT) } };
  }

  /** The effective, enabled rules for a patient, one per key. */
  async function effectiveFor(patientId: string, now = deps.clock.now()): Promise<Rule[]> {
    const rules = await resolve(patientId, now);
    return (await scaleOf(patientId, now)) === 2 ? rules.map(forScale2) : rules;
  }

  async function resolve(patientId: string, now: number): Promise<Rule[]> {
    const teamIds = await teamsOf(patientId, now);
    const byKey = new Map<string, Rule>();
    const rank = (r: Rule) => (r.scope === 'patient' ? 3 : r.scope === 'team' ? 2 : 1);
    for (const r of all) {
      const applies = r.scope === 'clinic' || (r.scope === 'patient' && r.scopeId === patientId) || (r.scope === 'team' && teamIds.includes(r.scopeId));
      if (!applies) continue;
      const cur = byKey.get(r.key);
      if (!cur || rank(r) > rank(cur) || (rank(r) === rank(cur) && r.updatedAt > cur.updatedAt)) byKey.set(r.key, r);
    }
    return [...byKey.values()].filter((r) => r.enabled);
  }

  async function assertCanEdit(p: Principal, scope: RuleScope, scopeId: string) {
    if (scope === 'clinic') return deps.access.assertAdmin(p);
    if (scope === 'patient') return deps.access.assertCanManagePatient(p, scopeId);
    deps.access.assertTeamMember(p, scopeId);
  }

  let stopListening: (() => Promise<void>) | null = null;

  return {
    async start() {
      // Rule edits on any instance reach this one (rule changes fan out over PostgreSQL LISTEN/NOTIFY).
      stopListening = await deps.rules.onChanged(() => void reload().catch(() => undefined));
      const clinic = (await deps.rules.all()).filter((r) => r.scope === 'clinic');
      for (const [key, raw] of Object.entries(DEFAULT_RULES)) {
        const current = clinic.find((r) => r.key === key);
        // Compared as values: a definition read back from jsonb has its keys in another order.
        const superseded = current && (SUPERSEDED_DEFAULTS[key] ?? []).some((old) => isDeepStrictEqual(ruleDefinitionSchema.parse(old), current.definition));
        const next = {
          newId: newId('rul'),
          key,
          scope: 'clinic' as const,
          scopeId: '',
          enabled: current?.enabled ?? true,
          definition: ruleDefinitionSchema.parse(raw),
          by: 'system',
        };
        if (!current) await deps.rules.saveVersion(next);
        else if (superseded)
          await deps.audit.change(async (tx, log) => {
            const saved = await deps.rules.saveVersion(next, tx);
            const details = { key, scope: 'clinic', version: saved.version, reason: 'default updated (the clinic had it as seeded)' };
            log({ actor: 'system', action: 'alert-rule.save', entityType: 'AlertRule', entityId: saved.id, details });
          });
      }
      await reload();
    },
    effectiveFor,
    /** Called after any edit so the monitor drops cached per-patient rule sets. */
    onChange(l: () => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    byId: (id: string) => all.find((r) => r.id === id) ?? null,
    /** A rule version by id, from the database when this instance has not loaded it (saved by another instance). */
    async byIdFresh(id: string): Promise<Rule | null> {
      return all.find((r) => r.id === id) ?? (await deps.rules.byId(id));
    },

    /** The rules a principal may see: clinic defaults, care-team rules, and patient rules of visible patients. */
    async list(p: Principal, q: { patientId?: string } = {}): Promise<{ rules: Rule[]; effective?: Rule[] }> {
      deps.access.assertStaff(p);
      const visible = await deps.access.visiblePatientIds(p);
      const rules = all.filter((r) => r.scope !== 'patient' || visible === null || visible.includes(r.scopeId));
      if (!q.patientId) return { rules };
      await deps.access.assertPatient(p, q.patientId);
      return { rules: rules.filter((r) => r.scope !== 'patient' || r.scopeId === q.patientId), effective: await effectiveFor(q.patientId) };
    },

    async versions(p: Principal, ruleId: string) {
      deps.access.assertStaff(p);
      const rule = all.find((r) => r.id === ruleId);
      if (!rule || (rule.scope === 'patient' && !(await deps.access.canSeePatient(p, rule.scopeId))))
        throw new AppError('NOT_FOUND', `rule ${ruleId} not found`);
      return { rule, versions: await deps.rules.versions(ruleId) };
    },

    /** Saves a new version of rule `key` at a scope (validated); returns the stored rule. */
    async save(p: Principal, key: string, body: unknown): Promise<Rule> {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(key)) throw new AppError('VALIDATION', 'rule key must be lowercase letters, digits and dashes');
      const parsed = ruleEditSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AppError('VALIDATION', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`, parsed.error.issues);
      }
      const { scope, enabled, definition } = parsed.data;
      const scopeId = scope === 'clinic' ? '' : parsed.data.scopeId;
      if (scope !== 'clinic' && !scopeId) throw new AppError('VALIDATION', `scopeId is required for scope ${scope}`);
      await assertCanEdit(p, scope, scopeId);
      const rule = await deps.audit.change(async (tx, log) => {
        const saved = await deps.rules.saveVersion({ newId: newId('rul'), key, scope, scopeId, enabled, definition, by: p.userId }, tx);
        log({
          actor: p,
          action: 'alert-rule.save',
          entityType: 'AlertRule',
          entityId: saved.id,
          patientId: scope === 'patient' ? scopeId : null,
          details: { key, scope, scopeId, version: saved.version, enabled },
        });
        return saved;
      });
      await reload();
      await deps.rules.notifyChanged(rule.id);
      return rule;
    },
    async close() {
      await stopListening?.();
    },
  };
}

export type RulesService = ReturnType<typeof createRulesService>;
