/**
 * Consensus CGM metrics (International Consensus on Time in Range, Battelino et al., Diabetes Care
 * 2019;42:1593). Percentages are % of readings (the consensus's definition, and what AGP software
 * reports), not time-weighted: with a fixed device interval the two are the same, and gaps simply
 * reduce the count. Ranges are inclusive of 70 and 180 ("70–180 mg/dL"); every other bound is strict
 * (<54, <70, >180, >250), so tbr70 includes tbr54 and tar180 includes tar250.
 */
import { DAY_MS, DEFAULT_INTERVAL_MIN, GLUCOSE, MINUTE_MS, normalizeReadings, type CgmReading } from './types.ts';

export interface CgmPeriod {
  start?: number; // epoch ms, inclusive; default the first reading
  end?: number; // epoch ms, exclusive; default the last reading + one interval
  intervalMin?: number; // expected device interval, min; default 5
}

export interface CgmMetrics {
  start: number;
  end: number;
  days: number; // period length in days
  intervalMin: number;
  readings: number;
  expectedReadings: number;
  activePercent: number; // 0–100: interval slots holding a reading / slots in the period
  /** Battelino 2019: 14 days with ≥70 % of expected readings. */
  sufficient: boolean;
  mean: number; // mg/dL
  sd: number; // mg/dL, sample SD (n − 1)
  cv: number; // %, SD / mean × 100 (target ≤36 %)
  gmi: number; // %, 3.31 + 0.02392 × mean
  tbr54: number; // % <54
  tbr70: number; // % <70 (includes <54)
  tir: number; // % 70–180
  tar180: number; // % >180 (includes >250)
  tar250: number; // % >250
  tbr54to69: number; // % 54–69, level 1
  tar181to250: number; // % 181–250, level 1
  tir63to140: number; // % 63–140, pregnancy range
  tbr63: number; // % <63, pregnancy
  tar140: number; // % >140, pregnancy
}

export const SUFFICIENT_DAYS = 14; // Battelino 2019
export const SUFFICIENT_ACTIVE_PERCENT = 70; // Battelino 2019

/** GMI (%) from mean glucose in mg/dL (Bergenstal 2018, adopted by Battelino 2019). */
export function glucoseManagementIndicator(meanMgdl: number): number {
  return 3.31 + 0.02392 * meanMgdl;
}

/** Metrics over a period; null when the period holds no readings. */
/** The sensors' sampling intervals, min: Libre 2/3 every minute, Dexcom and most others every 5, Libre 1 every 15. */
const SENSOR_INTERVALS_MIN = [1, 5, 15];

/**
 * The sensor's interval, from the median gap between its readings snapped to the nearest known one (robust to
 * gaps in wear). Taking 5 min for every sensor made a Libre 1 look 33 % active and its days never sufficient
 * (found by review). 5 min with fewer than 3 readings.
 */
export function sensorIntervalMin(readings: readonly CgmReading[]): number {
  const rs = normalizeReadings(readings);
  if (rs.length < 3) return DEFAULT_INTERVAL_MIN;
  const gaps = rs
    .slice(1)
    .map((r, i) => (r.ts - rs[i].ts) / MINUTE_MS)
    .sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)];
  return SENSOR_INTERVALS_MIN.reduce((best, x) => (Math.abs(Math.log(x / median)) < Math.abs(Math.log(best / median)) ? x : best));
}

export function computeCgmMetrics(readings: readonly CgmReading[], period: CgmPeriod = {}): CgmMetrics | null {
  const intervalMin = period.intervalMin ?? DEFAULT_INTERVAL_MIN;
  const intervalMs = intervalMin * MINUTE_MS;
  const all = normalizeReadings(readings);
  if (all.length === 0) return null;
  const start = period.start ?? all[0].ts;
  const end = period.end ?? all[all.length - 1].ts + intervalMs;
  const rs = all.filter((r) => r.ts >= start && r.ts < end);
  const n = rs.length;
  if (n === 0) return null;

  const expectedReadings = Math.max(1, Math.round((end - start) / intervalMs));
  // Count occupied slots, not readings, so a device that double-sends cannot exceed 100 %.
  const slots = new Set(rs.map((r) => Math.floor((r.ts - start) / intervalMs)));
  const activePercent = Math.min(100, (slots.size * 100) / expectedReadings);
  const days = (end - start) / DAY_MS;

  const values = rs.map((r) => r.mgdl);
  const mean = values.reduce((a, v) => a + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  // count × 100 / n, not count / n × 100: exact at the target edges (7 of 10 is 70, not 70.00000000000001).
  const pct = (pred: (v: number) => boolean) => (values.filter(pred).length * 100) / n;
  const { veryLow, low, high, veryHigh, pregnancyLow, pregnancyHigh } = GLUCOSE;

  return {
    start,
    end,
    days,
    intervalMin,
    readings: n,
    expectedReadings,
    activePercent,
    sufficient: days >= SUFFICIENT_DAYS - 1e-9 && activePercent >= SUFFICIENT_ACTIVE_PERCENT,
    mean,
    sd,
    cv: (sd / mean) * 100,
    gmi: glucoseManagementIndicator(mean),
    tbr54: pct((v) => v < veryLow),
    tbr70: pct((v) => v < low),
    tir: pct((v) => v >= low && v <= high),
    tar180: pct((v) => v > high),
    tar250: pct((v) => v > veryHigh),
    tbr54to69: pct((v) => v >= veryLow && v < low),
    tar181to250: pct((v) => v > high && v <= veryHigh),
    tir63to140: pct((v) => v >= pregnancyLow && v <= pregnancyHigh),
    tbr63: pct((v) => v < pregnancyLow),
    tar140: pct((v) => v > pregnancyHigh),
  };
}
