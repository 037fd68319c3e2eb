/**
 * Features of a short single-lead ECG (CinC 2017 style, 9–61 s) for the rhythm classifier:
 * RR irregularity (AF), beat morphology from a median template (P wave, QRS width, T wave, beat-to-beat
 * consistency) and signal quality. Pure: signal in mV and fs in, a fixed-length vector out.
 * Feature families follow the better-scoring CinC 2017 feature entries (e.g. Datta et al. 2017,
 * Zabihi et al. 2017): HRV/irregularity + P-wave presence + noise measures.
 */
import { detectBeats } from './qrs.ts';
import { highpass, lowpass, filterCascade } from './filters.ts';
import { assessQuality } from './quality.ts';
import { extractExtraFeatures, EXTRA_FEATURE_NAMES } from './features-extra.ts';
import { extractWindowFeatures, WINDOW_FEATURE_NAMES } from './features-window.ts';
import { extractShapeFeatures, SHAPE_FEATURE_NAMES } from './features-shape.ts';
import { median, quantile } from './stats.ts';

export const FEATURE_NAMES = [
  'rate',
  'nBeatsPerSec',
  'rrMedian',
  'rrCv',
  'rrMinRel',
  'rrMaxRel',
  'dRrMedianRel',
  'irregularity',
  'pDiff50',
  'pDiff10pct',
  'outlierFrac',
  'sd1Rel',
  'sd2Rel',
  'sd1sd2',
  'rrEntropy',
  'rAmp',
  'qrsWidth',
  'pAmpRel',
  'pEnergyRel',
  'tAmpRel',
  'corrMean',
  'corrMin',
  'corrLowFrac',
  'preQrsResidual',
  'residualRel',
  'qualityMean',
  'qualityMin',
  'badWindowFrac',
  'noiseMean',
  'wanderMax',
  'ampRangeCv',
  'longestGapS',
  'polarityFlip',
  'irregularity4',
  'prematureFrac',
  'stLevelRel',
  'band0',
  'band1',
  'band2',
  'band3',
  ...Array.from({ length: 20 }, (_, i) => `tpl${i}`),
  'sampEn',
  'cosEn',
  'lorenzBins',
  'lorenzOrigin',
  'hrMax',
  'hrMin',
  'pCorrMean',
  'pCorrLowFrac',
  'rrP10Rel',
  'rrP90Rel',
  'rmssdRel',
  'maxSuccRatio',
  'longRrFrac',
  'rrAutocorr1',
  'ectopicWideFrac',
  'ectopicNarrowFrac',
  'oddShapeFrac',
  'beatCorrMedian',
  'rAmpCv',
  'prInterval',
  'tPeakQtc',
  ...EXTRA_FEATURE_NAMES,
  ...WINDOW_FEATURE_NAMES,
  ...SHAPE_FEATURE_NAMES,
] as const;

const TEMPLATE_GRID = 20; // template samples handed to the model, spanning −250…+450 ms around R

const TEMPLATE_PRE_S = 0.3; // s before R in the beat template
const TEMPLATE_POST_S = 0.5; // s after R
const QUALITY_WINDOW_S = 2; // s

function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return v.length ? s / v.length : NaN;
}

function std(v: ArrayLike<number>): number {
  const m = mean(v);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] - m) ** 2;
  return v.length > 1 ? Math.sqrt(s / (v.length - 1)) : NaN;
}

