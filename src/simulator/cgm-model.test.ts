import { describe, expect, it } from 'vitest';
import { createCgmModel, CGM_INTERVAL_MS } from './cgm-model.ts';
import { scenarioEffects, SCENARIOS, scenarioLengthMs } from './scenarios.ts';
import { BY_KEY } from '../domain/codes.ts';
import { DAY_MS, MINUTE_MS } from './random.ts';
import type { PatientProfile, Scenario } from './types.ts';

const T0 = Date.UTC(2026, 10, 10);

function profile(conditions: PatientProfile['conditions'], glucose: number): PatientProfile {
  return {
    age: 60,
    sex: 'female',
    conditions,
    spo2Scale: 1,
    ecgAmplitude: 1100,
    baseline: { hr: 70, spo2: 97, rr: 15, temp: 36.8, sbp: 125, dbp: 78, weight: 70, glucose },
  };
}

function trace(p: PatientProfile, days: number, scenario?: Scenario, seed = 5): number[] {
  const model = createCgmModel(p, seed);
  const out: number[] = [];
  for (let t = 0; t < days * DAY_MS; t += CGM_INTERVAL_MS) out.push(model.read(T0 + t, scenarioEffects(scenario, t)));
  return out;
}

const stats = (x: number[]) => {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
  return { mean, cv: sd / mean, min: Math.min(...x), max: Math.max(...x) };
};

describe('CGM model', () => {
  it('gives 14 days of plausible type 1 diabetes glucose inside the physical range', () => {
    const x = trace(profile(['diabetes-t1'], 140), 14);
    expect(x).toHaveLength(14 * 288);
    const info = BY_KEY.get('glucose')!;
    expect(x.every((g) => Number.isInteger(g) && g >= info.min && g <= info.max && g >= 40 && g <= 400)).toBe(true);
    const s = stats(x);
    expect(s.mean).toBeGreaterThan(120);
    expect(s.mean).toBeLessThan(220);
    expect(s.cv).toBeGreaterThan(0.2); // T1D is variable (consensus target CV ≤ 36 %)
    expect(s.max).toBeGreaterThan(220); // post-meal excursions
  });

  it('keeps a person without diabetes in the normal range', () => {
    const s = stats(trace(profile([], 90), 3));
    expect(s.mean).toBeGreaterThan(80);
    expect(s.mean).toBeLessThan(120);
    expect(s.min).toBeGreaterThan(55);
    expect(s.max).toBeLessThan(200);
  });

  it('hypoglycaemia scenario goes below 54 mg/dL and then recovers', () => {
    const scenario: Scenario = { kind: 'hypoglycaemia', startAfterMs: 30 * MINUTE_MS };
    const x = trace(profile(['diabetes-t1'], 140), 0.25, scenario);
    const at = (ms: number) => x[Math.floor(ms / CGM_INTERVAL_MS)]!;
    const d = SCENARIOS.hypoglycaemia;
    const lowStart = 30 * MINUTE_MS + d.onsetMs;
    const low = x.slice(lowStart / CGM_INTERVAL_MS, (lowStart + d.holdMs) / CGM_INTERVAL_MS);
    expect(Math.max(...low)).toBeLessThan(54);
    expect(at(30 * MINUTE_MS + scenarioLengthMs(scenario) + 10 * MINUTE_MS)).toBeGreaterThan(70);
  });

  it('is reproducible from its seed', () => {
    expect(trace(profile(['diabetes-t2'], 130), 1, undefined, 9)).toEqual(trace(profile(['diabetes-t2'], 130), 1, undefined, 9));
  });
});
