import { mulberry32 } from '../domain/random.ts';

/**
 * Seeded pseudo-random numbers for the simulator. Every model takes one of these so that a seed
 * reproduces a patient exactly (tests, demo screenshots). Not for anything security-related.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
}

/** Built on mulberry32 (domain/random.ts), with normal and integer helpers for the models. */
export function createRng(seed: number): Rng {
  let spare: number | null = null;
  const next = mulberry32(seed);
  // Box–Muller, caching the second value.
  const normal = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = Math.max(next(), Number.EPSILON);
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return {
    next,
    normal,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
  };
}

/** A 32-bit seed from a string (FNV-1a), so a device id gives the same stream every run. */
export function hashSeed(text: string, salt = 0): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * One exact step of an Ornstein–Uhlenbeck process (mean-reverting random walk) over `dtMs`:
 * x' = μ + (x − μ)·e^(−dt/τ) + σ·√(1 − e^(−2dt/τ))·N(0,1). `sigma` is the stationary standard deviation,
 * so the step is exact for any dt (irregular sampling, time acceleration).
 */
export function ouStep(x: number, mean: number, sigma: number, tauMs: number, dtMs: number, rng: Rng): number {
  if (dtMs <= 0) return x;
  const decay = Math.exp(-dtMs / tauMs);
  return mean + (x - mean) * decay + sigma * Math.sqrt(1 - decay * decay) * rng.normal();
}

export function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}

/** Smooth 0→1 ramp (cubic smoothstep) for onsets and recoveries. */
export function smoothstep(x: number): number {
  const t = clamp(x, 0, 1);
  return t * t * (3 - 2 * t);
}

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;
export const DAY_MS = 24 * HOUR_MS;

/** Hour of day (UTC, fractional) used for circadian rhythms. */
export function hourOfDay(tMs: number): number {
  return (((tMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
}
