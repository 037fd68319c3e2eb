import { describe, expect, it } from 'vitest';
import { computeCgmMetrics } from './metrics.ts';
import { evaluateTargets } from './targets.ts';

const T0 = Date.parse('2026-01-05T00:00:00Z');
/** 100 readings: `counts` of each value, the rest 120 mg/dL. */
function metricsOf(counts: Record<number, number>) {
  const values: number[] = [];
  for (const [v, n] of Object.entries(counts)) for (let i = 0; i < n; i++) values.push(Number(v));
  while (values.length < 100) values.push(120);
  return computeCgmMetrics(values.map((mgdl, i) => ({ ts: T0 + i * 300_000, mgdl })))!;
}
const byMetric = (e: ReturnType<typeof evaluateTargets>) => Object.fromEntries(e.results.map((r) => [r.metric, r.pass]));

describe('consensus targets (Battelino 2019 Table 2), exactly as published', () => {
  it('standard: TIR >70 % fails at exactly 70 % and passes at 71 %', () => {
    expect(byMetric(evaluateTargets(metricsOf({ 200: 30 }))).tir).toBe(false); // TIR 70
    expect(byMetric(evaluateTargets(metricsOf({ 200: 29 }))).tir).toBe(true); // TIR 71
  });

  it('standard: TBR<70 <4 %, TBR<54 <1 %, TAR>180 <25 %, TAR>250 <5 %', () => {
    const edge = byMetric(evaluateTargets(metricsOf({ 60: 3, 50: 1, 200: 20, 300: 5 })));
    // tbr70 = 4 (fail), tbr54 = 1 (fail), tar180 = 25 (fail), tar250 = 5 (fail)
    expect(edge).toMatchObject({ tbr70: false, tbr54: false, tar180: false, tar250: false });
    const inside = byMetric(evaluateTargets(metricsOf({ 60: 3, 200: 20, 300: 4 })));
    // tbr70 = 3, tbr54 = 0, tar180 = 24, tar250 = 4
    expect(inside).toMatchObject({ tbr70: true, tbr54: true, tar180: true, tar250: true, tir: true });
  });

  it('CV ≤36 % passes at 36', () => {
    const m = { ...metricsOf({}), cv: 36 };
    expect(byMetric(evaluateTargets(m)).cv).toBe(true);
    expect(byMetric(evaluateTargets({ ...m, cv: 36.01 })).cv).toBe(false);
  });

  it('older/high-risk: TIR >50 %, TBR<70 <1 %, TAR>250 <10 %', () => {
    const e = evaluateTargets(metricsOf({ 60: 1, 200: 40, 300: 9 }), 'older-high-risk');
    // tir 50 (fail), tbr70 1 (fail), tar180 49 (pass), tar250 9 (pass)
    expect(byMetric(e)).toMatchObject({ tir: false, tbr70: false, tar180: true, tar250: true });
    expect(e.pass).toBe(false);
  });

  it('pregnancy: 63–140 >70 %, <63 <4 %, <54 <1 %, >140 <25 %', () => {
    const e = evaluateTargets(metricsOf({ 60: 3, 150: 24 }), 'pregnancy');
    // tir63to140 73, tbr63 3, tbr54 0, tar140 24: all pass
    expect(e.pass).toBe(true);
    expect(e.results.map((r) => r.metric)).toEqual(['tir63to140', 'tbr63', 'tbr54', 'tar140']);
    expect(byMetric(evaluateTargets(metricsOf({ 60: 4, 150: 25 }), 'pregnancy'))).toMatchObject({ tbr63: false, tar140: false });
  });
});
