/**
 * Issue 11, scale-out: live updates across instances. A clinician's dashboard connected to instance B sees
 * what instance A ingested and decided: readings, the NEWS2 score, the alert, the device's status; and both
 * instances' panels give the same open-alert count (the counts used to come from each process's memory).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bootInstances, type Instances, type TestApp } from './support/app.ts';
import { postgresAvailable, skipNote } from './support/services.ts';
import { eventually } from './support/eventually.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (live fan-out across instances)');

describe.skipIf(!hasPg)('live fan-out across two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let cluster: Instances | undefined;
  beforeAll(async () => {
    cluster = await bootInstances(2);
    [a, b] = cluster.apps;
  }, 240_000);
  afterAll(() => cluster?.stop());

  it("a dashboard on B sees A's readings, NEWS2 and alert; both panels count the same alerts; an acknowledgement on B reaches A", async () => {
    const admin = (await a.tokenFor('admin')).token;
    const clinician = await b.tokenFor('clinician');
    const patientId = (await a.services.patientService.create({ name: 'Fan Out', birthDate: '1950-01-01' }, 'system')).id;
    await a.services.patientService.assignClinician(patientId, clinician.practitionerId!, 'system');
    const device = (await a.api<{ id: string; secret: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    expect(
      (
        await a.api(admin, 'PUT', '/api/v1/alert-rules/hr-fanout', {
          scope: 'patient',
          scopeId: patientId,
          definition: { kind: 'threshold', code: '8867-4', op: 'above', value: 140, clearAt: 130, severity: 'critical' },
        })
      ).status,
    ).toBe(200);
    await eventually(
      () => b.services.alerts.rules.effectiveFor(patientId, Date.now()),
      (rules) => rules.some((r) => r.key === 'hr-fanout'),
      5_000,
    );

    const ws = new WebSocket(`${b.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${clinician.token}`);
    const seen: Array<{ type: string; [k: string]: unknown }> = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString());
      if (msg.patientId === patientId) seen.push(msg);
    });
    await new Promise((r) => ws.once('open', r));
    await new Promise((r) => setTimeout(r, 200));
    try {
      // Ingested by A only.
      expect((await a.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { hr: 155, rr: 18, spo2: 97, sbp: 125, temp: 37 })).status).toBe(
        202,
      );
      await eventually(
        () => seen.filter((m) => m.type === 'readings').length,
        (n) => n >= 1,
        10_000,
      );
      const readings = seen.find((m) => m.type === 'readings') as unknown as { readings: Array<{ code: string; value: number }> };
      expect(readings.readings).toEqual(expect.arrayContaining([expect.objectContaining({ code: '8867-4', value: 155 })]));
      await eventually(
        () => seen.find((m) => m.type === 'alert' && m.event === 'opened' && (m.alert as { rule: string }).rule === 'hr-fanout'),
        (m) => !!m,
        10_000,
      );
      await eventually(
        () => seen.find((m) => m.type === 'news2'),
        (m) => !!m,
        15_000,
      );
      // The panel on either instance counts what the database holds open (the clinic's default rules may
      // have opened more than ours); B's count comes from its converged open set, not a query.
      await new Promise((r) => setTimeout(r, 1_000));
      const [{ n }] = await a.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM alerts WHERE patient_id = $1 AND status <> 'resolved'`, [patientId]);
      expect(Number(n)).toBeGreaterThanOrEqual(1);
      const count = async (app: TestApp) =>
        (await app.api<Array<{ id: string; openAlerts: number }>>(clinician.token, 'GET', '/api/v1/patients')).body.find((p) => p.id === patientId)?.openAlerts;
      expect(
        await eventually(
          () => count(b),
          (c) => c === Number(n),
          5_000,
        ),
      ).toBe(Number(n));
      expect(await count(a)).toBe(Number(n));

      // Acknowledged on B: A's panel and open set follow.
      const alertId = (seen.find((m) => m.type === 'alert' && (m.alert as { rule: string }).rule === 'hr-fanout') as unknown as { alert: { id: string } }).alert
        .id;
      expect((await b.api(clinician.token, 'POST', `/api/v1/alerts/${alertId}/acknowledge`, {})).status).toBe(200);
      await eventually(
        () => a.services.alerts.service.active().find((x) => x.id === alertId)?.status,
        (s) => s === 'acknowledged',
        5_000,
      );
    } finally {
      ws.close();
    }
  }, 90_000);
});
