/**
 * Issue 11 defect 3 (escalation): two Vigil instances on one PostgreSQL. An alert escalates exactly once
 * when both instances' ticks run at the same moment, and an alert opened by an instance that then dies is
 * still escalated by the survivor (escalation used to walk only the local process's alerts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootInstances, type Instances, type TestApp } from './support/app.ts';
import { postgresAvailable, skipNote } from './support/services.ts';
import { eventually } from './support/eventually.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (two-instance alert escalation)');

describe.skipIf(!hasPg)('alert escalation across two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let cluster: Instances | undefined;
  beforeAll(async () => {
    cluster = await bootInstances(2);
    [a, b] = cluster.apps;
  }, 240_000);
  afterAll(() => cluster?.stop());

  it('a rule saved on one instance takes effect on the other at once (LISTEN/NOTIFY)', async () => {
    const admin = (await a.tokenFor('admin')).token;
    const patientId = (await a.services.patientService.create({ name: 'Rule Fan-out', birthDate: '1950-01-01' }, 'system')).id;
    const device = (await a.api<{ id: string; secret: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    const openOnB = async () =>
      (await b.services.db.query<{ rule_key: string }>(`SELECT rule_key FROM alerts WHERE patient_id = $1 AND rule_key = 'rr-fanout'`, [patientId])).length;
    // B evaluates this patient first (and caches its rules), with no such rule yet.
    expect((await b.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { rr: 30 })).status).toBe(202);
    await b.services.alerts.monitor.idle();
    expect(await openOnB()).toBe(0);
    const saved = await a.api(admin, 'PUT', '/api/v1/alert-rules/rr-fanout', {
      scope: 'patient',
      scopeId: patientId,
      definition: { kind: 'threshold', code: '9279-1', op: 'above', value: 25, clearAt: 20, severity: 'warning' },
    });
    expect(saved.status).toBe(200);
    await eventually(
      () => b.services.alerts.rules.byId((saved.body as { id: string }).id),
      (r) => r !== null,
      5_000,
    );
    expect((await b.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { rr: 31 })).status).toBe(202);
    await b.services.alerts.monitor.idle();
    expect(await eventually(openOnB, (n) => n === 1, 5_000)).toBe(1);
  });

  it('escalates once when both tick together, and the survivor escalates what a dead instance opened', async () => {
    const admin = (await a.tokenFor('admin')).token;
    const patientId = (await a.services.patientService.create({ name: 'Two Instances', birthDate: '1950-01-01' }, 'system')).id;
    const device = (await a.api<{ id: string; secret: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    // Created on A after B started: B has never loaded this rule.
    const rule = await a.api(admin, 'PUT', '/api/v1/alert-rules/hr-two-instances', {
      scope: 'patient',
      scopeId: patientId,
      definition: {
        kind: 'threshold',
        code: '8867-4',
        op: 'above',
        value: 140,
        clearAt: 130,
        severity: 'critical',
        escalation: [
          { afterMs: 1000, to: 'admins' },
          { afterMs: 1000, to: 'admins' },
        ],
      },
    });
    expect(rule.status).toBe(200);
    expect((await a.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { hr: 170 })).status).toBe(202);
    const level = async () =>
      (
        await a.services.db.query<{ escalation_level: number; id: string }>(
          `SELECT id, escalation_level FROM alerts WHERE patient_id = $1 AND rule_key = 'hr-two-instances'`,
          [patientId],
        )
      )[0];
    const opened = await eventually(level, (r) => r !== undefined);
    expect(opened.escalation_level).toBe(0);
    const escalations = async () =>
      Number(
        (await a.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log WHERE action = 'alert.escalated' AND entity_id = $1`, [opened.id]))[0].n,
      );

    await new Promise((r) => setTimeout(r, 1_200));
    await Promise.all([
      a.services.alerts.service.escalateDue(),
      b.services.alerts.service.escalateDue(),
      a.services.alerts.service.escalateDue(),
      b.services.alerts.service.escalateDue(),
    ]);
    expect((await level()).escalation_level).toBe(1);
    expect(await escalations()).toBe(1);

    // A dies; B escalates the next step of the alert A opened.
    await a.close();
    await new Promise((r) => setTimeout(r, 1_200));
    await b.services.alerts.service.escalateDue();
    const [row] = await b.services.db.query<{ escalation_level: number }>(`SELECT escalation_level FROM alerts WHERE id = $1`, [opened.id]);
    expect(row.escalation_level).toBe(2);
    const [{ n }] = await b.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log WHERE action = 'alert.escalated' AND entity_id = $1`, [
      opened.id,
    ]);
    expect(Number(n)).toBe(2);
  });
});
