/**
 * Continuous glucose monitor: one interstitial glucose value every 5 minutes.
 *
 * glucose = fasting baseline + Σ meals (carbohydrate absorption) − Σ insulin action + dawn phenomenon
 *         + slow drift (Ornstein–Uhlenbeck) + sensor noise, then pulled toward a scenario's target.
 * Meal absorption follows the gut model of Hovorka et al. 2004 (rate ∝ t·e^(−t/tmax)/tmax², tmax ≈ 40–60
 * min); the glucose excursion is taken proportional to it. Rapid-acting insulin action follows the same
 * shape with a later peak (≈ 75 min). Meals are planned per day from the seed, so any day is reproducible.
 * Deterministic: a seeded generator and the times passed in; no clock, no I/O.
 */
import { type Rng, createRng, ouStep, clamp, hourOfDay, hashSeed, MINUTE_MS, HOUR_MS, DAY_MS } from './random.ts';
import type { PatientProfile } from './types.ts';
import type { ScenarioEffects } from './scenarios.ts';

export const CGM_INTERVAL_MS = 5 * MINUTE_MS;
/** Reporting range of common CGMs (values outside read "LOW"/"HIGH"), mg/dL. */
export const CGM_MIN = 40;
export const CGM_MAX = 400;

interface Meal {
  tMs: number;
  /** Peak glucose rise from the carbs, mg/dL. */
  rise: number;
  /** Peak glucose fall from the bolus, mg/dL (0 without insulin). */
  insulinFall: number;
}

type Metabolism = 'normal' | 't1' | 't2';

function metabolism(profile: PatientProfile): Metabolism {
  if (profile.conditions.includes('diabetes-t1')) return 't1';
  if (profile.conditions.includes('diabetes-t2')) return 't2';
  return 'normal';
}

/** Shape with peak 1 at `tmax` (Hovorka gut absorption, normalised): (t/tmax)·e^(1 − t/tmax). */
function absorption(dtMs: number, tmaxMs: number): number {
  if (dtMs <= 0) return 0;
  const x = dtMs / tmaxMs;
  return x * Math.exp(1 - x);
}

const CARB_TMAX_MS = 50 * MINUTE_MS;
const INSULIN_TMAX_MS = 75 * MINUTE_MS;

/** Breakfast, lunch, dinner (and sometimes a snack) for one UTC day, from the seed alone. */
function mealsForDay(day: number, seed: number, kind: Metabolism): Meal[] {
  const rng = createRng(hashSeed(`meals:${day}`, seed));
  const slots = [7.5, 12.75, 19];
  if (rng.next() < 0.4) slots.push(15.5 + rng.uniform(0, 1.5));
  return slots.map((hour) => {
    const carbs = rng.uniform(25, 85); // g
    // mg/dL per g of carbohydrate at the excursion's peak (insulin-deficient patients rise more).
    const gain = kind === 't1' ? 3.2 : kind === 't2' ? 2.0 : 0.7;
    // Bolus covers the meal imperfectly; sometimes over-covers, giving a late dip.
    const coverage = kind === 't1' ? rng.uniform(0.45, 1.05) : 0;
    return {
      tMs: day * DAY_MS + (hour + rng.normal() * 0.5) * HOUR_MS,
      rise: carbs * gain,
      insulinFall: carbs * gain * coverage * 0.8,
    };
  });
}

export interface CgmModel {
  /** One sensor reading (integer mg/dL) at `tMs`; times must increase. */
  read(tMs: number, effects: ScenarioEffects): number;
  /** Noise-free glucose at the last read, mg/dL (for tests). */
  lastTrue(): number;
}

export function createCgmModel(profile: PatientProfile, seed: number): CgmModel {
  const kind = metabolism(profile);
  const rng: Rng = createRng(seed);
  const driftSd = kind === 't1' ? 25 : kind === 't2' ? 15 : 6; // mg/dL
  const dawn = kind === 'normal' ? 5 : 25; // mg/dL, peak ~06:00 (dawn phenomenon)
  const mealCache = new Map<number, Meal[]>();
  const meals = (day: number): Meal[] => {
    let m = mealCache.get(day);
    if (!m) {
      m = mealsForDay(day, seed, kind);
      mealCache.set(day, m);
      if (mealCache.size > 8) mealCache.delete(mealCache.keys().next().value as number);
    }
    return m;
  };
  let drift = 0;
  let lastT: number | null = null;
  let sensorError = 0; // slowly varying calibration error, mg/dL
  let truth = profile.baseline.glucose;

  return {
    read(tMs, effects) {
      const dt = lastT === null ? 0 : Math.max(0, tMs - lastT);
      lastT = lastT === null ? tMs : Math.max(lastT, tMs);
      drift = ouStep(drift, 0, driftSd, 2 * HOUR_MS, dt, rng);
      sensorError = ouStep(sensorError, 0, 4, 6 * HOUR_MS, dt, rng);
      const day = Math.floor(tMs / DAY_MS);
      let g = profile.baseline.glucose + drift;
      for (const meal of [...meals(day - 1), ...meals(day)]) {
        g += meal.rise * absorption(tMs - meal.tMs, CARB_TMAX_MS);
        g -= meal.insulinFall * absorption(tMs - meal.tMs, INSULIN_TMAX_MS);
      }
      const h = hourOfDay(tMs);
      g += dawn * Math.exp(-((h - 6) ** 2) / (2 * 1.5 ** 2));
      // Endogenous counter-regulation keeps a non-scenario value from crashing below ~65 mg/dL.
      if (g < 70) g = 70 - (70 - g) * 0.3;
      if (effects.glucoseTarget !== null) g = g * (1 - effects.severity) + effects.glucoseTarget * effects.severity;
      truth = g;
      // Sensor: MARD ≈ 9 %: proportional noise plus a floor, and the slow calibration error.
      const measured = g + sensorError * (g / 120) + rng.normal() * Math.max(3, 0.06 * g);
      return Math.round(clamp(measured, CGM_MIN, CGM_MAX));
    },
    lastTrue: () => truth,
  };
}
