/**
 * Heart rate and time-domain HRV from beat times (Task Force of the ESC/NASPE 1996: SDNN, RMSSD).
 * Implausible intervals are dropped, and successive differences are only taken between two accepted
 * intervals that follow each other, so a missed or extra beat does not inflate RMSSD.
 */

const MIN_RR_S = 0.25; // s; 240 /min upper limit of a plausible rate
const MAX_RR_S = 2.5; // s; 24 /min lower limit
const MAX_STEP = 0.2; // NN editing: a change over 20 % of the previous interval is an ectopic or an error

export interface HeartRateSummary {
  /** Mean heart rate (beats/min) from the accepted intervals; NaN when none. */
  heartRate: number;
  /** Standard deviation of the accepted intervals (ms). */
  sdnn: number;
  /** Root mean square of successive differences of consecutive accepted intervals (ms). */
  rmssd: number;
  /** Intervals used and intervals rejected as implausible. */
  intervals: number;
  rejected: number;
}

/** `beats`: ascending sample indices; `fs`: their sampling frequency (Hz). */
export function heartRateSummary(beats: ArrayLike<number>, fs: number): HeartRateSummary {
  const rr: number[] = [];
  let rejected = 0;
  let sumSq = 0,
    nDiff = 0,
    prev = NaN;
  for (let i = 1; i < beats.length; i++) {
    const r = (beats[i] - beats[i - 1]) / fs;
    const plausible = r >= MIN_RR_S && r <= MAX_RR_S && !(Math.abs(r - prev) > MAX_STEP * prev);
    if (!plausible) {
      rejected++;
      prev = NaN; // break the chain of successive differences
      continue;
    }
    if (!Number.isNaN(prev)) {
      sumSq += (r - prev) ** 2;
      nDiff++;
    }
    rr.push(r);
    prev = r;
  }
  if (rr.length === 0) return { heartRate: NaN, sdnn: NaN, rmssd: NaN, intervals: 0, rejected };
  const mean = rr.reduce((s, x) => s + x, 0) / rr.length;
  const sd = rr.length > 1 ? Math.sqrt(rr.reduce((s, x) => s + (x - mean) ** 2, 0) / (rr.length - 1)) : NaN;
  return {
    heartRate: 60 / mean,
    sdnn: sd * 1000,
    rmssd: nDiff ? Math.sqrt(sumSq / nDiff) * 1000 : NaN,
    intervals: rr.length,
    rejected,
  };
}
