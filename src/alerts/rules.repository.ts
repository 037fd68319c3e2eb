import type { Db, Queryable } from '../platform/db.ts';
import type { Rule, RuleDefinition, RuleScope } from './rule-schema.ts';

type Row = {
  id: string;
  key: string;
  scope: RuleScope;
  scope_id: string;
  version: number;
  enabled: boolean;
  definition: RuleDefinition;
  updated_by: string | null;
  updated_at: Date | string;
};

const toRule = (r: Row): Rule => ({
  id: r.id,
  key: r.key,
  scope: r.scope,
  scopeId: r.scope_id,
  version: Number(r.version),
  enabled: r.enabled,
  definition: r.definition,
  updatedBy: r.updated_by,
  updatedAt: new Date(r.updated_at).toISOString(),
});

/** SQL for alert rules and their version history, and nothing else. */
const CHANNEL = 'vigil_rules';

export function createRulesRepository(db: Db) {
  return {
    /** Tells every instance that rules changed (PostgreSQL NOTIFY; delivered on commit). */
    async notifyChanged(ruleId: string): Promise<void> {
      if (db.listen) await db.query('SELECT pg_notify($1, $2)', [CHANNEL, ruleId]);
    },
    /** Calls back when any instance changed rules (or after a lost LISTEN connection came back). */
    async onChanged(handler: () => void): Promise<() => Promise<void>> {
      return db.listen ? db.listen(CHANNEL, () => handler()) : async () => undefined;
    },
    async all(): Promise<Rule[]> {
      return (await db.query<Row>('SELECT * FROM alert_rules ORDER BY key, scope, scope_id')).map(toRule);
    },
    async byId(id: string): Promise<Rule | null> {
      const [r] = await db.query<Row>('SELECT * FROM alert_rules WHERE id = $1', [id]);
      return r ? toRule(r) : null;
    },
    /** Saves a new version of (key, scope, scopeId), creating the rule at version 1 when new. */
    async saveVersion(
      v: {
        newId: string;
        key: string;
        scope: RuleScope;
        scopeId: string;
        enabled: boolean;
        definition: RuleDefinition;
        by: string | null;
      },
      inTx?: Queryable,
    ): Promise<Rule> {
      // In the caller's transaction when given one (the audit entry commits with the rule), else in its own.
      const run = <T>(fn: (tx: Queryable) => Promise<T>) => (inTx ? fn(inTx) : db.transaction(fn));
      return run(async (tx) => {
        const [row] = await tx.query<Row>(
          `INSERT INTO alert_rules (id, key, scope, scope_id, version, enabled, definition, updated_by, updated_at)
           VALUES ($1, $2, $3, $4, 1, $5, $6, $7, now())
           ON CONFLICT (key, scope, scope_id) DO UPDATE SET version = alert_rules.version + 1, enabled = EXCLUDED.enabled,
             definition = EXCLUDED.definition, updated_by = EXCLUDED.updated_by, updated_at = now()
           RETURNING *`,
          [v.newId, v.key, v.scope, v.scopeId, v.enabled, JSON.stringify(v.definition), v.by],
        );
        await tx.query('INSERT INTO alert_rule_versions (rule_id, version, enabled, definition, edited_by) VALUES ($1, $2, $3, $4, $5)', [
          row!.id,
          row!.version,
          row!.enabled,
          JSON.stringify(row!.definition),
          v.by,
        ]);
        return toRule(row!);
      });
    },
    async versions(
      ruleId: string,
    ): Promise<Array<{ version: number; enabled: boolean; definition: RuleDefinition; editedBy: string | null; editedAt: string }>> {
      const rows = await db.query<{ version: number; enabled: boolean; definition: RuleDefinition; edited_by: string | null; edited_at: Date | string }>(
        'SELECT * FROM alert_rule_versions WHERE rule_id = $1 ORDER BY version DESC',
        [ruleId],
      );
      return rows.map((r) => ({
        version: Number(r.version),
        enabled: r.enabled,
        definition: r.definition,
        editedBy: r.edited_by,
        editedAt: new Date(r.edited_at).toISOString(),
      }));
    },
    /** Practitioners on each patient's care team (team-scope rules). */
    async teamsOf(patientIds: string[]): Promise<Map<string, string[]>> {
      const rows = await db.query<{ patient_id: string; practitioner_id: string }>(
        'SELECT patient_id, practitioner_id FROM care_team_members WHERE patient_id = ANY($1::text[])',
        [patientIds],
      );
      const out = new Map<string, string[]>();
      for (const r of rows) out.set(r.patient_id, [...(out.get(r.patient_id) ?? []), r.practitioner_id]);
      return out;
    },
  };
}

export type RulesRepository = ReturnType<typeof createRulesRepository>;
