import { describe, expect, it } from 'vitest';
import { agpProfile, minuteOfDay, quantileSorted } from './agp.ts';
import type { CgmReading } from './types.ts';

const T0 = Date.parse('2026-01-05T00:00:00Z');
const DAY = 86_400_000;
const MIN = 60_000;

describe('AGP percentiles by time of day', () => {
  it('interpolates percentiles linearly (type 7)', () => {
    const v = [10, 20, 30, 40, 50];
    expect(quantileSorted(v, 0.5)).toBe(30);
    expect(quantileSorted(v, 0.25)).toBe(20);
    expect(quantileSorted(v, 0.05)).toBeCloseTo(12, 10); // h = 0.2 → 10 + 0.2 × 10
    expect(quantileSorted(v, 0.95)).toBeCloseTo(48, 10);
  });

  it('pools each time of day across days within a centred 60-min window', () => {
    // 10 days; at 08:00 day d the value is 100 + 10d; nothing else within ±30 min.
    const rs: CgmReading[] = Array.from({ length: 10 }, (_, d) => ({ ts: T0 + d * DAY + 8 * 60 * MIN, mgdl: 100 + 10 * d }));
    const agp = agpProfile(rs);
    expect(agp).toHaveLength(96); // every 15 min
    const at8 = agp.find((p) => p.minute === 480)!;
    expect(at8).toMatchObject({ n: 10, p50: 145, p25: 122.5, p75: 167.5 }); // values 100…190
    expect(at8.p5).toBeCloseTo(104.5, 10);
    expect(at8.p95).toBeCloseTo(185.5, 10);
    // 07:30 is the window [07:00, 08:00): 08:00 excluded. 08:15 is [07:45, 08:45): included.
    expect(agp.find((p) => p.minute === 450)).toMatchObject({ n: 0, p50: null });
    expect(agp.find((p) => p.minute === 495)!.n).toBe(10);
  });

  it('wraps around midnight and uses local time', () => {
    const rs: CgmReading[] = Array.from({ length: 6 }, (_, d) => ({ ts: T0 + d * DAY + 23 * 60 * MIN + 50 * MIN, mgdl: 90 }));
    expect(agpProfile(rs)[0].n).toBe(6); // 23:50 is within 30 min of 00:00
    expect(minuteOfDay(T0 + 60 * MIN, 120)).toBe(180); // 01:00Z at UTC+2 is 03:00
    expect(minuteOfDay(T0 + 60 * MIN, -120)).toBe(1380); // … at UTC−2 is 23:00
  });

  it('leaves a gap where fewer than 5 readings pool', () => {
    const rs = Array.from({ length: 4 }, (_, d) => ({ ts: T0 + d * DAY, mgdl: 100 }));
    expect(agpProfile(rs)[0]).toMatchObject({ n: 4, p50: null });
  });
});
