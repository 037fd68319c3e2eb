/**
 * ECG from a device, analysed as it arrives: 1 s chunks over real MQTT become a derived heart rate
 * (stamped with the algorithm) and, when the rhythm turns irregular, an AF start event for alerts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { bootApp, type TestApp } from './support/app.ts';
import { eventually } from './support/eventually.ts';
import { createEcgModel } from '../src/simulator/ecg-model.ts';
import { DERIVED_CODES } from '../src/domain/codes.ts';

const FS = 250; // Hz
const SECONDS_SINUS = 40;
const SECONDS_AF = 120;

describe('ECG monitoring in the platform', () => {
  let app: TestApp;
  let patientId: string;
  let device: { id: string; secret: string };
  const afEvents: Array<{ state: string }> = [];

  beforeAll(async () => {
    app = await bootApp();
    patientId = (await app.services.patientService.create({ name: 'Ecg Patient' }, 'system')).id;
    device = await app.services.deviceService.provision({ patientId, type: 'ecg' }, 'system');
    app.services.events.on('ecg.episode', (e) => {
      if (e.kind === 'af' && e.patientId === patientId) afEvents.push(e);
    });
  });
  afterAll(async () => app && (await app.stop()));

  it('derives heart rate from sinus ECG and flags AF when the rhythm turns irregular', async () => {
    const model = createEcgModel({ seed: 42, fs: FS });
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: device.id, password: device.secret, reconnectPeriod: 0 });
    // Chunks stamped back in time so that the whole record sits in the recent past, as a device catching up.
    const start = Date.now() - (SECONDS_SINUS + SECONDS_AF) * 1000;
    let seq = 0;
    const send = async (seconds: number, rhythm: { hr: number; rr: number; af: boolean }) => {
      for (let s = 0; s < seconds; s++, seq++) {
        const samples = model.next(FS, rhythm);
        await client.publishAsync(
          `vigil/v1/devices/${device.id}/ecg`,
          JSON.stringify({ ts: start + seq * 1000, seq, fs: FS, lead: 'II', unit: 'uV', samples }),
          { qos: 1 },
        );
      }
    };
    await send(SECONDS_SINUS, { hr: 72, rr: 15, af: false });
    await send(SECONDS_AF, { hr: 110, rr: 15, af: true });
    await client.endAsync();
    await new Promise((r) => setTimeout(r, 500));

    const hr = (await app.services.repos.readings.range(patientId, DERIVED_CODES.ecgHeartRate.code, start, Date.now())).filter((r) => r.method);
    expect(hr.length).toBeGreaterThan(3);
    expect(hr[0].method).toEqual({ name: 'vigil-ecg', version: expect.any(String) });
    const sinus = hr.filter((r) => r.ts < start + SECONDS_SINUS * 1000);
    expect(sinus.length).toBeGreaterThan(0);
    for (const r of sinus) expect(Math.abs(r.value - 72)).toBeLessThanOrEqual(8);
    expect(afEvents.some((e) => e.state === 'start')).toBe(true);
  });

  it('raises a critical alert when the ECG shows ventricular flutter', async () => {
    const vfDevice = await app.services.deviceService.provision({ patientId, type: 'ecg' }, 'system');
    const admin = (await app.tokenFor('admin')).token;
    const model = createEcgModel({ seed: 7, fs: FS });
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: vfDevice.id, password: vfDevice.secret, reconnectPeriod: 0 });
    const start = Date.now() - 60_000;
    for (let s = 0; s < 50; s++) {
      // 20 s of sinus rhythm, then ventricular flutter: a 5 Hz, ~1 mV sinusoid (the classic VFL waveform).
      const samples =
        s < 20
          ? model.next(FS, { hr: 75, rr: 15, af: false })
          : Array.from({ length: FS }, (_, i) => Math.round(900 * Math.sin((2 * Math.PI * 5 * (s * FS + i)) / FS)));
      await client.publishAsync(
        `vigil/v1/devices/${vfDevice.id}/ecg`,
        JSON.stringify({ ts: start + s * 1000, seq: s, fs: FS, lead: 'II', unit: 'uV', samples }),
        { qos: 1 },
      );
    }
    await client.endAsync();
    let alerts: Array<{ rule: string; severity: string; status: string }> = [];
    for (let i = 0; i < 50 && !alerts.some((a) => a.rule === 'vf'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      alerts = (await app.api<typeof alerts>(admin, 'GET', `/api/v1/alerts?patient=${patientId}&status=open`)).body;
    }
    expect(alerts.find((a) => a.rule === 'vf')).toMatchObject({ severity: 'critical', status: 'open' });
  });

  it('a gap in the signal ends open AF and VF episodes: end events, and the AF episode is stored (issue 11 defect 2)', async () => {
    const dev = await app.services.deviceService.provision({ patientId, type: 'ecg' }, 'system');
    const events: Array<{ type: string; state: string; deviceId: string }> = [];
    const off = app.services.events.on('ecg.episode', (e) => {
      if (e.deviceId === dev.id) events.push({ type: `ecg.${e.kind}`, state: e.state, deviceId: e.deviceId });
    });
    const model = createEcgModel({ seed: 11, fs: FS });
    const start = Date.now() - 10 * 60_000;
    const chunk = (s: number, samples: number[]) =>
      app.services.ingest.acceptEcg(dev.id, JSON.stringify({ ts: start + s * 1000, seq: s, fs: FS, lead: 'II', unit: 'uV', samples }));
    // 30 s sinus, 120 s AF, then nothing for 60 s, then sinus again (the device was off the patient).
    let s = 0;
    for (; s < 30; s++) await chunk(s, model.next(FS, { hr: 72, rr: 15, af: false }));
    for (; s < 150; s++) await chunk(s, model.next(FS, { hr: 110, rr: 15, af: true }));
    await new Promise((r) => setTimeout(r, 300));
    expect(events.filter((e) => e.type === 'ecg.af').map((e) => e.state)).toEqual(['start']);
    for (s = 210; s < 215; s++) await chunk(s, model.next(FS, { hr: 72, rr: 15, af: false }));
    // A chunk after a gap waits for the missing ones, which may be on their way out of order or (a hole
    // longer than 30 s) held by an instance that died until the broker redelivers them: up to 35 s.
    await eventually(
      () => events.filter((e) => e.type === 'ecg.af').length,
      (n) => n >= 2,
      60_000,
    );
    expect(events.filter((e) => e.type === 'ecg.af').map((e) => e.state)).toEqual(['start', 'end']);
    const episodes = (await app.services.repos.readings.range(patientId, DERIVED_CODES.afEpisode.code, start, Date.now())).filter((r) => r.deviceId === dev.id);
    expect(episodes).toHaveLength(1);
    expect(episodes[0].value).toBeGreaterThan(60); // seconds of AF before the gap
    expect(episodes[0].value).toBeLessThanOrEqual(130); // 120 s of AF; onset is back-dated by up to the detection window

    // VF, then a gap: the VF episode ends, so its alert is no longer held open by a stream that stopped.
    for (s = 300; s < 320; s++)
      await chunk(
        s,
        Array.from({ length: FS }, (_, i) => Math.round(900 * Math.sin((2 * Math.PI * 5 * (s * FS + i)) / FS))),
      );
    await eventually(
      () => events.filter((e) => e.type === 'ecg.vf').length,
      (n) => n >= 1,
      60_000,
    );
    expect(events.filter((e) => e.type === 'ecg.vf').map((e) => e.state)).toEqual(['start']);
    for (s = 400; s < 402; s++) await chunk(s, model.next(FS, { hr: 72, rr: 15, af: false }));
    await eventually(
      () => events.filter((e) => e.type === 'ecg.vf').length,
      (n) => n >= 2,
      60_000,
    );
    expect(events.filter((e) => e.type === 'ecg.vf').map((e) => e.state)).toEqual(['start', 'end']);
    off();
  }, 240_000);
});
