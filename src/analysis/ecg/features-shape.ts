/**
 * QRS shape and PR consistency features of a short single-lead ECG for the CinC 2017 classifier, for
 * the "other rhythm" class: bundle-branch blocks and ventricular rhythms widen and notch the QRS and
 * deepen S; inverted T waves; AV block and wandering pacemakers make the PR interval vary from beat to beat
 * (after the average-beat and PR features of Teijeiro et al. 2017 and Datta et al. 2017).
 * Pure: filtered signal (mV), beats and fs in; a fixed-length vector out (NaN = not measurable).
 */
import { median, quantile } from './stats.ts';

export const SHAPE_FEATURE_NAMES = ['qDepthRel', 'sDepthRel', 'rUpslopeRel', 'qrsAreaRel', 'tSignedRel', 'prIqr', 'prOffFrac', 'pAmpCv'] as const;

const PRE_S = 0.3; // s of template before R
const POST_S = 0.5; // s after R
const PR_OFF_S = 0.04; // a beat's PR is "off" when it differs from the median PR by more than 40 ms

/** Median beat (template) of the beats whose ±window fits in the record; undefined when fewer than 3 do. */
function template(x: Float32Array, beats: readonly number[], pre: number, post: number): Float32Array | undefined {
  const usable = beats.filter((b) => b - pre >= 0 && b + post < x.length);
  if (usable.length < 3) return undefined;
  const t = new Float32Array(pre + post);
  const col = new Float64Array(usable.length);
  for (let i = 0; i < t.length; i++) {
    for (let k = 0; k < usable.length; k++) col[k] = x[usable[k] - pre + i];
    t[i] = median(col);
  }
  return t;
}

/** Shape features (order = SHAPE_FEATURE_NAMES); `x` the 0.5–40 Hz filtered signal (mV), `beats` from the main detector. */
export function extractShapeFeatures(x: Float32Array, beats: readonly number[], fs: number): number[] {
  const out = new Array<number>(SHAPE_FEATURE_NAMES.length).fill(NaN);
  const pre = Math.round(PRE_S * fs),
    post = Math.round(POST_S * fs);
  const tpl = template(x, beats, pre, post);
  if (!tpl) return out;
  // R-up polarity, baseline from the template's first 50 ms (before the P wave).
  const base = median(tpl.subarray(0, Math.round(0.05 * fs)));
  const sign = tpl[pre] - base >= 0 ? 1 : -1;
  const t = Array.from(tpl, (v) => sign * (v - base));
  const r = t[pre] || 1e-6;
  const at = (s: number) => pre + Math.round(s * fs);
  let q = 0,
    sd = 0,
    up = 0,
    area = 0;
  for (let i = at(-0.06); i < pre; i++) q = Math.min(q, t[i]);
  for (let i = pre + 1; i <= at(0.08); i++) sd = Math.min(sd, t[i]);
  for (let i = at(-0.05) + 1; i <= pre; i++) up = Math.max(up, t[i] - t[i - 1]);
  for (let i = at(-0.06); i <= at(0.06); i++) area += Math.abs(t[i]);
  let tExt = 0;
  for (let i = at(0.15); i < Math.min(t.length, at(0.45)); i++) if (Math.abs(t[i]) > Math.abs(tExt)) tExt = t[i];
  out[0] = -q / r;
  out[1] = -sd / r;
  out[2] = (up * fs) / r / 100; // R upstroke in |R| per 10 ms
  out[3] = area / fs / r;
  out[4] = tExt / r;
  // PR of every beat: the P-wave peak (R polarity) 280–80 ms before R, relative to a baseline 350–280 ms before R.
  const pr: number[] = [],
    pAmp: number[] = [];
  for (const b of beats) {
    const p0 = b - Math.round(0.28 * fs),
      p1 = b - Math.round(0.08 * fs),
      q0 = b - Math.round(0.35 * fs);
    if (q0 < 0) continue;
    let bl = 0;
    for (let i = q0; i < p0; i++) bl += x[i];
    bl /= p0 - q0;
    let best = -Infinity,
      bestAt = p0;
    for (let i = p0; i < p1; i++)
      if (sign * (x[i] - bl) > best) {
        best = sign * (x[i] - bl);
        bestAt = i;
      }
    pr.push((b - bestAt) / fs);
    pAmp.push(best);
  }
  if (pr.length >= 3) {
    const m = median(pr);
    out[5] = quantile(pr, 0.75) - quantile(pr, 0.25);
    out[6] = pr.filter((v) => Math.abs(v - m) > PR_OFF_S).length / pr.length;
    const mean = pAmp.reduce((a, v) => a + v, 0) / pAmp.length;
    const sdv = Math.sqrt(pAmp.reduce((a, v) => a + (v - mean) ** 2, 0) / (pAmp.length - 1));
    out[7] = mean > 0 ? sdv / mean : NaN;
  }
  return out;
}
