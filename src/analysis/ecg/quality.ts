/**
 * Signal-quality index of an ECG window (mV), so a noisy stretch lowers confidence instead of raising
 * alarms. Checks follow the usual SQI families (Clifford et al. 2012, "Signal quality indices and data
 * fusion for determining clinical acceptability of ECGs"): flat line, saturation (clipping), high-frequency
 * noise, baseline wander and an implausible beat rate. Pure: window in, report out.
 */

const FLAT_RANGE_MV = 0.05; // a window whose peak-to-peak is under 50 µV carries no ECG
const CLIP_FRACTION = 0.05; // more than 5 % of samples stuck at the extremes → saturated
const HF_RATIO_BAD = 0.35; // high-frequency (2nd difference) energy relative to peak-to-peak: noisy
const WANDER_MV_PER_S = 1.5; // mV/s drift of the 1-s mean: electrode motion
const MIN_RATE_BPM = 25;
const MAX_RATE_BPM = 240;

export interface QualityReport {
  /** 0 (unusable) … 1 (clean). */
  index: number;
  flatline: boolean;
  saturated: boolean;
  /** 0–1 share of high-frequency noise. */
  noise: number;
  /** mV/s drift of the baseline. */
  wander: number;
  /** Beats per minute in the window, if beats were given. */
  rate?: number;
  rateImplausible: boolean;
}

export function assessQuality(x: ArrayLike<number>, fs: number, beatsInWindow?: number): QualityReport {
  const n = x.length;
  let min = Infinity,
    max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  const flatline = !(range >= FLAT_RANGE_MV);
  // Clipping: samples sitting exactly on the window's extremes.
  let atEdge = 0;
  for (let i = 0; i < n; i++) if (x[i] === max || x[i] === min) atEdge++;
  const saturated = !flatline && atEdge / n > CLIP_FRACTION;
  // High-frequency noise: RMS of the second difference scaled to the QRS-dominated range. At 360 Hz clean
  // ECG gives ≈ 0.02–0.08; EMG and electrode noise give much more. Scaled to 360 Hz so fs does not matter.
  let d2 = 0;
  for (let i = 2; i < n; i++) {
    const v = x[i] - 2 * x[i - 1] + x[i - 2];
    d2 += v * v;
  }
  const hf = n > 2 && range > 0 ? (Math.sqrt(d2 / (n - 2)) / range) * (fs / 360) ** 2 : 0;
  const noise = Math.min(1, hf / HF_RATIO_BAD);
  // Baseline wander: change of the 1-s means across the window.
  const sec = Math.max(1, Math.round(fs));
  let wander = 0;
  let prevMean = NaN;
  for (let s = 0; s + sec <= n; s += sec) {
    let m = 0;
    for (let i = s; i < s + sec; i++) m += x[i];
    m /= sec;
    if (!Number.isNaN(prevMean)) wander = Math.max(wander, Math.abs(m - prevMean));
    prevMean = m;
  }
  const seconds = n / fs;
  const rate = beatsInWindow === undefined || seconds < 3 ? undefined : (beatsInWindow / seconds) * 60;
  const rateImplausible = rate !== undefined && (rate < MIN_RATE_BPM || rate > MAX_RATE_BPM);
  let index = 1;
  if (flatline || saturated) index = 0;
  else {
    index *= 1 - 0.8 * noise;
    index *= wander > WANDER_MV_PER_S ? 0.5 : 1 - (0.3 * wander) / WANDER_MV_PER_S;
    if (rateImplausible) index *= 0.3;
  }
  return { index: Math.max(0, Math.min(1, index)), flatline, saturated, noise, wander, rate, rateImplausible };
}
