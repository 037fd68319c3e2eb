/**
 * "Write, then emit" and listener isolation on the real server: a listener that throws (or rejects) on
 * every stored batch neither fails the device's request nor stops ingest; the readings are stored, and
 * the other listeners (the live dashboard feed, alert rules) still get every event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { eventually } from './support/eventually.ts';

describe('a broken event listener', () => {
  let app: TestApp;
  let patientId: string;
  let device: { id: string; secret: string };

  beforeAll(async () => {
    app = await bootApp();
    patientId = (await app.services.patientService.create({ name: 'Listener Victim' }, 'system')).id;
    device = await app.services.deviceService.provision({ patientId, type: 'multi' }, 'system');
  });
  afterAll(async () => app && (await app.stop()));

  const send = (body: unknown) =>
    fetch(`${app.httpUrl}/api/v1/devices/${device.id}/telemetry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${device.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('leaves ingest running and every reading stored', async () => {
    let thrown = 0;
    let rejected = 0;
    const seenByOthers: number[] = [];
    const offs = [
      app.services.events.on('readings.stored', () => {
        thrown++;
        throw new Error('listener killed by a test');
      }),
      app.services.events.on('readings.stored', async () => {
        rejected++;
        throw new Error('async listener killed by a test');
      }),
      app.services.events.on(
        'readings.stored',
        (rs) => void seenByOthers.push(...rs.filter((r) => r.patientId === patientId && !r.method).map((r) => r.value)),
      ),
    ];
    try {
      const now = Date.now();
      for (let seq = 1; seq <= 5; seq++) {
        const res = await send({ ts: now - (6 - seq) * 1000, seq, hr: 70 + seq });
        expect(res.status).toBe(202);
      }
      const stored = await app.services.repos.readings.range(patientId, '8867-4', now - 60_000, now + 1000);
      expect(stored.map((r) => r.value)).toEqual([71, 72, 73, 74, 75]);
      expect(thrown).toBeGreaterThanOrEqual(1);
      expect(rejected).toBeGreaterThanOrEqual(1);
      expect(
        await eventually(
          () => [...seenByOthers].sort(),
          (v) => v.length >= 5,
        ),
      ).toEqual([71, 72, 73, 74, 75]);
      // The server is still healthy and the REST view agrees.
      expect((await fetch(`${app.httpUrl}/health`)).status).toBe(200);
      const admin = (await app.tokenFor('admin')).token;
      const series = await app.api<{ points: [number, number][] }>(admin, 'GET', `/api/v1/patients/${patientId}/readings?code=8867-4&from=${now - 60_000}`);
      expect(series.body.points.map((p) => p[1])).toEqual([71, 72, 73, 74, 75]);
    } finally {
      offs.forEach((off) => off());
    }
  });
});
