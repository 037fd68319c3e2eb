/**
 * Synthetic single-lead (II) ECG, in µV, as a stream of fixed-rate samples.
 *
 * Each beat is a sum of Gaussian waves (P, Q, R, S, T), the morphology of the ECGSYN dynamical model
 * (McSharry, Clifford, Tarassenko & Smith, IEEE TBME 2003) written in the time domain: wave i has
 * amplitude aᵢ, centre tᵢ relative to the R peak and width bᵢ; P–R and QRS are fixed, the T wave scales
 * with √RR (Bazett-like QT). RR intervals carry respiratory sinus arrhythmia (HF, at the breathing rate)
 * and Mayer waves (LF, 0.1 Hz), as in ECGSYN's RR power spectrum. Added: baseline wander (respiration and a
 * slow random walk) and white noise. In atrial fibrillation: RR intervals are drawn independently from a
 * wide distribution (CV ≈ 0.25), P waves are absent, and fibrillatory f-waves (≈ 6 Hz, 30–70 µV) ride on
 * the baseline.
 * Deterministic: a seeded generator; no clock, no I/O.
 */
import { type Rng, createRng, ouStep, clamp } from './random.ts';

export interface EcgRhythm {
  /** Mean heart rate, /min. */
  hr: number;
  /** Respiratory rate, /min (drives RSA and baseline wander). */
  rr: number;
  af: boolean;
}

interface Wave {
  /** Amplitude relative to the R wave. */
  a: number;
  /** Centre relative to the R peak, s (at RR = 1 s). */
  t: number;
  /** Width (SD), s. */
  b: number;
  /** Scales with √RR (T wave) or is fixed. */
  scales: boolean;
  isP?: boolean;
}

/** Lead II morphology, normal adult: P 0.1–0.25 mV, R ≈ 1–1.5 mV, T 0.2–0.4 mV. */
const WAVES: Wave[] = [
  { a: 0.12, t: -0.18, b: 0.022, scales: false, isP: true }, // P
  { a: -0.1, t: -0.028, b: 0.008, scales: false }, // Q
  { a: 1.0, t: 0, b: 0.01, scales: false }, // R
  { a: -0.22, t: 0.03, b: 0.009, scales: false }, // S
  { a: 0.25, t: 0.27, b: 0.045, scales: true }, // T
];

/** Beats contribute only within this window of their R peak, s. */
const BEAT_SPAN_S = { before: 0.3, after: 0.6 };

export interface EcgModelOptions {
  seed: number;
  /** Sampling rate, Hz. */
  fs?: number;
  /** R-wave amplitude, µV (typically 1000–1500). */
  rAmplitude?: number;
  /** White noise SD, µV. */
  noiseUv?: number;
}

export interface EcgModel {
  readonly fs: number;
  /** The next `n` samples (integers, µV) with the given rhythm, continuing the stream. */
  next(n: number, rhythm: EcgRhythm): number[];
  /** R-peak times (s since stream start) generated so far (for tests). */
  beats(): readonly number[];
}

export function createEcgModel(opts: EcgModelOptions): EcgModel {
  const fs = opts.fs ?? 250;
  const rAmp = opts.rAmplitude ?? 1200;
  const noise = opts.noiseUv ?? 12;
  const rng: Rng = createRng(opts.seed);
  /** All R-peak times so far, s; beats before the current window are dropped from `active`. */
  const allBeats: number[] = [];
  const active: Array<{ t: number; rr: number; af: boolean; amp: number }> = [];
  let sampleIndex = 0;
  let nextBeat = 0.3 + rng.uniform(0, 0.3);
  let wander = 0;
  let fPhase = 0;
  let fFreq = 6;
  let fAmp = 50;
  const lfPhase = rng.uniform(0, 2 * Math.PI);

  function rrInterval(t: number, rhythm: EcgRhythm): number {
    const mean = 60 / clamp(rhythm.hr, 25, 250);
    if (rhythm.af) {
      // Independent intervals, wide spread (AF: "irregularly irregular"); minimum refractory 0.3 s.
      return Math.max(0.3, mean * (1 + 0.28 * rng.normal()));
    }
    const respHz = clamp(rhythm.rr, 4, 60) / 60;
    const rsa = 0.04 * Math.sin(2 * Math.PI * respHz * t); // HF, ±4 %
    const mayer = 0.02 * Math.sin(2 * Math.PI * 0.1 * t + lfPhase); // LF, ±2 %
    return mean * (1 + rsa + mayer + 0.01 * rng.normal());
  }

  function schedule(untilS: number, rhythm: EcgRhythm): void {
    while (nextBeat <= untilS + BEAT_SPAN_S.before) {
      const rr = rrInterval(nextBeat, rhythm);
      active.push({ t: nextBeat, rr, af: rhythm.af, amp: rAmp * (1 + 0.03 * rng.normal()) });
      allBeats.push(nextBeat);
      if (allBeats.length > 10_000) allBeats.splice(0, 5_000);
      nextBeat += rr;
    }
  }

  function beatValue(beat: { t: number; rr: number; af: boolean; amp: number }, t: number, respPhase: number): number {
    const dt = t - beat.t;
    if (dt < -BEAT_SPAN_S.before || dt > BEAT_SPAN_S.after * Math.sqrt(Math.max(beat.rr, 0.3))) return 0;
    const sq = Math.sqrt(clamp(beat.rr, 0.3, 2));
    // Respiration modulates QRS amplitude slightly (electrical axis shift).
    const amp = beat.amp * (1 + 0.05 * Math.sin(respPhase));
    let v = 0;
    for (const w of WAVES) {
      if (w.isP && beat.af) continue;
      const centre = w.scales ? w.t * sq : w.t;
      const width = w.scales ? w.b * sq : w.b;
      const d = dt - centre;
      v += w.a * Math.exp(-(d * d) / (2 * width * width));
    }
    return amp * v;
  }

  return {
    fs,
    next(n, rhythm) {
      const out = new Array<number>(n);
      const endS = (sampleIndex + n) / fs;
      schedule(endS, rhythm);
      const respHz = clamp(rhythm.rr, 4, 60) / 60;
      for (let i = 0; i < n; i++) {
        const t = (sampleIndex + i) / fs;
        const respPhase = 2 * Math.PI * respHz * t;
        wander = ouStep(wander, 0, 40, 3000, 1000 / fs, rng); // slow electrode drift, µV
        let v = 60 * Math.sin(respPhase) + wander;
        for (const beat of active) v += beatValue(beat, t, respPhase);
        if (rhythm.af) {
          // f-waves: 4–9 Hz with slowly wandering frequency and amplitude.
          fFreq = clamp(fFreq + 0.02 * rng.normal(), 4.5, 8.5);
          fAmp = clamp(fAmp + 0.5 * rng.normal(), 25, 75);
          fPhase += (2 * Math.PI * fFreq) / fs;
          v += fAmp * Math.sin(fPhase);
        }
        v += noise * rng.normal();
        out[i] = Math.round(v);
      }
      sampleIndex += n;
      const horizon = sampleIndex / fs - 2;
      while (active.length > 0 && active[0]!.t < horizon) active.shift();
      return out;
    },
    beats: () => allBeats,
  };
}
