/**
 * Ambulatory Glucose Profile: 5th, 25th, 50th, 75th and 95th percentiles of glucose by time of day
 * over the whole period (Battelino 2019, AGP report). Percentiles are computed every 15 min from all
 * readings within a centred 60-min window of time of day (wrapping at midnight): the sliding window is
 * the smoothing, so the curves are drawn as computed. Percentiles interpolate linearly between order
 * statistics (Hyndman–Fan type 7, as R's quantile and numpy's default).
 */
import { MINUTE_MS, normalizeReadings, type CgmReading } from './types.ts';

export const AGP_STEP_MIN = 15; // min between AGP points
export const AGP_WINDOW_MIN = 60; // min, centred window pooled for each point
/** Fewer readings than this at a time of day leave a gap in the plot rather than a guess. */
export const AGP_MIN_READINGS = 5;
const MIN_PER_DAY = 1440;

export interface AgpPoint {
  minute: number; // minute of the local day, 0–1425
  n: number;
  p5: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  p95: number | null;
}

export interface AgpOptions {
  utcOffsetMinutes?: number; // patient's local offset; time of day is local
  stepMin?: number;
  windowMin?: number;
}

/** Type 7 quantile of ascending-sorted values, q in [0, 1]. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Minute of the local day (fractional), 0 ≤ m < 1440. */
export function minuteOfDay(ts: number, utcOffsetMinutes = 0): number {
  const m = (((ts / MINUTE_MS + utcOffsetMinutes) % MIN_PER_DAY) + MIN_PER_DAY) % MIN_PER_DAY;
  return m;
}

export function agpProfile(readings: readonly CgmReading[], opts: AgpOptions = {}): AgpPoint[] {
  const step = opts.stepMin ?? AGP_STEP_MIN;
  const half = (opts.windowMin ?? AGP_WINDOW_MIN) / 2;
  // Time of day by each reading's own offset where known: with one offset for the period, a daylight-saving
  // change moved the mornings after it by an hour (found by review: an 08:00 peak smeared into 07:00).
  const rs = normalizeReadings(readings).map((r) => ({ m: minuteOfDay(r.ts, r.offsetMinutes ?? opts.utcOffsetMinutes), v: r.mgdl }));
  const points: AgpPoint[] = [];
  for (let minute = 0; minute < MIN_PER_DAY; minute += step) {
    // Circular distance in time of day, window [minute − half, minute + half).
    const values = rs
      .filter(({ m }) => {
        const d = ((m - minute + MIN_PER_DAY + half) % MIN_PER_DAY) - half;
        return d >= -half && d < half;
      })
      .map(({ v }) => v)
      .sort((a, b) => a - b);
    const ok = values.length >= AGP_MIN_READINGS;
    const q = (p: number) => (ok ? quantileSorted(values, p) : null);
    points.push({ minute, n: values.length, p5: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95) });
  }
  return points;
}
