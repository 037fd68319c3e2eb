/**
 * Scripted deteriorations. A scenario is a timeline (onset → hold → recovery) and, at full severity,
 * offsets to the patient's true physiology. Pure: (scenario, ms since simulator start) → effects.
 */
import { MINUTE_MS, HOUR_MS, DAY_MS, smoothstep } from './random.ts';
import type { Scenario, ScenarioKind } from './types.ts';

/** Offsets applied to true physiology at a moment; all zero/false when no scenario is active. */
export interface ScenarioEffects {
  /** 0..1, how far into the deterioration the patient is. */
  severity: number;
  hr: number; // /min, added
  rr: number; // /min, added
  spo2: number; // %, added (negative: desaturation)
  temp: number; // Cel, added
  sbp: number; // mm[Hg], added
  dbp: number; // mm[Hg], added
  weight: number; // kg, added
  /** Glucose is pulled toward this value (mg/dL) with weight `severity`; null leaves it alone. */
  glucoseTarget: number | null;
  /** Atrial fibrillation: irregular RR, no P waves, f-waves on the ECG. */
  af: boolean;
}

export interface ScenarioDefinition {
  description: string;
  onsetMs: number;
  holdMs: number;
  recoveryMs: number;
  /** Effects at severity 1 (scaled linearly by severity, except `af` and `glucoseTarget`). */
  peak: Partial<Omit<ScenarioEffects, 'severity'>>;
  /** Demo defaults: start soon after the simulator and cycle so a live demo always shows something. */
  demo: Required<Pick<Scenario, 'startAfterMs' | 'repeatEveryMs' | 'timeScale'>>;
}

export const NO_EFFECTS: ScenarioEffects = {
  severity: 0,
  hr: 0,
  rr: 0,
  spo2: 0,
  temp: 0,
  sbp: 0,
  dbp: 0,
  weight: 0,
  glucoseTarget: null,
  af: false,
};

export const SCENARIOS: Record<ScenarioKind, ScenarioDefinition> = {
  // Sepsis (Sepsis-3 picture): tachycardia, tachypnoea, fever, hypotension, mild hypoxaemia. From a
  // typical baseline (HR 75, RR 16, 36.8 °C, SBP 130, SpO2 97) the peak is HR ≈ 123, RR ≈ 28, 39.1 °C,
  // SBP ≈ 92, SpO2 ≈ 92: NEWS2 ≈ 11 (chart 1), well past the ≥ 7 emergency threshold.
  sepsis: {
    description: 'Sepsis: HR, RR and temperature rise, blood pressure and SpO2 fall over ~30 min',
    onsetMs: 30 * MINUTE_MS,
    holdMs: 15 * MINUTE_MS,
    recoveryMs: 20 * MINUTE_MS,
    peak: { hr: 48, rr: 12, temp: 2.3, sbp: -38, dbp: -20, spo2: -5 },
    demo: { startAfterMs: 1 * MINUTE_MS, repeatEveryMs: 30 * MINUTE_MS, timeScale: 0.3 }, // onset in 9 min: a demo shows it
  },
  // Hypoglycaemia (level 2 is < 54 mg/dL, International Hypoglycaemia Study Group 2017), with the
  // sympathetic response: tachycardia.
  hypoglycaemia: {
    description: 'Glucose falls below 54 mg/dL over ~30 min, stays low ~10 min, then recovers',
    onsetMs: 30 * MINUTE_MS,
    holdMs: 10 * MINUTE_MS,
    recoveryMs: 20 * MINUTE_MS,
    peak: { glucoseTarget: 44, hr: 15 },
    demo: { startAfterMs: 1 * MINUTE_MS, repeatEveryMs: 40 * MINUTE_MS, timeScale: 0.4 },
  },
  // Paroxysmal AF with a fast ventricular response, self-terminating.
  'af-episode': {
    description: 'ECG and heart rate go into atrial fibrillation (irregular, ~110/min), then back to sinus',
    onsetMs: 0,
    holdMs: 8 * MINUTE_MS,
    recoveryMs: 0,
    peak: { af: true, hr: 35 },
    demo: { startAfterMs: 1.5 * MINUTE_MS, repeatEveryMs: 20 * MINUTE_MS, timeScale: 1 },
  },
  // Acute exacerbation of COPD: SpO2 drifts down, RR and HR up, low-grade fever.
  'copd-exacerbation': {
    description: 'SpO2 drifts down ~6 points with rising RR and HR over ~40 min',
    onsetMs: 40 * MINUTE_MS,
    holdMs: 15 * MINUTE_MS,
    recoveryMs: 25 * MINUTE_MS,
    peak: { spo2: -6, rr: 8, hr: 15, temp: 0.6 },
    demo: { startAfterMs: 2.5 * MINUTE_MS, repeatEveryMs: 45 * MINUTE_MS, timeScale: 0.3 },
  },
  // Heart-failure decompensation: fluid retention, +2 kg in 3 days (ESC 2021 HF guideline: a warning sign).
  'hf-weight-gain': {
    description: 'Weight +2 kg over 3 days (fluid), slight HR/RR rise; then diuresis',
    onsetMs: 3 * DAY_MS,
    holdMs: 1 * DAY_MS,
    recoveryMs: 2 * DAY_MS,
    peak: { weight: 2.2, hr: 8, rr: 3, spo2: -1 },
    // 6 days squeezed into 60 min.
    demo: { startAfterMs: 1 * MINUTE_MS, repeatEveryMs: 70 * MINUTE_MS, timeScale: HOUR_MS / (6 * DAY_MS) },
  },
};

