import { describe, expect, it } from 'vitest';
import { computeCgmMetrics, glucoseManagementIndicator, sensorIntervalMin } from './metrics.ts';
import type { CgmReading } from './types.ts';

const T0 = Date.parse('2026-01-05T00:00:00Z');
const MIN = 60_000;
const series = (values: number[], stepMin = 5): CgmReading[] => values.map((mgdl, i) => ({ ts: T0 + i * stepMin * MIN, mgdl }));

describe('computeCgmMetrics (Battelino 2019: % of readings)', () => {
  // Ten readings, one in each band and on each edge: hand-counted below.
  const values = [40, 53, 54, 69, 70, 180, 181, 250, 251, 100];
  const m = computeCgmMetrics(series(values))!;

  it('counts every range with the consensus bounds', () => {
    expect(m.readings).toBe(10);
    expect(m.tbr54).toBe(20); // 40, 53
    expect(m.tbr70).toBe(40); // + 54, 69 (includes <54)
    expect(m.tbr54to69).toBe(20);
    expect(m.tir).toBe(30); // 70, 180, 100 (both ends inclusive)
    expect(m.tar180).toBe(30); // 181, 250, 251 (includes >250)
    expect(m.tar181to250).toBe(20);
    expect(m.tar250).toBe(10); // 251
    expect(m.tbr70 + m.tir + m.tar180).toBe(100);
  });

  it('counts a reading sent twice a second apart once (a re-sync), so the percentages are of measurements (found by review)', () => {
    const day = series(Array.from({ length: 288 }, (_, i) => (i < 24 ? 60 : 120)));
    const resent = [...day, ...day.slice(0, 24).map((r) => ({ ts: r.ts + 1000, mgdl: r.mgdl }))];
    const twice = computeCgmMetrics(resent)!;
    expect(twice.readings).toBe(288);
    expect(twice.tbr70).toBeCloseTo((24 / 288) * 100, 1);
  });

  it('finds the sensor interval (1, 5 or 15 min) from the median gap, so a Libre 1 day is 100 % active, not 33 % (found by review)', () => {
    const libre1 = series(
      Array.from({ length: 96 }, () => 120),
      15,
    );
    expect(sensorIntervalMin(libre1)).toBe(15);
    expect(computeCgmMetrics(libre1, { start: T0, end: T0 + 86_400_000, intervalMin: sensorIntervalMin(libre1) })!.activePercent).toBe(100);
    expect(
      sensorIntervalMin(
        series(
          Array.from({ length: 50 }, () => 120),
          5,
        ),
      ),
    ).toBe(5);
    expect(
      sensorIntervalMin(
        series(
          Array.from({ length: 50 }, () => 120),
          1,
        ),
      ),
    ).toBe(1);
    // Gaps in wear do not change it: 5-minute readings with an hour missing.
    const gappy = [
      ...series(Array.from({ length: 20 }, () => 120)),
      ...series(Array.from({ length: 20 }, () => 120)).map((r) => ({ ...r, ts: r.ts + 3 * 3_600_000 })),
    ];
    expect(sensorIntervalMin(gappy)).toBe(5);
  });

  it('computes mean, sample SD, CV and GMI', () => {
    // sum = 1248 → mean 124.8
    expect(m.mean).toBeCloseTo(124.8, 10);
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - 124.8) ** 2, 0) / 9);
    expect(m.sd).toBeCloseTo(sd, 10);
    expect(m.cv).toBeCloseTo((sd / 124.8) * 100, 10);
    expect(m.gmi).toBeCloseTo(6.295216, 10); // Battelino 2019: GMI = 3.31 + 0.02392 × 124.8
  });

  it('GMI of 154 mg/dL is 7.0 % (Bergenstal 2018 table)', () => {
    expect(glucoseManagementIndicator(154)).toBeCloseTo(6.99, 2);
  });

  it('pregnancy ranges 63–140 inclusive', () => {
    const p = computeCgmMetrics(series([62, 63, 140, 141]))!;
    expect([p.tbr63, p.tir63to140, p.tar140]).toEqual([25, 50, 25]);
  });

  it('measures activity against expected readings at the device interval', () => {
    // Period 00:00–01:00 at 5 min = 12 slots; 9 readings (3 dropped) → 75 %.
    const rs = series(Array(12).fill(100)).filter((_, i) => i % 4 !== 1);
    const a = computeCgmMetrics(rs, { start: T0, end: T0 + 60 * MIN })!;
    expect(a.expectedReadings).toBe(12);
    expect(a.activePercent).toBe(75);
    expect(a.days).toBeCloseTo(1 / 24, 12);
  });

  it('defaults the period to first reading → last + one interval, and caps activity at 100 %', () => {
    const rs = [...series([100, 110, 120]), { ts: T0 + 60_000, mgdl: 105 }]; // a 4th in the first slot
    const a = computeCgmMetrics(rs)!;
    expect(a.end - a.start).toBe(15 * MIN);
    expect(a.activePercent).toBe(100);
  });

  it('is sufficient only with 14 days and ≥70 % active (Battelino 2019)', () => {
    const day = 288; // readings per day at 5 min
    const full = series(Array(14 * day).fill(120));
    expect(computeCgmMetrics(full)!.sufficient).toBe(true);
    expect(computeCgmMetrics(full.slice(0, 13 * day))!.sufficient).toBe(false);
    // 14 days = 4032 expected readings; 70 % is 2822.4, so 2823 passes and 2822 fails.
    const period = { start: T0, end: T0 + 14 * 86_400_000 };
    expect(computeCgmMetrics(full.slice(0, 2823), period)!.sufficient).toBe(true);
    expect(computeCgmMetrics(full.slice(0, 2822), period)!.sufficient).toBe(false);
  });

  it('returns null with no readings in the period', () => {
    expect(computeCgmMetrics([])).toBeNull();
    expect(computeCgmMetrics(series([100]), { start: T0 + MIN * 60, end: T0 + MIN * 120 })).toBeNull();
  });
});
