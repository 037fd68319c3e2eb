/**
 * True (noise-free) vital signs of one patient over time, and what each device reads from them.
 *
 * True value = baseline + slow drift (Ornstein–Uhlenbeck, τ ≈ 20 min) + circadian rhythm + scenario.
 * A device reading = true value + measurement noise, rounded as the device rounds, clamped to what the
 * device can display and to the physical ranges of `domain/codes.ts`.
 * Deterministic: a seeded generator and the times passed in; no clock, no I/O.
 */
import { BY_KEY } from '../../domain/codes.ts';
import { type Rng, createRng, ouStep, clamp, hourOfDay, MINUTE_MS, DAY_MS } from '../random.ts';
import type { PatientProfile } from '../types.ts';
import type { ScenarioEffects } from '../scenarios.ts';

export interface TrueVitals {
  ts: number;
  hr: number;
  spo2: number;
  rr: number;
  temp: number;
  sbp: number;
  dbp: number;
  weight: number;
  af: boolean;
}

type DriftKey = 'hr' | 'spo2' | 'rr' | 'temp' | 'sbp' | 'dbp' | 'weight';

/** Drift: stationary SD (unit of the vital) and correlation time. */
const DRIFT: Record<DriftKey, { sd: number; tauMs: number }> = {
  hr: { sd: 4, tauMs: 20 * MINUTE_MS },
  spo2: { sd: 0.7, tauMs: 20 * MINUTE_MS },
  rr: { sd: 1.2, tauMs: 20 * MINUTE_MS },
  temp: { sd: 0.12, tauMs: 60 * MINUTE_MS },
  sbp: { sd: 6, tauMs: 30 * MINUTE_MS },
  dbp: { sd: 4, tauMs: 30 * MINUTE_MS },
  weight: { sd: 0.3, tauMs: 3 * DAY_MS },
};

/**
 * Circadian amplitude and acrophase (hour of peak): HR, BP and temperature are lowest in the early
 * morning and highest in the afternoon/evening (nocturnal BP dip ≈ 10–20 %).
 */
const CIRCADIAN: Partial<Record<DriftKey, { amplitude: number; peakHour: number }>> = {
  hr: { amplitude: 5, peakHour: 16 },
  temp: { amplitude: 0.25, peakHour: 17 },
  sbp: { amplitude: 7, peakHour: 14 },
  dbp: { amplitude: 5, peakHour: 14 },
  rr: { amplitude: 0.8, peakHour: 15 },
};

export interface VitalsModel {
  /** The true state at `tMs` (times must not go backwards; an earlier time returns the last state). */
  at(tMs: number, effects: ScenarioEffects): TrueVitals;
}

export function createVitalsModel(profile: PatientProfile, seed: number): VitalsModel {
  const rng = createRng(seed);
  const drift: Record<DriftKey, number> = { hr: 0, spo2: 0, rr: 0, temp: 0, sbp: 0, dbp: 0, weight: 0 };
  for (const k of Object.keys(drift) as DriftKey[]) drift[k] = DRIFT[k].sd * rng.normal() * 0.5;
  let lastT: number | null = null;
  let last: TrueVitals | null = null;

  return {
    at(tMs, effects) {
      if (last && lastT !== null && tMs < lastT) return last;
      const dt = lastT === null ? 0 : tMs - lastT;
      for (const k of Object.keys(drift) as DriftKey[]) drift[k] = ouStep(drift[k], 0, DRIFT[k].sd, DRIFT[k].tauMs, dt, rng);
      lastT = tMs;
      const h = hourOfDay(tMs);
      const circ = (k: DriftKey): number => {
        const c = CIRCADIAN[k];
        return c ? c.amplitude * Math.cos((2 * Math.PI * (h - c.peakHour)) / 24) : 0;
      };
      const b = profile.baseline;
      const v = (k: DriftKey): number => b[k] + drift[k] + circ(k) + effects[k];
      // SpO2 cannot exceed 100 and sits near a ceiling: drift only pulls it down from a high baseline.
      const spo2Ceiling = profile.spo2Scale === 2 ? 96 : 100;
      last = {
        ts: tMs,
        hr: clamp(v('hr'), 30, 220),
        spo2: clamp(Math.min(v('spo2'), spo2Ceiling), 70, 100),
        rr: clamp(v('rr'), 6, 50),
        temp: clamp(v('temp'), 34, 42),
        sbp: clamp(v('sbp'), 60, 240),
        dbp: clamp(Math.min(v('dbp'), v('sbp') - 20), 35, 140),
        weight: clamp(v('weight'), 30, 300),
        af: effects.af,
      };
      return last;
    },
  };
}

/** Clamp to the physical range that Vigil's ingest accepts for this shorthand key (codes.ts). */
function inRange(key: string, value: number): number {
  const info = BY_KEY.get(key);
  return info ? clamp(value, info.min, info.max) : value;
}

/** Pulse oximeter / watch: integer HR, SpO2, RR; temperature to 0.1 °C. AF makes the pulse rate jumpy. */
export function measureVitals(v: TrueVitals, rng: Rng): { hr: number; spo2: number; rr: number; temp: number } {
  const hrNoise = v.af ? 8 : 1.5;
  return {
    hr: inRange('hr', Math.round(v.hr + hrNoise * rng.normal())),
    spo2: inRange('spo2', Math.min(100, Math.round(v.spo2 + 0.6 * rng.normal()))),
    rr: inRange('rr', Math.round(v.rr + 0.8 * rng.normal())),
    temp: inRange('temp', Math.round((v.temp - 0.3 + 0.08 * rng.normal()) * 10) / 10), // skin/wrist reads low
  };
}

/** Oscillometric cuff: integer SBP/DBP (±5/±4 mm[Hg] per AAMI/ISO 81060-2 tolerance), pulse rate. */
export function measureBp(v: TrueVitals, rng: Rng): { sbp: number; dbp: number; hr: number } {
  const sbp = Math.round(v.sbp + 4 * rng.normal());
  const dbp = Math.round(Math.min(v.dbp + 3 * rng.normal(), sbp - 15));
  return { sbp: inRange('sbp', sbp), dbp: inRange('dbp', dbp), hr: inRange('hr', Math.round(v.hr + 2 * rng.normal())) };
}

/** Bathroom scale: 0.1 kg resolution. */
export function measureWeight(v: TrueVitals, rng: Rng): { weight: number } {
  return { weight: inRange('weight', Math.round((v.weight + 0.1 * rng.normal()) * 10) / 10) };
}

/** Clinical (tympanic/oral) thermometer: 0.1 °C resolution. */
export function measureTemperature(v: TrueVitals, rng: Rng): { temp: number } {
  return { temp: inRange('temp', Math.round((v.temp + 0.1 * rng.normal()) * 10) / 10) };
}
