/** CGM readings arriving over a day boundary produce the previous day's time-in-range Observation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { generateSyntheticCgm, computeCgmMetrics } from '../src/analysis/cgm/index.ts';
import { localDayStart } from '../src/platform/time-zone.ts';

const DAY_MS = 86_400_000;

describe('CGM daily summary', () => {
  let app: TestApp;
  beforeAll(async () => (app = await bootApp()));
  afterAll(async () => app && (await app.stop()));

  it('stores yesterday’s time in range with the consensus algorithm when today’s first reading arrives', async () => {
    const s = app.services;
    const patientId = (await s.patientService.create({ name: 'Cgm Patient' }, 'system')).id;
    const dev = await s.deviceService.provision({ patientId, type: 'cgm' }, 'system');
    const dayStart = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
    const series = generateSyntheticCgm({ seed: 9, days: 1, start: dayStart, profile: 'typical' });
    let seq = 0;
    for (const g of [...series, { ts: dayStart + DAY_MS + 60_000, mgdl: 120 }]) {
      const r = await s.ingest.acceptTelemetry(dev.id, JSON.stringify({ ts: g.ts, seq: seq++, glucose: g.mgdl }));
      expect(r.ok).toBe(true);
    }
    const expected = computeCgmMetrics(series, { start: dayStart, end: dayStart + DAY_MS })!;
    let rows = await s.repos.readings.range(patientId, '97510-2', dayStart, dayStart);
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await s.repos.readings.range(patientId, '97510-2', dayStart, dayStart);
    }
    expect(rows).toHaveLength(1);
    expect(rows[0].value).toBeCloseTo(expected.tir, 1);
    expect(rows[0].method?.name).toBe('cgm-consensus-2019-daily');
  });

  it('summarises the patient’s local day, midnight to midnight in their time zone', async () => {
    const s = app.services;
    const patientId = (await s.patientService.create({ name: 'Cgm New York' }, 'system')).id;
    await s.repos.patients.updateSettings(patientId, { timeZone: 'America/New_York' });
    const dev = await s.deviceService.provision({ patientId, type: 'cgm' }, 'system');
    const today = localDayStart('America/New_York', Date.now());
    const yesterday = localDayStart('America/New_York', today - 1);
    expect(Math.abs(yesterday - (Math.floor(yesterday / DAY_MS) * DAY_MS + 5 * 3_600_000))).toBeLessThanOrEqual(3_600_000); // 04:00Z or 05:00Z
    // Lows in the evening (local), which a UTC day would have split over two summaries.
    const series = generateSyntheticCgm({ seed: 4, days: 1, start: yesterday, profile: 'typical' }).filter((g) => g.ts < today);
    let seq = 0;
    for (const g of [...series, { ts: today + 60_000, mgdl: 120 }]) {
      const r = await s.ingest.acceptTelemetry(dev.id, JSON.stringify({ ts: g.ts, seq: seq++, glucose: g.mgdl }));
      expect(r.ok).toBe(true);
    }
    const expected = computeCgmMetrics(series, { start: yesterday, end: today })!;
    let rows = await s.repos.readings.range(patientId, '97510-2', yesterday - DAY_MS, today);
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await s.repos.readings.range(patientId, '97510-2', yesterday - DAY_MS, today);
    }
    expect(rows.map((r) => r.ts)).toEqual([yesterday]);
    expect(rows[0].value).toBeCloseTo(expected.tir, 1);
  });

  it('stores a day’s summary once even when two writers race (unique per patient and day)', async () => {
    const s = app.services;
    const patientId = (await s.patientService.create({ name: 'Cgm Race' }, 'system')).id;
    const dayStart = Math.floor(Date.now() / DAY_MS) * DAY_MS - 2 * DAY_MS;
    const row = {
      patientId,
      deviceId: null,
      system: 'http://loinc.org',
      code: '97510-2',
      value: 71.5,
      unit: '%',
      ts: dayStart,
      seq: null,
      method: { name: 'cgm-consensus-2019-daily', version: '1.0.0' },
    };
    // What two instances do when both see the first reading of a new day: both insert yesterday's summary.
    const [first, second] = await Promise.allSettled([s.ingest.storeDerived([row]), s.ingest.storeDerived([{ ...row }])]);
    expect([first.status, second.status].sort()).toEqual(['fulfilled', 'rejected']);
    expect(((first.status === 'rejected' ? first : second) as PromiseRejectedResult).reason.code).toBe('23505');
    expect(await s.repos.readings.range(patientId, '97510-2', dayStart, dayStart)).toHaveLength(1);
  });
});
