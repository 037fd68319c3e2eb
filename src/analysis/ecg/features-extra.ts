/**
 * Second-generation features of a short single-lead ECG for the CinC 2017 classifier, after the
 * challenge's better entries (Clifford et al. 2017 summary; Datta et al. 2017; Zabihi et al. 2017;
 * Teijeiro et al. 2017):
 * - bSQI: agreement of the main QRS detector with a second, independent energy detector (Li, Mark &
 *   Clifford 2008): noise makes detectors disagree;
 * - atrial activity left after QRST cancellation (median-beat subtraction): share of the residual's
 *   power in the fibrillatory 4–9 Hz band and its dominant frequency and concentration (Bollmann 1998);
 * - per-beat morphology: QRS width distribution, share of beats with a P wave above the local noise;
 * - RR structure that separates ectopy from AF: alternation of successive differences, two-cluster
 *   separation of RR (bigeminy), irregularity once premature/compensatory pairs are removed;
 * - signal statistics: kurtosis, flat and clipped shares (lead-off, saturation), record length.
 * Pure: filtered signal (mV), beats and fs in; a fixed-length vector out (NaN = not measurable).
 */
import { highpass, lowpass, filterCascade } from './filters.ts';
import { median, quantile } from './stats.ts';

export const EXTRA_FEATURE_NAMES = [
  'bsqi',
  'beatsAltRatio',
  'afBandRel',
  'afPeakHz',
  'afPeakConc',
  'residualHfRel',
  'qrsWidthMedian',
  'qrsWidthIqr',
  'wideBeatFrac',
  'pPresentFrac',
  'pNoiseRel',
  'altSign',
  'cluster2Sep',
  'cleanIrr',
  'cleanCv',
  'rateChange',
  'kurtosis',
  'flatFrac',
  'clipFrac',
  'seconds',
] as const;

const TOLERANCE_S = 0.15; // detector agreement window (EC57's 150 ms)

/** A second, simple QRS detector: squared slope of the 5–15 Hz band, integrated over 120 ms, peaks above 20 % of the 98th percentile, 250 ms refractory. */
function energyBeats(x: Float32Array, fs: number): number[] {
  const y = filterCascade(x, [highpass(5, fs), lowpass(15, fs)]);
  const e = new Float32Array(y.length);
  const w = Math.max(1, Math.round(0.12 * fs));
  let acc = 0;
  for (let i = 1; i < y.length; i++) {
    const d = (y[i] - y[i - 1]) ** 2;
    acc += d;
    if (i >= w) acc -= (y[i - w + 1] - y[i - w]) ** 2;
    e[i] = acc / w;
  }
  const thr = 0.2 * quantile(e, 0.98);
  const refractory = Math.round(0.25 * fs);
  const out: number[] = [];
  let i = 1;
  while (i < e.length - 1) {
    if (e[i] > thr && e[i] >= e[i - 1] && e[i] >= e[i + 1]) {
      // the local maximum within the refractory span
      let best = i;
      for (let j = i; j < Math.min(e.length, i + refractory); j++) if (e[j] > e[best]) best = j;
      out.push(best);
      i = best + refractory;
    } else i++;
  }
  // integration delays the energy peak by about half the window
  return out.map((b) => Math.max(0, b - (w >> 1)));
}

