import { describe, expect, it } from 'vitest';
import { createVitalsModel, measureBp, measureTemperature, measureVitals, measureWeight } from './vitals.ts';
import { makeVirtualPatients } from '../virtual-patients.ts';
import { scenarioEffects, SCENARIOS } from '../scenarios.ts';
import { BY_KEY } from '../../domain/codes.ts';
import { createRng, HOUR_MS } from '../random.ts';
import type { ScenarioKind } from '../types.ts';

const T0 = Date.UTC(2026, 10, 24);

function expectInRange(values: Record<string, number>): void {
  for (const [key, value] of Object.entries(values)) {
    const info = BY_KEY.get(key);
    expect(info, `unknown key ${key}`).toBeDefined();
    expect(value, key).toBeGreaterThanOrEqual(info!.min);
    expect(value, key).toBeLessThanOrEqual(info!.max);
  }
}

describe('vitals model', () => {
  it('keeps every device reading inside physical and plausible ranges, for every scenario', () => {
    const patients = makeVirtualPatients(8, 3);
    const kinds = Object.keys(SCENARIOS) as ScenarioKind[];
    for (const [i, p] of patients.entries()) {
      const scenario = { kind: kinds[i % kinds.length]!, startAfterMs: 0 };
      const model = createVitalsModel(p.profile, i);
      const rng = createRng(i);
      for (let t = 0; t < 24 * HOUR_MS; t += 5 * 60_000) {
        const v = model.at(T0 + t, scenarioEffects(scenario, t));
        const vit = measureVitals(v, rng);
        const bp = measureBp(v, rng);
        expectInRange({ ...vit, ...bp, ...measureWeight(v, rng), ...measureTemperature(v, rng) });
        expect(Number.isInteger(vit.hr) && Number.isInteger(vit.spo2) && Number.isInteger(vit.rr)).toBe(true);
        expect(vit.spo2).toBeGreaterThanOrEqual(75);
        expect(vit.hr).toBeGreaterThanOrEqual(35);
        expect(vit.hr).toBeLessThanOrEqual(200);
        expect(bp.sbp).toBeGreaterThan(bp.dbp);
      }
    }
  });

  it('has a circadian rhythm: heart rate lower at 04:00 than at 16:00 on average', () => {
    const p = makeVirtualPatients(1, 2)[0]!;
    const meanAt = (hour: number): number => {
      let sum = 0;
      for (let day = 0; day < 20; day++) {
        const model = createVitalsModel(p.profile, day);
        sum += model.at(T0 + day * 24 * HOUR_MS + hour * HOUR_MS, scenarioEffects(undefined, 0)).hr;
      }
      return sum / 20;
    };
    expect(meanAt(16) - meanAt(4)).toBeGreaterThan(5);
  });
});

describe('virtual patients', () => {
  it('are reproducible, aged 45–90, uniquely named, and cover every scenario', () => {
    const now = Date.UTC(2026, 0, 1);
    const a = makeVirtualPatients(20, 42, now);
    expect(makeVirtualPatients(20, 42, now)).toEqual(a);
    expect(new Set(a.map((p) => p.name)).size).toBe(20);
    for (const p of a) {
      const age = (now - Date.parse(p.birthDate)) / (365.25 * 24 * HOUR_MS);
      expect(age).toBeGreaterThanOrEqual(45);
      expect(age).toBeLessThan(91);
      expect(p.deviceKinds.length).toBeGreaterThan(0);
      if (p.profile.conditions.includes('copd')) expect(p.profile.spo2Scale).toBe(2);
    }
    expect(new Set(a.flatMap((p) => (p.scenario ? [p.scenario.kind] : []))).size).toBe(Object.keys(SCENARIOS).length);
  });
});
