/**
 * The alert lifecycle through the service, on the real database: raise (de-duplicated), acknowledge,
 * snooze, assign, resolve; who may act (care team and admins; others get 404, patients 403); bad input
 * named; and a listener that throws on `alert.changed` does not undo or block the stored transition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../test/support/app.ts';
import type { Principal } from '../domain/types.ts';
import type { Rule } from './rule-schema.ts';
import type { AlertService } from './alert.service.ts';

describe('alert service', () => {
  let app: TestApp;
  let alerts: AlertService;
  let patientId: string;
  let nurse: Principal;
  let outsider: Principal;
  let patient: Principal;
  let admin: Principal;
  let rule: Rule;

  const principal = async (role: 'admin' | 'clinician' | 'patient', patientOf?: string) => {
    const t = await app.tokenFor(role, { patientId: patientOf });
    return (await app.services.auth.principalFromToken(t.token))!;
  };

  beforeAll(async () => {
    app = await bootApp();
    alerts = app.services.alerts.service;
    patientId = (await app.services.patientService.create({ name: 'Alerted Patient' }, 'system')).id;
    nurse = await principal('clinician');
    await app.services.patientService.assignClinician(patientId, nurse.practitionerId!, 'system');
    outsider = await principal('clinician');
    patient = await principal('patient', patientId);
    admin = await principal('admin');
    rule = (await app.services.alerts.rules.effectiveFor(patientId)).find((r) => r.key === 'spo2-low')!;
  });
  afterAll(async () => app && (await app.stop()));

  const raise = (value: number, severity: 'warning' | 'critical' = 'critical') =>
    alerts.raise({ patientId, rule, subject: 'dev_test', severity, value, message: `SpO2 ${value} %` });

  it('raises once per patient + rule + subject; a second raise updates the same alert', async () => {
    const first = (await raise(85))!;
    const second = (await raise(84))!;
    expect(second.id).toBe(first.id);
    expect((await alerts.list(admin, { patient: patientId, status: 'active' })).map((a) => a.id)).toEqual([first.id]);
  });

  it('the care team acts on it; another clinician gets 404 (no hint it exists); the patient 403', async () => {
    const [a] = await alerts.list(nurse, { patient: patientId, status: 'active' });
    await expect(alerts.acknowledge(outsider, a.id)).rejects.toMatchObject({ status: 404 });
    await expect(alerts.get(patient, a.id)).rejects.toMatchObject({ status: 403 });
    await expect(alerts.list(outsider, { patient: patientId })).rejects.toMatchObject({ status: 404 });
    const acked = await alerts.acknowledge(nurse, a.id, 'seen, calling the patient');
    expect(acked).toMatchObject({ status: 'acknowledged', acknowledgedBy: nurse.userId });
    await expect(alerts.acknowledge(nurse, a.id)).rejects.toMatchObject({ status: 409 });
  });

  it('snooze needs a reason and an end within 24 h; assignment only to staff', async () => {
    const [a] = await alerts.list(nurse, { patient: patientId, status: 'active' });
    await expect(alerts.snooze(nurse, a.id, { minutes: 30 })).rejects.toMatchObject({ status: 400 });
    await expect(alerts.snooze(nurse, a.id, { reason: 'on oxygen', minutes: 60 * 25 })).rejects.toMatchObject({ status: 400 });
    const snoozed = await alerts.snooze(nurse, a.id, { reason: 'on oxygen now', minutes: 30 });
    expect(Date.parse(snoozed.snoozedUntil!) - Date.now()).toBeGreaterThan(29 * 60_000);
    await expect(alerts.assign(nurse, a.id, patient.userId)).rejects.toMatchObject({ status: 400 });
    expect((await alerts.assign(nurse, a.id, admin.userId)).assigneeId).toBe(admin.userId);
  });

  it('a listener that throws on alert.changed neither blocks nor undoes the transition', async () => {
    const off = app.services.events.on('alert.changed', () => {
      throw new Error('broken dashboard listener');
    });
    try {
      const [a] = await alerts.list(nurse, { patient: patientId, status: 'active' });
      const resolved = await alerts.resolve(nurse, a.id, 'recovered');
      expect(resolved.status).toBe('resolved');
      expect((await alerts.get(admin, a.id)).resolutionNote).toBe('recovered');
    } finally {
      off();
    }
  });

  it('lists the most severe first, then the longest waiting; a bad status filter is named', async () => {
    const warn = await alerts.raise({ patientId, rule: { ...rule, key: 'hr-high' }, subject: 'dev_w', severity: 'warning', value: 140, message: 'HR 140' });
    const crit = await alerts.raise({ patientId, rule, subject: 'dev_c', severity: 'critical', value: 80, message: 'SpO2 80 %' });
    const listed = await alerts.list(admin, { patient: patientId, status: 'active' });
    expect(listed.map((a) => a.id)).toEqual([crit!.id, warn!.id]);
    await expect(alerts.list(admin, { status: 'bogus' })).rejects.toThrow(/status must be open, acknowledged, resolved or active/);
  });
});
