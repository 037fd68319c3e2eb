import { describe, expect, it } from 'vitest';
import { SCENARIOS, demoScenario, scenarioEffects, scenarioLengthMs, scenarioSeverity } from './scenarios.ts';
import { createVitalsModel, measureBp, measureVitals } from './physiology/vitals.ts';
import { createRng, MINUTE_MS } from './random.ts';
import type { PatientProfile, Scenario } from './types.ts';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0); // 10:00 UTC: mid-circadian

const typical: PatientProfile = {
  age: 70,
  sex: 'male',
  conditions: ['hypertension'],
  spo2Scale: 1,
  ecgAmplitude: 1200,
  baseline: { hr: 75, spo2: 97, rr: 16, temp: 36.8, sbp: 130, dbp: 80, weight: 82, glucose: 95 },
};

/** NEWS2 (RCP 2017, chart 1, SpO2 scale 1, air, alert) — a local copy so this test depends on nothing else. */
function news2(v: { rr: number; spo2: number; sbp: number; hr: number; temp: number }): number {
  const rr = v.rr <= 8 ? 3 : v.rr <= 11 ? 1 : v.rr <= 20 ? 0 : v.rr <= 24 ? 2 : 3;
  const spo2 = v.spo2 <= 91 ? 3 : v.spo2 <= 93 ? 2 : v.spo2 <= 95 ? 1 : 0;
  const sbp = v.sbp <= 90 ? 3 : v.sbp <= 100 ? 2 : v.sbp <= 110 ? 1 : v.sbp <= 219 ? 0 : 3;
  const hr = v.hr <= 40 ? 3 : v.hr <= 50 ? 1 : v.hr <= 90 ? 0 : v.hr <= 110 ? 1 : v.hr <= 130 ? 2 : 3;
  const temp = v.temp <= 35 ? 3 : v.temp <= 36 ? 1 : v.temp <= 38 ? 0 : v.temp <= 39 ? 1 : 2;
  return rr + spo2 + sbp + hr + temp;
}

/** What the vitals monitor and BP cuff read `atMs` after start, stepping the model every 5 s. */
function observe(scenario: Scenario | undefined, atMs: number, seed = 11) {
  const model = createVitalsModel(typical, seed);
  const rng = createRng(seed);
  for (let t = 0; t < atMs; t += 5_000) model.at(T0 + t, scenarioEffects(scenario, t));
  const truth = model.at(T0 + atMs, scenarioEffects(scenario, atMs));
  return { ...measureVitals(truth, rng), ...measureBp(truth, rng), truth };
}

describe('scenario timeline', () => {
  const s: Scenario = { kind: 'sepsis', startAfterMs: 5 * MINUTE_MS };
  const d = SCENARIOS.sepsis;

  it('is quiet before the start, ramps up monotonically, holds, and recovers', () => {
    expect(scenarioSeverity(s, 4 * MINUTE_MS)).toBe(0);
    let prev = 0;
    for (let t = 5 * MINUTE_MS; t <= 5 * MINUTE_MS + d.onsetMs; t += MINUTE_MS) {
      const sev = scenarioSeverity(s, t);
      expect(sev).toBeGreaterThanOrEqual(prev);
      prev = sev;
    }
    expect(scenarioSeverity(s, 5 * MINUTE_MS + d.onsetMs + d.holdMs / 2)).toBe(1);
    expect(scenarioSeverity(s, 5 * MINUTE_MS + scenarioLengthMs(s) + 1)).toBe(0);
  });

  it('repeats in demo mode, starting within the first minutes', () => {
    for (const kind of Object.keys(SCENARIOS) as Array<keyof typeof SCENARIOS>) {
      const demo = demoScenario(kind);
      expect(demo.startAfterMs).toBeLessThanOrEqual(3 * MINUTE_MS);
      const peak = demo.startAfterMs! + (SCENARIOS[kind].onsetMs + SCENARIOS[kind].holdMs / 2) * demo.timeScale!;
      expect(scenarioSeverity(demo, peak)).toBe(1);
      expect(scenarioSeverity(demo, peak + demo.repeatEveryMs!)).toBe(1);
      expect(scenarioLengthMs(demo)).toBeLessThanOrEqual(demo.repeatEveryMs!);
    }
  });
});

describe('sepsis', () => {
  it('drives NEWS2 to ≥ 7 with every parameter moving the expected way', () => {
    const s: Scenario = { kind: 'sepsis', startAfterMs: MINUTE_MS };
    const before = observe(s, 30_000);
    const peak = observe(s, MINUTE_MS + SCENARIOS.sepsis.onsetMs + 5 * MINUTE_MS);
    expect(news2(before)).toBeLessThanOrEqual(2);
    expect(peak.hr).toBeGreaterThanOrEqual(115);
    expect(peak.rr).toBeGreaterThanOrEqual(25);
    expect(peak.truth.temp).toBeGreaterThanOrEqual(38.8);
    expect(peak.sbp).toBeLessThanOrEqual(100);
    expect(peak.spo2).toBeLessThanOrEqual(93);
    expect(news2({ ...peak, temp: peak.truth.temp })).toBeGreaterThanOrEqual(7);
  });
});

describe('other deteriorations', () => {
  it('COPD exacerbation lowers SpO2 and raises RR', () => {
    const s: Scenario = { kind: 'copd-exacerbation', startAfterMs: 0 };
    const at = SCENARIOS['copd-exacerbation'].onsetMs + MINUTE_MS;
    expect(observe(s, at).truth.spo2).toBeLessThan(observe(undefined, at).truth.spo2 - 4);
    expect(observe(s, at).truth.rr).toBeGreaterThan(observe(undefined, at).truth.rr + 6);
  });

  it('heart-failure weight gain adds ≈ 2 kg at its peak', () => {
    const e = scenarioEffects({ kind: 'hf-weight-gain', startAfterMs: 0 }, SCENARIOS['hf-weight-gain'].onsetMs);
    expect(e.weight).toBeGreaterThanOrEqual(2);
  });

  it('AF episode switches rhythm on and then off', () => {
    const s = demoScenario('af-episode');
    expect(scenarioEffects(s, s.startAfterMs! + MINUTE_MS).af).toBe(true);
    expect(scenarioEffects(s, s.startAfterMs! + scenarioLengthMs(s) + MINUTE_MS).af).toBe(false);
  });
});
