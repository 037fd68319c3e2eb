/**
 * Synthetic CGM traces for tests, demos and the simulator: pure and seeded, so the same options give
 * the same readings on every machine. The shape is physiological enough for an AGP to look real:
 * a fasting baseline, a nocturnal dip around 03:00, a dawn rise, three meals a day with randomised
 * times and sizes, slow drift and sensor noise, clamped to the 40–400 mg/dL range CGMs report, and
 * sensor gaps.
 */
import { DAY_MS, DEFAULT_INTERVAL_MIN, MINUTE_MS, type CgmReading } from './types.ts';
import { mulberry32 } from '../../domain/random.ts';

export type SyntheticProfile = 'tight' | 'typical' | 'variable';

export interface SyntheticCgmOptions {
  seed?: number;
  days?: number; // default 14
  start?: number; // epoch ms of the first reading, default 2026-01-05T00:00:00Z (a local midnight at offset 0)
  intervalMin?: number; // default 5
  profile?: SyntheticProfile; // default 'typical'
  /** Probability (0–1) that a day has one sensor gap of 30–180 min; default 0.3. */
  gapProbability?: number;
}

export { mulberry32 };

const PROFILES = {
  // baseline mg/dL, meal rise mean/sd mg/dL, drift sd, chance per night of a nocturnal low and its depth
  tight: { base: 105, meal: 50, mealSd: 15, drift: 1.5, nightLowP: 0.03, nightLow: 30 },
  typical: { base: 135, meal: 100, mealSd: 35, drift: 3.5, nightLowP: 0.25, nightLow: 70 },
  variable: { base: 155, meal: 145, mealSd: 50, drift: 5.0, nightLowP: 0.4, nightLow: 100 },
} as const;

const MEALS = [
  { at: 7.5 * 60, jitter: 30, scale: 0.9 }, // breakfast, min of day
  { at: 12.75 * 60, jitter: 45, scale: 1.0 },
  { at: 19 * 60, jitter: 60, scale: 1.15 },
];
const MEAL_PEAK_MIN = 55; // min from meal to peak glucose
const gauss = (x: number, mu: number, sigma: number) => Math.exp(-((x - mu) ** 2) / (2 * sigma ** 2));

export function generateSyntheticCgm(opts: SyntheticCgmOptions = {}): CgmReading[] {
  const rand = mulberry32(opts.seed ?? 1);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()); // Box–Muller
  const p = PROFILES[opts.profile ?? 'typical'];
  const days = opts.days ?? 14;
  const start = opts.start ?? Date.parse('2026-01-05T00:00:00Z');
  const intervalMs = (opts.intervalMin ?? DEFAULT_INTERVAL_MIN) * MINUTE_MS;
  const gapP = opts.gapProbability ?? 0.3;

  // Per-day plan: meal times and sizes, an optional nocturnal low, an optional sensor gap.
  const plans = Array.from({ length: days + 1 }, () => ({
    meals: MEALS.map((m) => ({ at: m.at + normal() * m.jitter, rise: Math.max(10, (p.meal + normal() * p.mealSd) * m.scale) })),
    low: rand() < p.nightLowP ? { at: (1 + rand() * 4) * 60, depth: p.nightLow * (0.7 + 0.6 * rand()) } : null,
    gap: rand() < gapP ? { at: rand() * 1440, len: 30 + rand() * 150 } : null,
  }));

  const readings: CgmReading[] = [];
  let drift = 0;
  for (let ts = start; ts < start + days * DAY_MS; ts += intervalMs) {
    const dayIndex = Math.floor((ts - start) / DAY_MS);
    const minute = (ts - start) / MINUTE_MS - dayIndex * 1440;
    drift = 0.97 * drift + normal() * p.drift; // AR(1) slow wander
    let g = p.base - 20 * gauss(minute, 180, 90) + 18 * gauss(minute, 390, 60); // nocturnal dip, dawn rise
    // Meals of this day and the late dinner of the day before (its tail crosses midnight).
    for (const [plan, offset] of [
      [plans[dayIndex], 0],
      [plans[dayIndex - 1], -1440],
    ] as const) {
      if (!plan) continue;
      for (const meal of plan.meals) {
        const x = (minute - offset - meal.at) / MEAL_PEAK_MIN;
        if (x > 0) g += meal.rise * x * Math.exp(1 - x) - 0.15 * meal.rise * gauss(x, 3.2, 0.8); // rise, then insulin undershoot
      }
    }
    const low = plans[dayIndex].low;
    if (low) g -= low.depth * gauss(minute, low.at, 40);
    const gap = plans[dayIndex].gap;
    if (gap && minute >= gap.at && minute < gap.at + gap.len) continue;
    const value = Math.round(Math.min(400, Math.max(40, g + drift + normal() * 3)));
    readings.push({ ts, mgdl: value });
  }
  return readings;
}