/** The demo form of a scenario: starts within the first minutes and repeats. */
export function demoScenario(kind: ScenarioKind, startAfterMs?: number): Scenario {
  const { demo } = SCENARIOS[kind];
  return { kind, ...demo, ...(startAfterMs !== undefined ? { startAfterMs } : {}) };
}

/** Total length of one run of the scenario (simulated ms). */
export function scenarioLengthMs(scenario: Scenario): number {
  const d = SCENARIOS[scenario.kind];
  return (d.onsetMs + d.holdMs + d.recoveryMs) * (scenario.timeScale ?? 1);
}

/** Severity 0..1 at `elapsedMs` after simulator start. */
export function scenarioSeverity(scenario: Scenario, elapsedMs: number): number {
  const d = SCENARIOS[scenario.kind];
  const scale = scenario.timeScale ?? 1;
  let t = elapsedMs - (scenario.startAfterMs ?? MINUTE_MS);
  if (t < 0) return 0;
  if (scenario.repeatEveryMs !== undefined && scenario.repeatEveryMs > 0) {
    t %= Math.max(scenario.repeatEveryMs, scenarioLengthMs(scenario));
  }
  const onset = d.onsetMs * scale;
  const hold = d.holdMs * scale;
  const recovery = d.recoveryMs * scale;
  if (t < onset) return smoothstep(t / onset);
  if (t < onset + hold) return 1;
  if (t < onset + hold + recovery) return 1 - smoothstep((t - onset - hold) / recovery);
  return 0;
}

/** The effects of `scenario` (or none) at `elapsedMs` after simulator start. */
export function scenarioEffects(scenario: Scenario | undefined, elapsedMs: number): ScenarioEffects {
  if (!scenario) return NO_EFFECTS;
  const s = scenarioSeverity(scenario, elapsedMs);
  if (s === 0) return NO_EFFECTS;
  const p = SCENARIOS[scenario.kind].peak;
  return {
    severity: s,
    hr: (p.hr ?? 0) * s,
    rr: (p.rr ?? 0) * s,
    spo2: (p.spo2 ?? 0) * s,
    temp: (p.temp ?? 0) * s,
    sbp: (p.sbp ?? 0) * s,
    dbp: (p.dbp ?? 0) * s,
    weight: (p.weight ?? 0) * s,
    glucoseTarget: p.glucoseTarget ?? null,
    af: p.af === true && s >= 0.5,
  };
}
