/**
 * Third-generation features of a short single-lead ECG for the CinC 2017 classifier: how much of the
 * record is irregular, and RR regularity once ectopic beats are taken out.
 * - Sliding windows of beats: paroxysmal AF and runs of ectopy fill part of a record, so a whole-record
 *   median hides them; the distribution of a window irregularity (its percentiles and the share of
 *   irregular windows) and of the window rate shows them (after the "fraction of the record with an
 *   irregular rhythm" features of Datta et al. 2017 and Teijeiro et al. 2017).
 * - Ectopy-cleaned RR: premature beats followed by a compensatory pause are dropped (both intervals
 *   around them), then sample entropy, COSEn (Lake & Moorman 2011), RMSSD and pNN50 are measured on
 *   what is left: AF stays irregular, sinus rhythm with ectopy becomes regular.
 * Pure: beats (sample indices) and fs in; a fixed-length vector out (NaN = not measurable).
 */
import { median, quantile } from './stats.ts';

export const WINDOW_FEATURE_NAMES = [
  'winIrrP10',
  'winIrrP50',
  'winIrrP90',
  'winIrrFrac',
  'winRegularFrac',
  'winRateRangeRel',
  'winCvP90',
  'cleanKept',
  'cleanSampEn',
  'cleanCosEn',
  'cleanRmssdRel',
  'cleanPnn50',
] as const;

const WINDOW_RR = 8; // RR intervals per window (≈ 6 s at 80 bpm), sliding by one interval
const IRREGULAR = 0.08; // window irregularity above which a window counts as irregular (8 % of its mean RR)
const REGULAR = 0.03; // … and under which it counts as regular
const PREMATURE = 0.85; // an interval under 85 % of the local median RR is premature …
const COMPENSATORY = 1.1; // … when the next one is over 110 % of the local median

/** Sample entropy (m = 1, tolerance r in s) of a series; NaN when no template matches. */
function sampleEntropy(rr: readonly number[], r: number): number {
  let a = 0,
    b = 0;
  for (let i = 0; i + 1 < rr.length; i++)
    for (let j = i + 1; j + 1 < rr.length; j++)
      if (Math.abs(rr[i] - rr[j]) <= r) {
        b++;
        if (Math.abs(rr[i + 1] - rr[j + 1]) <= r) a++;
      }
  // No match of length 2: bounded by the count of length-1 matches (as COSEn's convention for short series).
  return b > 0 ? -Math.log(Math.max(a, 1) / b) : NaN;
}

function windowFeatures(rr: readonly number[]): number[] {
  if (rr.length < WINDOW_RR) return new Array<number>(7).fill(NaN);
  const irr: number[] = [],
    rate: number[] = [],
    cv: number[] = [];
  for (let s = 0; s + WINDOW_RR <= rr.length; s++) {
    const w = rr.slice(s, s + WINDOW_RR);
    const m = w.reduce((a, v) => a + v, 0) / w.length;
    const d: number[] = [];
    for (let i = 1; i < w.length; i++) d.push(Math.abs(w[i] - w[i - 1]));
    irr.push(median(d) / m);
    rate.push(60 / m);
    cv.push(Math.sqrt(w.reduce((a, v) => a + (v - m) ** 2, 0) / (w.length - 1)) / m);
  }
  return [
    quantile(irr, 0.1),
    quantile(irr, 0.5),
    quantile(irr, 0.9),
    irr.filter((v) => v > IRREGULAR).length / irr.length,
    irr.filter((v) => v < REGULAR).length / irr.length,
    (Math.max(...rate) - Math.min(...rate)) / median(rate),
    quantile(cv, 0.9),
  ];
}

/** RR with premature-compensatory pairs removed (local median over ±4 intervals). */
function cleanRr(rr: readonly number[]): number[] {
  const drop = new Uint8Array(rr.length);
  for (let i = 0; i + 1 < rr.length; i++) {
    const local = median(rr.slice(Math.max(0, i - 4), Math.min(rr.length, i + 5)));
    if (rr[i] < PREMATURE * local && rr[i + 1] > COMPENSATORY * local) drop[i] = drop[i + 1] = 1;
  }
  return rr.filter((_, i) => !drop[i]);
}

function cleanFeatures(rr: readonly number[]): number[] {
  const c = cleanRr(rr);
  const kept = rr.length ? c.length / rr.length : NaN;
  if (c.length < 5) return [kept, NaN, NaN, NaN, NaN];
  const m = c.reduce((a, v) => a + v, 0) / c.length;
  let ss = 0,
    over50 = 0;
  for (let i = 1; i < c.length; i++) {
    ss += (c[i] - c[i - 1]) ** 2;
    if (Math.abs(c[i] - c[i - 1]) > 0.05) over50++;
  }
  const se = sampleEntropy(c, 0.03); // r = 30 ms, as COSEn
  return [kept, se, se + Math.log(m), Math.sqrt(ss / (c.length - 1)) / m, over50 / (c.length - 1)];
}

/** Window and ectopy-cleaned RR features (order = WINDOW_FEATURE_NAMES) from beat sample indices. */
export function extractWindowFeatures(beats: readonly number[], fs: number): number[] {
  const rr: number[] = [];
  for (let i = 1; i < beats.length; i++) rr.push((beats[i] - beats[i - 1]) / fs);
  return [...windowFeatures(rr), ...cleanFeatures(rr)];
}
