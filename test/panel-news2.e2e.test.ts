/**
 * Issue 11 defect 5: the panel (fed by live `news2` messages) must agree with the patient page. A patient
 * with an incomplete set and RR 21 showed "≥ 0" on the panel and "≥ 2" on the page: the live message was
 * sent only when the complete score changed, and an incomplete set has none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bootApp, type TestApp } from './support/app.ts';
import { eventually } from './support/eventually.ts';

describe('panel NEWS2 agrees with the patient page', () => {
  let app: TestApp;
  afterAll(async () => app && (await app.stop()));
  let clinician: { token: string; practitionerId: string | null };
  let patientId: string;
  let device: { id: string; secret: string };

  beforeAll(async () => {
    app = await bootApp();
    const admin = (await app.tokenFor('admin')).token;
    clinician = await app.tokenFor('clinician');
    patientId = (await app.services.patientService.create({ name: 'Resp Rate', birthDate: '1950-01-01' }, 'system')).id;
    await app.services.patientService.assignClinician(patientId, clinician.practitionerId!, 'system');
    device = (await app.api<{ id: string; secret: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
  }, 180_000);

  it('a change of the partial score (RR 21 on an incomplete set) reaches the panel live', async () => {
    const ws = new WebSocket(`${app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${clinician.token}`);
    const news2: Array<{ partialScore: number; score: number | null; minimumRisk: string; complete: boolean }> = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString());
      if (msg.type === 'news2' && msg.patientId === patientId) news2.push(msg);
    });
    await new Promise((r) => ws.once('open', r));
    await new Promise((r) => setTimeout(r, 200));
    try {
      // Incomplete set (no blood pressure): heart rate, SpO2 and temperature all score 0.
      expect((await app.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { hr: 80, spo2: 97, temp: 37 })).status).toBe(202);
      await eventually(
        () => news2.length,
        (n) => n >= 1,
      );
      expect(news2.at(-1)).toMatchObject({ partialScore: 0, complete: false, score: null });
      // RR 21 scores 2 (RCP 2017 chart 1); the complete score is still unknown.
      expect((await app.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { rr: 21 })).status).toBe(202);
      await eventually(
        () => news2.at(-1)?.partialScore,
        (p) => p === 2,
        15_000,
      );
      const page = await app.api<{ news2: { partialScore: number; minimumRisk: string } }>(clinician.token, 'GET', `/api/v1/patients/${patientId}/derived`);
      const panel = await app.api<Array<{ id: string; news2: { partialScore: number } }>>(clinician.token, 'GET', '/api/v1/patients');
      expect(page.body.news2.partialScore).toBe(2);
      expect(panel.body.find((p) => p.id === patientId)?.news2.partialScore).toBe(2);
      expect(news2.at(-1)).toMatchObject({ partialScore: page.body.news2.partialScore, minimumRisk: page.body.news2.minimumRisk, complete: false });
    } finally {
      ws.close();
    }
  });
});