function agreement(a: readonly number[], b: readonly number[], tol: number): number {
  if (a.length + b.length === 0) return 1;
  let i = 0,
    j = 0,
    match = 0;
  while (i < a.length && j < b.length) {
    if (Math.abs(a[i] - b[j]) <= tol) {
      match++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return match / (a.length + b.length - match);
}

/** Power at frequency f (Hz) of y by the Goertzel recurrence, normalised per sample. */
function goertzel(y: Float32Array, f: number, fs: number): number {
  const k = 2 * Math.cos((2 * Math.PI * f) / fs);
  let s1 = 0,
    s2 = 0;
  for (let i = 0; i < y.length; i++) {
    const s = y[i] + k * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / y.length;
}

/** Residual after subtracting the median beat (QRST cancellation) at every beat, then spectrum of the residual. */
function atrialFeatures(x: Float32Array, beats: readonly number[], fs: number, absR: number): number[] {
  const pre = Math.round(0.2 * fs),
    post = Math.round(0.45 * fs),
    L = pre + post;
  const usable = beats.filter((b) => b - pre >= 0 && b + post < x.length);
  if (usable.length < 3) return [NaN, NaN, NaN, NaN];
  const tpl = new Float32Array(L);
  const col = new Float64Array(usable.length);
  for (let j = 0; j < L; j++) {
    for (let k = 0; k < usable.length; k++) col[k] = x[usable[k] - pre + j];
    tpl[j] = median(col);
  }
  const r = Float32Array.from(x);
  for (const b of usable) {
    // scale the template to the beat (least squares) so amplitude changes do not leave QRS residue
    let num = 0,
      den = 0;
    for (let j = 0; j < L; j++) {
      num += x[b - pre + j] * tpl[j];
      den += tpl[j] * tpl[j];
    }
    const a = den > 0 ? Math.max(0.5, Math.min(1.5, num / den)) : 1;
    for (let j = 0; j < L; j++) r[b - pre + j] -= a * tpl[j];
  }
  // Decimate to ~50 Hz after a 20 Hz low-pass, for a cheap spectrum.
  const lp = filterCascade(r, [lowpass(20, fs), lowpass(20, fs)]);
  const step = Math.max(1, Math.floor(fs / 50));
  const fsd = fs / step;
  const d = new Float32Array(Math.floor(lp.length / step));
  for (let i = 0; i < d.length; i++) d[i] = lp[i * step];
  let total = 0,
    band = 0,
    peak = 0,
    peakF = NaN;
  const pw: number[] = [];
  const fsList: number[] = [];
  for (let f = 1; f <= 20; f += 0.25) {
    const p = goertzel(d, f, fsd);
    pw.push(p);
    fsList.push(f);
    total += p;
    if (f >= 4 && f <= 9) band += p;
    if (f >= 3 && f <= 12 && p > peak) {
      peak = p;
      peakF = f;
    }
  }
  let near = 0,
    wide = 0;
  fsList.forEach((f, i) => {
    if (f >= 3 && f <= 12) {
      wide += pw[i];
      if (Math.abs(f - peakF) <= 0.5) near += pw[i];
    }
  });
  // High-frequency residual (what is left over 20 Hz), relative to the R amplitude: noise.
  let hf = 0;
  for (let i = 0; i < r.length; i++) hf += (r[i] - lp[i]) ** 2;
  return [total > 0 ? band / total : NaN, peakF, wide > 0 ? near / wide : NaN, Math.sqrt(hf / r.length) / (absR || 1e-6)];
}

/** Per-beat QRS width (span around R above 30 % of that beat's |R|) and P-wave presence above the TP-noise. */
function beatMorphology(x: Float32Array, beats: readonly number[], fs: number): number[] {
  const widths: number[] = [];
  let withP = 0,
    counted = 0;
  const noiseRel: number[] = [];
  const maxW = Math.round(0.2 * fs);
  const sign = beats.filter((b) => x[b] < 0).length > beats.length / 2 ? -1 : 1;
  for (let k = 0; k < beats.length; k++) {
    const b = beats[k];
    if (b - Math.round(0.35 * fs) < 0 || b + maxW >= x.length) continue;
    const rv = x[b];
    const lim = 0.3 * Math.abs(rv);
    let a = b,
      z = b;
    while (b - a < maxW && Math.abs(x[a - 1]) > lim) a--;
    while (z - b < maxW && Math.abs(x[z + 1]) > lim) z++;
    widths.push((z - a + 1) / fs);
    // P wave: in R-polarity, the extreme of 280–80 ms before R above a baseline taken 350–280 ms before R.
    const p0 = b - Math.round(0.28 * fs),
      p1 = b - Math.round(0.08 * fs);
    const q0 = b - Math.round(0.35 * fs);
    let base = 0;
    for (let i = q0; i < p0; i++) base += x[i];
    base /= Math.max(1, p0 - q0);
    let pmax = -Infinity;
    for (let i = p0; i < p1; i++) pmax = Math.max(pmax, sign * (x[i] - base));
    // Local noise: mean absolute first difference in the P window (f waves and noise are busy).
    let busy = 0;
    for (let i = p0 + 1; i < p1; i++) busy += Math.abs(x[i] - x[i - 1]);
    busy /= Math.max(1, p1 - p0 - 1);
    counted++;
    const absR = Math.abs(rv) || 1e-6;
    if (pmax > 0.05 * absR && pmax > 6 * busy) withP++;
    noiseRel.push(busy / absR);
  }
  if (widths.length < 3) return [NaN, NaN, NaN, NaN, NaN];
  const med = median(widths);
  return [
    med,
    quantile(widths, 0.75) - quantile(widths, 0.25),
    widths.filter((w) => w > Math.max(0.12, 1.5 * med)).length / widths.length,
    withP / counted,
    median(noiseRel),
  ];
}

/** RR structure: alternation, two-cluster separation, irregularity after removing ectopic pairs, rate change. */
function rrStructure(beats: readonly number[], fs: number): number[] {
  const rr: number[] = [];
  for (let i = 1; i < beats.length; i++) rr.push((beats[i] - beats[i - 1]) / fs);
  if (rr.length < 6) return [NaN, NaN, NaN, NaN, NaN];
  let alt = 0;
  for (let i = 2; i < rr.length; i++) if ((rr[i] - rr[i - 1]) * (rr[i - 1] - rr[i - 2]) < 0) alt++;
  // Two clusters (1-D k-means, 10 passes from the quartiles): separation / pooled spread.
  let c1 = quantile(rr, 0.25),
    c2 = quantile(rr, 0.75);
  let sep = 0;
  for (let it = 0; it < 10; it++) {
    const g1 = rr.filter((r) => Math.abs(r - c1) <= Math.abs(r - c2)),
      g2 = rr.filter((r) => Math.abs(r - c1) > Math.abs(r - c2));
    if (!g1.length || !g2.length) break;
    c1 = g1.reduce((a, b) => a + b, 0) / g1.length;
    c2 = g2.reduce((a, b) => a + b, 0) / g2.length;
    const v = [...g1.map((r) => (r - c1) ** 2), ...g2.map((r) => (r - c2) ** 2)].reduce((a, b) => a + b, 0) / rr.length;
    sep = Math.abs(c2 - c1) / (Math.sqrt(v) + 0.01);
  }
  // Ectopy removed: drop intervals under 85 % of the local median and the one after them.
  const keep: number[] = [];
  for (let i = 0; i < rr.length; i++) {
    const loc = median(rr.slice(Math.max(0, i - 4), Math.min(rr.length, i + 5)));
    const prevShort = i > 0 && rr[i - 1] < 0.85 * median(rr.slice(Math.max(0, i - 5), Math.min(rr.length, i + 4)));
    if (rr[i] >= 0.85 * loc && !prevShort) keep.push(rr[i]);
  }
  let cleanIrr = NaN,
    cleanCv = NaN;
  if (keep.length >= 4) {
    const d: number[] = [];
    for (let i = 1; i < keep.length; i++) d.push(Math.abs(keep[i] - keep[i - 1]));
    const m = keep.reduce((a, b) => a + b, 0) / keep.length;
    cleanIrr = median(d) / m;
    cleanCv = Math.sqrt(keep.reduce((a, b) => a + (b - m) ** 2, 0) / keep.length) / m;
  }
  const half = rr.length >> 1;
  const r1 = median(rr.slice(0, half)),
    r2 = median(rr.slice(half));
  return [alt / (rr.length - 2), sep, cleanIrr, cleanCv, Math.abs(Math.log(r2 / r1))];
}

function signalStats(raw: ArrayLike<number>, x: Float32Array, fs: number): number[] {
  const n = x.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i];
  m /= n;
  let m2 = 0,
    m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  // Flat: raw signal unchanged over 100 ms; clipped: raw at its extreme values.
  let min = Infinity,
    max = -Infinity;
  for (let i = 0; i < raw.length; i++) {
    min = Math.min(min, raw[i]);
    max = Math.max(max, raw[i]);
  }
  let clip = 0,
    flat = 0,
    run = 0;
  const flatRun = Math.round(0.1 * fs);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === min || raw[i] === max) clip++;
    if (i > 0 && Math.abs(raw[i] - raw[i - 1]) < 1e-4) {
      run++;
      if (run === flatRun) flat += flatRun;
      else if (run > flatRun) flat++;
    } else run = 0;
  }
  return [m2 > 0 ? m4 / (m2 * m2) : NaN, flat / raw.length, clip / raw.length, raw.length / fs];
}

/** Extra features (order = EXTRA_FEATURE_NAMES); `raw` in mV, `x` its 0.5–40 Hz filtered copy, `beats` from the main detector. */
export function extractExtraFeatures(raw: ArrayLike<number>, x: Float32Array, beats: readonly number[], fs: number): number[] {
  const second = energyBeats(x, fs);
  const tol = Math.round(TOLERANCE_S * fs);
  const rs = beats.map((b) => Math.abs(x[b]));
  const absR = median(rs);
  return [
    agreement(beats, second, tol),
    beats.length ? second.length / beats.length : NaN,
    ...atrialFeatures(x, beats, fs, absR),
    ...beatMorphology(x, beats, fs),
    ...rrStructure(beats, fs),
    ...signalStats(raw, x, fs),
  ];
}
