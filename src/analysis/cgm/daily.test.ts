import { describe, expect, it } from 'vitest';
import { cgmDailySummaries, cgmWindowSummary } from './daily.ts';
import type { CgmReading } from './types.ts';

const T0 = Date.parse('2026-01-05T00:00:00Z');
const MIN = 60_000;
const DAY = 86_400_000;
/** Two whole days at 5 min: day 1 all 100 mg/dL, day 2 all 200. */
const readings: CgmReading[] = Array.from({ length: 576 }, (_, i) => ({ ts: T0 + i * 5 * MIN, mgdl: i < 288 ? 100 : 200 }));

describe('CGM summaries', () => {
  it('splits by local calendar day', () => {
    const days = cgmDailySummaries(readings);
    expect(days.map((d) => [d.date, d.metrics.mean, d.metrics.activePercent])).toEqual([
      ['2026-01-05', 100, 100],
      ['2026-01-06', 200, 100],
    ]);
    // At UTC+12 local midnight is 12:00Z: 5 Jan local holds the first 12 h, 7 Jan local the last 12 h.
    const shifted = cgmDailySummaries(readings, { utcOffsetMinutes: 720 });
    expect(shifted.map((d) => [d.date, d.metrics.readings, d.metrics.mean])).toEqual([
      ['2026-01-05', 144, 100],
      ['2026-01-06', 288, 150],
      ['2026-01-07', 144, 200],
    ]);
  });

  it('summarises the window ending now, with targets and events', () => {
    const now = T0 + 2 * DAY - 5 * MIN; // the last reading
    const s = cgmWindowSummary(readings, now);
    expect(s.metrics).toMatchObject({ readings: 576, mean: 150, tir: 50, tar180: 50, sufficient: false });
    expect(s.metrics!.days).toBe(14);
    expect(s.metrics!.activePercent).toBeCloseTo((576 / 4032) * 100, 10);
    expect(s.targets!.pass).toBe(false);
    expect(s.events).toEqual([expect.objectContaining({ kind: 'hyper-level1', start: T0 + DAY, ongoing: true })]);
    expect(cgmWindowSummary(readings, now, { days: 1 }).metrics).toMatchObject({ readings: 288, mean: 200, activePercent: 100 });
  });

  it('returns nulls for an empty window', () => {
    expect(cgmWindowSummary([], T0)).toEqual({ metrics: null, targets: null, events: [] });
  });
});
