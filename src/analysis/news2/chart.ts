/**
 * NEWS2 component scores, exactly as RCP 2017 chart 1 ("National Early Warning Score (NEWS) 2",
 * Royal College of Physicians, 2017). Each function takes one observation and returns 0–3.
 *
 * Rounding (the chart gives integer bands, temperature one-decimal bands; it is silent on values in
 * between, so we decide): respiration rate, SpO2, systolic BP and pulse are rounded to the nearest
 * integer, temperature to one decimal, both half up (20.5 /min → 21; 38.05 °C → 38.1). A device that
 * reports 20.5 breaths/min is rounded the way a nurse writing the chart would round it.
 */

/** Respiration rate, systolic BP, pulse and SpO2 are charted as whole numbers. Half up. */
export function roundInteger(value: number): number {
  // The small epsilon keeps binary float error (e.g. 90.49999999 from 90.5) from rounding down.
  return Math.floor(value + 0.5 + 1e-9);
}

/** Temperature is charted to 0.1 °C. Half up: 35.05 → 35.1. */
export function roundTenth(value: number): number {
  return Math.floor(value * 10 + 0.5 + 1e-9) / 10;
}

function assertFinite(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number`);
}

/** NEWS2 chart 1, respiration rate (/min): ≤8 → 3; 9–11 → 1; 12–20 → 0; 21–24 → 2; ≥25 → 3. */
export function scoreRespiratoryRate(perMin: number): number {
  assertFinite('respiratoryRate', perMin);
  const rr = roundInteger(perMin);
  if (rr <= 8) return 3;
  if (rr <= 11) return 1;
  if (rr <= 20) return 0;
  if (rr <= 24) return 2;
  return 3;
}

/** NEWS2 chart 1, SpO2 scale 1 (%): ≤91 → 3; 92–93 → 2; 94–95 → 1; ≥96 → 0. Oxygen does not change it. */
export function scoreSpo2Scale1(percent: number): number {
  assertFinite('spo2', percent);
  const s = roundInteger(percent);
  if (s <= 91) return 3;
  if (s <= 93) return 2;
  if (s <= 95) return 1;
  return 0;
}

/**
 * NEWS2 chart 1, SpO2 scale 2 (%), for hypercapnic respiratory failure with a prescribed 88–92 % target:
 * ≤83 → 3; 84–85 → 2; 86–87 → 1; 88–92 → 0; ≥93 on air → 0; on oxygen 93–94 → 1, 95–96 → 2, ≥97 → 3
 * (over-oxygenation is the hazard on scale 2, so the upper bands score only while on oxygen).
 */
export function scoreSpo2Scale2(percent: number, onOxygen: boolean): number {
  assertFinite('spo2', percent);
  const s = roundInteger(percent);
  if (s <= 83) return 3;
  if (s <= 85) return 2;
  if (s <= 87) return 1;
  if (s <= 92 || !onOxygen) return 0;
  if (s <= 94) return 1;
  if (s <= 96) return 2;
  return 3;
}

/** NEWS2 chart 1, air or oxygen: any supplemental oxygen → 2, air → 0. */
export function scoreAirOrOxygen(onOxygen: boolean): number {
  return onOxygen ? 2 : 0;
}

/** NEWS2 chart 1, systolic BP (mmHg): ≤90 → 3; 91–100 → 2; 101–110 → 1; 111–219 → 0; ≥220 → 3. */
export function scoreSystolicBP(mmHg: number): number {
  assertFinite('systolicBP', mmHg);
  const sbp = roundInteger(mmHg);
  if (sbp <= 90) return 3;
  if (sbp <= 100) return 2;
  if (sbp <= 110) return 1;
  if (sbp <= 219) return 0;
  return 3;
}

/** NEWS2 chart 1, pulse (/min): ≤40 → 3; 41–50 → 1; 51–90 → 0; 91–110 → 1; 111–130 → 2; ≥131 → 3. */
export function scorePulse(perMin: number): number {
  assertFinite('pulse', perMin);
  const hr = roundInteger(perMin);
  if (hr <= 40) return 3;
  if (hr <= 50) return 1;
  if (hr <= 90) return 0;
  if (hr <= 110) return 1;
  if (hr <= 130) return 2;
  return 3;
}

/** ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive. */
export type Consciousness = 'A' | 'C' | 'V' | 'P' | 'U';
export const CONSCIOUSNESS_LEVELS: readonly Consciousness[] = ['A', 'C', 'V', 'P', 'U'];

/** NEWS2 chart 1, consciousness: alert → 0; new confusion, voice, pain or unresponsive → 3. */
export function scoreConsciousness(level: Consciousness): number {
  if (!CONSCIOUSNESS_LEVELS.includes(level)) throw new RangeError('consciousness must be one of A, C, V, P, U');
  return level === 'A' ? 0 : 3;
}

/** NEWS2 chart 1, temperature (°C, 0.1 resolution): ≤35.0 → 3; 35.1–36.0 → 1; 36.1–38.0 → 0; 38.1–39.0 → 1; ≥39.1 → 2. */
export function scoreTemperature(celsius: number): number {
  assertFinite('temperature', celsius);
  const t = roundTenth(celsius);
  if (t <= 35.0) return 3;
  if (t <= 36.0) return 1;
  if (t <= 38.0) return 0;
  if (t <= 39.0) return 1;
  return 2;
}
