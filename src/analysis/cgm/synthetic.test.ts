import { describe, expect, it } from 'vitest';
import { computeCgmMetrics } from './metrics.ts';
import { agpProfile } from './agp.ts';
import { generateSyntheticCgm, mulberry32 } from './synthetic.ts';

describe('synthetic CGM', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    expect(generateSyntheticCgm({ seed: 7, days: 2 })).toEqual(generateSyntheticCgm({ seed: 7, days: 2 }));
    expect(generateSyntheticCgm({ seed: 7, days: 2 })).not.toEqual(generateSyntheticCgm({ seed: 8, days: 2 }));
    expect(mulberry32(1)()).toBe(mulberry32(1)());
  });

  it('makes a plausible, sufficient 14-day trace', () => {
    const rs = generateSyntheticCgm({ seed: 42 });
    const m = computeCgmMetrics(rs, { start: Date.parse('2026-01-05T00:00:00Z'), end: Date.parse('2026-01-19T00:00:00Z') })!;
    expect(m.days).toBe(14);
    expect(m.sufficient).toBe(true);
    expect(m.activePercent).toBeGreaterThan(90);
    expect(m.mean).toBeGreaterThan(110);
    expect(m.mean).toBeLessThan(190);
    expect(m.tir).toBeGreaterThan(50);
    expect(rs.every((r) => Number.isInteger(r.mgdl) && r.mgdl >= 40 && r.mgdl <= 400)).toBe(true);
  });

  it('has meals and a nocturnal dip: the median after dinner is above the median at 03:00', () => {
    const agp = agpProfile(generateSyntheticCgm({ seed: 3 }));
    const median = (h: number) => agp.find((p) => p.minute === h * 60)!.p50!;
    expect(median(20)).toBeGreaterThan(median(3) + 30);
    expect(median(8.5)).toBeGreaterThan(median(3) + 30);
  });

  it('profiles differ in control', () => {
    const tir = (profile: 'tight' | 'variable') => computeCgmMetrics(generateSyntheticCgm({ seed: 5, profile }))!.tir;
    expect(tir('tight')).toBeGreaterThan(tir('variable'));
  });
});
