/**
 * NEWS2 scale 2 patients (prescribed SpO2 88–92 %) are not alarmed at 89 % by the clinic's "SpO2 < 90 %"
 * rule; their SpO2 alarm sits below the target range (< 86 %) unless a patient-level rule says otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';

const MIN = 60_000;

describe('SpO2 alarm follows the NEWS2 scale', () => {
  let app: TestApp;
  let admin: string;
  beforeAll(async () => {
    app = await bootApp();
    admin = (await app.tokenFor('admin')).token;
  });
  afterAll(async () => app && (await app.stop()));

  async function spo2Alerts(patientId: string) {
    return (
      await app.api<Array<{ rule: string; severity: string; message?: string }>>(admin, 'GET', `/api/v1/alerts?patient=${patientId}&status=open`)
    ).body.filter((a) => a.rule === 'spo2-low');
  }

  /** One reading every 30 s of device time from `start`. */
  async function feed(deviceId: string, values: number[], seq0: number, start: number) {
    for (const [i, v] of values.entries()) {
      const r = await app.services.ingest.acceptTelemetry(deviceId, JSON.stringify({ ts: start + i * 30_000, seq: seq0 + i, spo2: v }));
      expect(r.ok).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 500));
  }

  it('does not alarm a scale-2 patient at 89 %, alarms at 84 %, and alarms a scale-1 patient at 89 %', async () => {
    const s = app.services;
    const copd = (await s.patientService.create({ name: 'Copd Patient', settings: { spo2Scale: 2 } }, 'system')).id;
    const other = (await s.patientService.create({ name: 'Scale One' }, 'system')).id;
    const d1 = await s.deviceService.provision({ patientId: copd, type: 'pulse-oximeter' }, 'system');
    const d2 = await s.deviceService.provision({ patientId: other, type: 'pulse-oximeter' }, 'system');

    const t0 = Date.now() - 9 * MIN;
    await feed(d1.id, Array(8).fill(89), 1, t0); // 4 min at 89 %: inside the 88–92 % target
    await feed(d2.id, Array(8).fill(89), 1, t0);
    expect(await spo2Alerts(copd)).toHaveLength(0);
    expect(await spo2Alerts(other)).toHaveLength(1);

    await feed(d1.id, Array(8).fill(84), 100, t0 + 4.5 * MIN); // then 4 min at 84 %: below the scale-2 alarm
    const alerts = await spo2Alerts(copd);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].severity).toBe('critical');
    expect(JSON.stringify(alerts[0])).toMatch(/86/);
  });
});
