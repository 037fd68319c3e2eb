/**
 * NEWS2 aggregate score and clinical risk band (RCP 2017, chart 1 and chart 2 / table 1).
 * Pure: observations in, score out.
 */
import {
  scoreAirOrOxygen,
  scoreConsciousness,
  scorePulse,
  scoreRespiratoryRate,
  scoreSpo2Scale1,
  scoreSpo2Scale2,
  scoreSystolicBP,
  scoreTemperature,
  type Consciousness,
} from './chart.ts';

/** Identifies the rule set in stored findings, so a later revision never re-labels old scores. */
export const NEWS2_ALGORITHM = { name: 'news2-rcp-2017', version: '1.0.0' } as const;

export type Spo2Scale = 1 | 2;
export type News2Risk = 'low' | 'low-medium' | 'medium' | 'high';

/** One complete set of observations, in the chart's units. */
export interface News2Observations {
  respiratoryRate: number; // /min
  spo2: number; // %
  spo2Scale: Spo2Scale; // clinician's per-patient setting; 2 only for hypercapnic failure with an 88–92 % target
  onOxygen: boolean;
  systolicBP: number; // mmHg
  pulse: number; // /min
  consciousness: Consciousness;
  temperature: number; // °C
}

/** Component score per chart row (0–3 each, air/oxygen 0 or 2). */
export interface News2Components {
  respiratoryRate: number;
  spo2: number;
  airOrOxygen: number;
  systolicBP: number;
  pulse: number;
  consciousness: number;
  temperature: number;
}

export interface News2Result {
  score: number; // 0–20
  risk: News2Risk;
  components: News2Components;
}

/**
 * Physically possible ranges: wider than any chart band, narrow enough to catch unit mix-ups (°F, kPa). The
 * scorer refuses what lies outside (found by review: RR −5, SpO2 180 and 98.6 "°C" scored 11, high).
 */
export const NEWS2_RANGES = {
  respiratoryRate: [0, 100, '/min'],
  spo2: [0, 100, '%'],
  systolicBP: [0, 400, 'mmHg'],
  pulse: [0, 350, '/min'],
  temperature: [20, 45, '°C'],
} as const;

export function scoreNews2Components(obs: News2Observations): News2Components {
  for (const [field, [min, max, unit]] of Object.entries(NEWS2_RANGES)) {
    const v = obs[field as keyof typeof NEWS2_RANGES];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new RangeError(`${field}: ${v} is outside ${min}–${max} ${unit}`);
  }
  return {
    respiratoryRate: scoreRespiratoryRate(obs.respiratoryRate),
    spo2: obs.spo2Scale === 2 ? scoreSpo2Scale2(obs.spo2, obs.onOxygen) : scoreSpo2Scale1(obs.spo2),
    airOrOxygen: scoreAirOrOxygen(obs.onOxygen),
    systolicBP: scoreSystolicBP(obs.systolicBP),
    pulse: scorePulse(obs.pulse),
    consciousness: scoreConsciousness(obs.consciousness),
    temperature: scoreTemperature(obs.temperature),
  };
}

/**
 * NEWS2 table 1 (thresholds and triggers): aggregate ≥7 high; 5–6 medium; a 3 in any single
 * parameter with an aggregate of 0–4 low-medium; otherwise low. The single-parameter rule only ever
 * raises the band, so 3+3 = 6 is medium and a lone 3 with aggregate 3 is low-medium.
 * `components` are the scores present; the band is monotone in them, which lets the live scorer use it
 * as a lower bound on a partial set.
 */
export function news2Risk(aggregate: number, components: readonly number[]): News2Risk {
  if (aggregate >= 7) return 'high';
  if (aggregate >= 5) return 'medium';
  if (components.some((c) => c >= 3)) return 'low-medium';
  return 'low';
}

export function sumComponents(components: Partial<News2Components>): number {
  return Object.values(components).reduce<number>((a, b) => a + (b ?? 0), 0);
}

export function scoreNews2(obs: News2Observations): News2Result {
  const components = scoreNews2Components(obs);
  const score = sumComponents(components);
  return { score, risk: news2Risk(score, Object.values(components)), components };
}