function corr(a: ArrayLike<number>, b: ArrayLike<number>, from: number, to: number): number {
  let ma = 0,
    mb = 0;
  const n = to - from;
  for (let i = from; i < to; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = from; i < to; i++) {
    const x = a[i] - ma,
      y = b[i] - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/** RR-interval features: rate, variability, AF irregularity (see af.ts), Poincaré, symbol entropy. */
function rrFeatures(beats: number[], fs: number, seconds: number): number[] {
  const rr: number[] = [];
  for (let i = 1; i < beats.length; i++) rr.push((beats[i] - beats[i - 1]) / fs);
  const n = rr.length;
  if (n < 3) return [NaN, beats.length / seconds, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN];
  const med = median(rr);
  const m = mean(rr);
  const d: number[] = [];
  for (let i = 1; i < n; i++) d.push(Math.abs(rr[i] - rr[i - 1]));
  const irr: number[] = [];
  for (let i = 3; i < n; i++) {
    const loc = (rr[i - 1] + rr[i - 2] + rr[i - 3]) / 3;
    irr.push(Math.min(Math.abs(rr[i] - rr[i - 1]), Math.abs(rr[i] - rr[i - 2]), Math.abs(rr[i] - rr[i - 3])) / loc);
  }
  // Poincaré SD1/SD2 from successive pairs.
  const x1 = rr.slice(0, -1),
    x2 = rr.slice(1);
  const diff = x1.map((v, i) => (x2[i] - v) / Math.SQRT2);
  const sum = x1.map((v, i) => (x2[i] + v) / Math.SQRT2);
  const sd1 = std(diff),
    sd2 = std(sum);
  // Shannon entropy of RR quantised into 16 bins of ±50 % around the median (AF spreads the histogram).
  const bins = new Float64Array(16);
  for (const r of rr) bins[Math.max(0, Math.min(15, Math.floor(((r / med - 0.5) / 1) * 16)))]++;
  let ent = 0;
  for (const c of bins) if (c > 0) ent -= (c / n) * Math.log2(c / n);
  return [
    60 / med,
    beats.length / seconds,
    med,
    std(rr) / m,
    Math.min(...rr) / med,
    Math.max(...rr) / med,
    median(d) / m,
    irr.length ? median(irr) : NaN,
    d.filter((v) => v > 0.05).length / d.length,
    d.filter((v) => v > 0.1 * m).length / d.length,
    rr.filter((r) => r < 0.8 * med || r > 1.2 * med).length / n,
    sd1 / m,
    sd2 / m,
    sd1 / (sd2 || NaN),
    ent,
  ];
}

/** Morphology from the median beat: amplitudes, QRS width, P and T waves, beat-to-beat consistency. */
function morphologyFeatures(x: Float32Array, beats: number[], fs: number): number[] {
  const pre = Math.round(TEMPLATE_PRE_S * fs),
    post = Math.round(TEMPLATE_POST_S * fs);
  const usable = beats.filter((b) => b - pre >= 0 && b + post < x.length);
  const L = pre + post;
  if (usable.length < 3) return Array(10).fill(NaN);
  const windows = usable.map((b) => x.subarray(b - pre, b + post));
  const template = new Float32Array(L);
  const col = new Float64Array(windows.length);
  for (let i = 0; i < L; i++) {
    for (let k = 0; k < windows.length; k++) col[k] = windows[k][i];
    template[i] = median(col);
  }
  // Baseline: median of the template's start (PR/TP segment region before the P wave).
  const base = median(template.subarray(0, Math.round(0.05 * fs)));
  const t = template.map((v) => v - base);
  const rAmp = t[pre];
  const sign = rAmp >= 0 ? 1 : -1;
  const absR = Math.abs(rAmp) || 1e-6;
  // QRS width: contiguous span around R above 30 % of |R| in absolute deviation.
  let a = pre,
    z = pre;
  const lim = 0.3 * absR;
  while (a > 0 && Math.abs(t[a - 1]) > lim) a--;
  while (z < L - 1 && Math.abs(t[z + 1]) > lim) z++;
  const qrsWidth = (z - a + 1) / fs;
  // P wave: 250–80 ms before R, in the R-polarity direction.
  const p0 = pre - Math.round(0.25 * fs),
    p1 = pre - Math.round(0.08 * fs);
  let pAmp = -Infinity,
    pEnergy = 0;
  for (let i = p0; i < p1; i++) {
    pAmp = Math.max(pAmp, sign * t[i]);
    pEnergy += t[i] * t[i];
  }
  pEnergy = Math.sqrt(pEnergy / (p1 - p0));
  // T wave: 150–450 ms after R, largest absolute deflection.
  let tAmp = 0;
  for (let i = pre + Math.round(0.15 * fs); i < pre + Math.round(0.45 * fs) && i < L; i++) tAmp = Math.max(tAmp, Math.abs(t[i]));
  // Consistency: correlation of each beat with the template over the QRS ±100 ms.
  const c0 = pre - Math.round(0.1 * fs),
    c1 = pre + Math.round(0.1 * fs);
  const cs = windows.map((w) => corr(w, template, c0, c1));
  // Residual activity before the QRS (f waves, noise) after removing the template.
  const res: number[] = [];
  const resAll: number[] = [];
  for (const w of windows) {
    let s = 0,
      sAll = 0;
    for (let i = p0; i < p1; i++) s += (w[i] - template[i]) ** 2;
    for (let i = 0; i < L; i++) sAll += (w[i] - template[i]) ** 2;
    res.push(Math.sqrt(s / (p1 - p0)));
    resAll.push(Math.sqrt(sAll / L));
  }
  return [
    absR,
    qrsWidth,
    pAmp / absR,
    pEnergy / absR,
    tAmp / absR,
    mean(cs),
    Math.min(...cs),
    cs.filter((c) => c < 0.8).length / cs.length,
    median(res) / absR,
    median(resAll) / absR,
  ];
}

function qualityFeatures(x: Float32Array, beats: number[], fs: number): number[] {
  const w = Math.round(QUALITY_WINDOW_S * fs);
  const q: number[] = [],
    noise: number[] = [],
    ranges: number[] = [];
  let wander = 0;
  for (let s = 0; s + w <= x.length; s += w) {
    const nb = beats.filter((b) => b >= s && b < s + w).length;
    const r = assessQuality(x.subarray(s, s + w), fs, nb);
    q.push(r.index);
    noise.push(r.noise);
    wander = Math.max(wander, r.wander);
    let mn = Infinity,
      mx = -Infinity;
    for (let i = s; i < s + w; i++) {
      mn = Math.min(mn, x[i]);
      mx = Math.max(mx, x[i]);
    }
    ranges.push(mx - mn);
  }
  let gap = beats.length ? Math.max(beats[0], x.length - beats[beats.length - 1]) : x.length;
  for (let i = 1; i < beats.length; i++) gap = Math.max(gap, beats[i] - beats[i - 1]);
  return [mean(q), Math.min(...q), q.filter((v) => v < 0.5).length / (q.length || 1), mean(noise), wander, std(ranges) / (mean(ranges) || 1), gap / fs];
}

/** Extra rhythm and morphology features: lag-1…4 irregularity (as af.ts), premature beats, ST level, spectrum, template shape. */
function extraFeatures(x: Float32Array, beats: number[], fs: number): number[] {
  const rr: number[] = [];
  for (let i = 1; i < beats.length; i++) rr.push((beats[i] - beats[i - 1]) / fs);
  const irr: number[] = [];
  let premature = 0;
  for (let i = 4; i < rr.length; i++) {
    const loc = (rr[i - 1] + rr[i - 2] + rr[i - 3]) / 3;
    irr.push(Math.min(...[1, 2, 3, 4].map((k) => Math.abs(rr[i] - rr[i - k]))) / loc);
  }
  for (let i = 1; i + 1 < rr.length; i++) if (rr[i] < 0.85 * rr[i - 1] && rr[i + 1] > 1.1 * rr[i]) premature++;
  // Spectrum: share of first-difference energy in four bands, from cascaded band filters.
  const bands: Array<[number, number]> = [
    [0.5, 4],
    [4, 10],
    [10, 20],
    [20, 40],
  ];
  const energies = bands.map(([lo, hi]) => {
    const y = filterCascade(x, [highpass(lo, fs), lowpass(hi, fs)]);
    let e = 0;
    for (let i = 0; i < y.length; i++) e += y[i] * y[i];
    return e;
  });
  const total = energies.reduce((a, b) => a + b, 0) || 1;
  // Template on a coarse grid, normalised by |R|, in R-up polarity.
  const pre = Math.round(0.25 * fs),
    post = Math.round(0.45 * fs);
  const usable = beats.filter((b) => b - pre >= 0 && b + post < x.length);
  const grid = new Array<number>(TEMPLATE_GRID).fill(NaN);
  let st = NaN;
  if (usable.length >= 3) {
    const col = new Float64Array(usable.length);
    const at = (off: number) => {
      for (let k = 0; k < usable.length; k++) col[k] = x[usable[k] + off];
      return median(col);
    };
    const base = at(-pre);
    const r = at(0) - base;
    const sign = r >= 0 ? 1 : -1;
    const absR = Math.abs(r) || 1e-6;
    for (let g = 0; g < TEMPLATE_GRID; g++) {
      const off = Math.round(-pre + ((pre + post) * g) / (TEMPLATE_GRID - 1));
      grid[g] = (sign * (at(Math.min(off, post - 1)) - base)) / absR;
    }
    st = (sign * (at(Math.round(0.1 * fs)) - base)) / absR;
  }
  return [irr.length ? median(irr) : NaN, rr.length ? premature / rr.length : NaN, st, ...energies.map((e) => e / total), ...grid];
}

/** Sample entropy of RR (Richman & Moorman 2000; m = 1, r = 30 ms as in COSEn, Lake & Moorman 2011). */
function sampleEntropy(rr: number[], r = 0.03): number {
  let a = 0,
    b = 0;
  for (let i = 0; i + 1 < rr.length; i++) {
    for (let j = i + 1; j + 1 < rr.length; j++) {
      if (Math.abs(rr[i] - rr[j]) <= r) {
        b++;
        if (Math.abs(rr[i + 1] - rr[j + 1]) <= r) a++;
      }
    }
  }
  return a > 0 && b > 0 ? -Math.log(a / b) : b > 0 ? -Math.log(1 / (b + 1)) : NaN;
}

/** Entropy, Lorenz-plot spread of successive RR differences (after Sarkar et al. 2008), rate extremes, P-wave consistency. */
function afEvidenceFeatures(x: Float32Array, beats: number[], fs: number): number[] {
  const rr: number[] = [];
  for (let i = 1; i < beats.length; i++) rr.push((beats[i] - beats[i - 1]) / fs);
  const out = new Array<number>(8).fill(NaN);
  if (rr.length >= 4) {
    const se = sampleEntropy(rr);
    out[0] = se;
    out[1] = se + Math.log(mean(rr));
    const cells = new Set<string>();
    let origin = 0;
    for (let i = 2; i < rr.length; i++) {
      const d1 = rr[i - 1] - rr[i - 2],
        d2 = rr[i] - rr[i - 1];
      if (Math.abs(d1) < 0.04 && Math.abs(d2) < 0.04) origin++;
      else cells.add(`${Math.round(d1 / 0.04)},${Math.round(d2 / 0.04)}`);
    }
    out[2] = cells.size / (rr.length - 2);
    out[3] = origin / (rr.length - 2);
    const hr5: number[] = [];
    for (let i = 4; i < rr.length; i++) hr5.push(60 / mean(rr.slice(i - 4, i + 1)));
    out[4] = hr5.length ? Math.max(...hr5) : NaN;
    out[5] = hr5.length ? Math.min(...hr5) : NaN;
  }
  // P-wave consistency: correlation of each beat's pre-QRS segment with the median segment.
  const a = Math.round(0.3 * fs),
    z = Math.round(0.06 * fs);
  const usable = beats.filter((b) => b - a >= 0 && b < x.length);
  if (usable.length >= 3) {
    const L = a - z;
    const col = new Float64Array(usable.length);
    const tpl = new Float32Array(L);
    for (let i = 0; i < L; i++) {
      for (let k = 0; k < usable.length; k++) col[k] = x[usable[k] - a + i];
      tpl[i] = median(col);
    }
    const cs = usable.map((b) => corr(x.subarray(b - a, b - z), tpl, 0, L));
    out[6] = mean(cs);
    out[7] = cs.filter((c) => c < 0.5).length / cs.length;
  }
  return out;
}

const PREMATURE_REL = 0.88; // a beat is premature when its RR is under 88 % of the median RR
const SHAPE_CORR = 0.85; // QRS correlation with the median template under which a beat is shaped otherwise

/**
 * Beat-by-beat evidence for "other rhythm" (ectopy, blocks, pauses) against the median template: RR
 * percentiles and pauses, premature beats split by QRS shape (ventricular-like: shaped otherwise; atrial-
 * like: template-shaped), R-amplitude spread, and the template's PR and T-peak timing (the latter scaled
 * by √RR like Bazett's QTc).
 */
function beatFeatures(x: Float32Array, beats: number[], fs: number): number[] {
  const out = new Array<number>(13).fill(NaN);
  const rr: number[] = [];
  for (let i = 1; i < beats.length; i++) rr.push((beats[i] - beats[i - 1]) / fs);
  if (rr.length < 4) return out;
  const med = median(rr),
    m = mean(rr);
  let ss = 0,
    maxRatio = 0,
    c1 = 0,
    v = 0;
  for (let i = 1; i < rr.length; i++) {
    ss += (rr[i] - rr[i - 1]) ** 2;
    maxRatio = Math.max(maxRatio, rr[i] / rr[i - 1]);
    c1 += (rr[i] - m) * (rr[i - 1] - m);
  }
  for (const r of rr) v += (r - m) ** 2;
  out[0] = quantile(rr, 0.1) / med;
  out[1] = quantile(rr, 0.9) / med;
  out[2] = Math.sqrt(ss / (rr.length - 1)) / m;
  out[3] = maxRatio;
  out[4] = rr.filter((r) => r > 1.3 * med).length / rr.length;
  out[5] = v > 0 ? c1 / v : 0;
  const pre = Math.round(0.3 * fs),
    post = Math.round(0.5 * fs),
    L = pre + post;
  const idx = beats.map((b, i) => i).filter((i) => beats[i] - pre >= 0 && beats[i] + post < x.length);
  if (idx.length < 3) return out;
  const tpl = new Float32Array(L);
  const col = new Float64Array(idx.length);
  for (let j = 0; j < L; j++) {
    for (let k = 0; k < idx.length; k++) col[k] = x[beats[idx[k]] - pre + j];
    tpl[j] = median(col);
  }
  const q0 = pre - Math.round(0.1 * fs),
    q1 = pre + Math.round(0.1 * fs);
  let wide = 0,
    narrow = 0,
    odd = 0;
  const whole: number[] = [],
    amps: number[] = [];
  for (const i of idx) {
    const w = x.subarray(beats[i] - pre, beats[i] + post);
    const c = corr(w, tpl, q0, q1);
    whole.push(corr(w, tpl, 0, L));
    amps.push(Math.abs(x[beats[i]]));
    const premature = i > 0 && (beats[i] - beats[i - 1]) / fs < PREMATURE_REL * med;
    if (premature && c < SHAPE_CORR) wide++;
    else if (premature) narrow++;
    else if (c < SHAPE_CORR) odd++;
  }
  out[6] = wide / idx.length;
  out[7] = narrow / idx.length;
  out[8] = odd / idx.length;
  out[9] = median(whole);
  out[10] = std(amps) / (mean(amps) || 1);
  // Template timing, R-up polarity, baseline from the template's first 50 ms.
  const base = median(tpl.subarray(0, Math.round(0.05 * fs)));
  const sign = tpl[pre] - base >= 0 ? 1 : -1;
  let pBest = -Infinity,
    pAt = NaN;
  for (let j = pre - Math.round(0.28 * fs); j < pre - Math.round(0.08 * fs); j++)
    if (sign * (tpl[j] - base) > pBest) {
      pBest = sign * (tpl[j] - base);
      pAt = j;
    }
  let tBest = -Infinity,
    tAt = NaN;
  for (let j = pre + Math.round(0.15 * fs); j < Math.min(L, pre + Math.round(0.48 * fs)); j++)
    if (Math.abs(tpl[j] - base) > tBest) {
      tBest = Math.abs(tpl[j] - base);
      tAt = j;
    }
  out[11] = (pre - pAt) / fs;
  out[12] = (tAt - pre) / fs / Math.sqrt(med);
  return out;
}

/** Feature vector (order = FEATURE_NAMES) of one record; `signal` in mV. NaN marks "not measurable". */
export function extractFeatures(signal: ArrayLike<number>, fs: number): number[] {
  const x = filterCascade(signal, [highpass(0.5, fs), lowpass(40, fs)]); // remove wander and mains hum
  let beats = detectBeats(x, fs, 1, { vf: false }); // features as trained (VF suppression off)
  // Handheld recordings are often inverted; the detector is polarity-free, the template uses the sign.
  const seconds = x.length / fs;
  beats = beats.filter((b) => b < x.length);
  const morph = morphologyFeatures(x, beats, fs);
  const flip = beats.filter((b) => x[b] < 0).length > beats.length / 2 ? 1 : 0;
  return [
    ...rrFeatures(beats, fs, seconds),
    ...morph,
    ...qualityFeatures(x, beats, fs),
    flip,
    ...extraFeatures(x, beats, fs),
    ...afEvidenceFeatures(x, beats, fs),
    ...beatFeatures(x, beats, fs),
    ...extractExtraFeatures(signal, x, beats, fs),
    ...extractWindowFeatures(beats, fs),
    ...extractShapeFeatures(x, beats, fs),
  ];
}
