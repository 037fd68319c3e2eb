/**
 * A default alert rule that changed (NEWS2 band severities, the spot-measurement clear delay) reaches a clinic
 * that still has it as seeded, at the next start, audited; a clinician's own edit of it is left alone.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { DEFAULT_RULES, SUPERSEDED_DEFAULTS } from '../src/alerts/rule-schema.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (default alert rules updated at start)');

describe.skipIf(!hasPg)('default alert rules updated at start', () => {
  let app: TestApp | undefined;
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('replaces a default the clinic still has as seeded, audited, and keeps one a clinician edited', async () => {
    db = await createTestDatabase();
    app = await bootApp({ databaseUrl: db.url });
    const q = app.services.db;
    // As an older release seeded them: NEWS2 with the old band severities; sbp-low old, then edited by a clinician.
    await q.query(`UPDATE alert_rules SET definition = $1 WHERE key = 'news2' AND scope = 'clinic'`, [JSON.stringify(SUPERSEDED_DEFAULTS.news2[0])]);
    const edited = { ...(SUPERSEDED_DEFAULTS['sbp-low'][0] as object), value: 85 };
    await q.query(`UPDATE alert_rules SET definition = $1 WHERE key = 'sbp-low' AND scope = 'clinic'`, [JSON.stringify(edited)]);
    await app.stop();
    app = await bootApp({ databaseUrl: db.url });
    const rows = await app.services.db.query<{ key: string; definition: Record<string, unknown> }>(
      `SELECT key, definition FROM alert_rules WHERE scope = 'clinic' AND key IN ('news2', 'sbp-low') ORDER BY key`,
    );
    expect(rows[0].definition.bands).toEqual((DEFAULT_RULES.news2 as { bands: unknown }).bands);
    expect(rows[0].definition.bands).toEqual({ 'low-medium': 'warning', medium: 'critical', high: 'critical' });
    expect(rows[1].definition).toMatchObject({ value: 85, clearForMs: 0 });
    const audit = await app.services.db.query<{ actor: string; details: string }>(
      `SELECT actor, details::text AS details FROM audit_log WHERE action = 'alert-rule.save' ORDER BY id`,
    );
    expect(audit.map((a) => [a.actor, JSON.parse(a.details).key])).toEqual([['system', 'news2']]);
  });
});
