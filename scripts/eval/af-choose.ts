/**
 * The AF model's whole choice procedure, fixed before any test fold is scored, and used unchanged for
 * the shipped model: given training records only, (1) out-of-fold AF probabilities of every RR interval
 * from an inner record-wise 3-fold split, (2) the smoothing width (AF_SMOOTH_GRID) and decision threshold
 * that best clear both targets on them (max of min(Se − 97 %, Sp − 98 %), time-weighted), (3) the model
 * retrained on all training records.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ECG_ALGORITHM } from '../../src/analysis/ecg/version.ts';
import { trainGbt, predictProba, type GbtParams, type GbtModel } from '../../src/analysis/ecg/gbt.ts';
import { AF_FEATURE_NAMES } from '../../src/analysis/ecg/af-features.ts';
import { AF_SMOOTH_GRID, type AfModel } from '../../src/analysis/ecg/af.ts';
import { innerFolds } from '../../src/analysis/ecg/eval/nested-cv.ts';
import { recordRows, concatRows, recordIntervals, type AfRecord } from './af-data.ts';

/** Every 32nd interval is a training row (≈ 280 k rows over afdb + ltafdb): neighbours are near-duplicates. */
export const AF_ROW_STRIDE = 32;
export const AF_INNER_FOLDS = 3;
export const AF_CV_SEED = 2026;
// 80 rounds of depth-4 trees (was 60 of depth 3 with 14 features): room for the ectopy features to interact
// with the irregularity ones. Set for capacity and compute before scoring, not tuned on the folds.
export const AF_GBT: GbtParams = {
  rounds: 80,
  depth: 4,
  learningRate: 0.15,
  lambda: 1,
  minChildHessian: 20,
  rowSample: 0.5,
  colSample: 0.8,
  bins: 32,
  seed: 12,
};
const THRESHOLDS = Array.from({ length: 39 }, (_, i) => +(0.025 * (i + 1)).toFixed(3)); // 0.025 … 0.975
const TARGET_SE = 0.97;
const TARGET_SP = 0.98;

function fit(records: readonly AfRecord[]) {
  const rows = concatRows(records.map((r) => recordRows(r, AF_ROW_STRIDE)));
  return trainGbt(rows.X, rows.y, ['nonAF', 'AF'], [...AF_FEATURE_NAMES], AF_GBT, rows.w);
}

export interface AfChoice {
  model: AfModel;
  /** The inner out-of-fold figures the threshold and smoothing were chosen on (training records only). */
  inner: { se: number; sp: number };
}

/** AF probability of every decidable interval of a record under a model. */
export function recordProbabilities(m: GbtModel, r: AfRecord): Float64Array {
  const iv = recordIntervals(r);
  const p = new Float64Array(iv.n);
  const F = AF_FEATURE_NAMES.length;
  for (let i = 0; i < iv.n; i++) p[i] = predictProba(m, iv.features.subarray(i * F, (i + 1) * F))[1];
  return p;
}

/** Centred moving average over ±h (truncated at the ends), as AfDecisions applies it. */
export function smoothProbabilities(p: Float64Array, h: number): Float64Array {
  if (h === 0) return p;
  const out = new Float64Array(p.length);
  const pre = new Float64Array(p.length + 1);
  for (let i = 0; i < p.length; i++) pre[i + 1] = pre[i] + p[i];
  for (let i = 0; i < p.length; i++) {
    const a = Math.max(0, i - h),
      b = Math.min(p.length, i + h + 1);
    out[i] = (pre[b] - pre[a]) / (b - a);
  }
  return out;
}

const BINS = 2000;

export function chooseAfModel(train: readonly AfRecord[], seed: number): AfChoice {
  const oof: Array<{ p: Float64Array; y: Uint8Array; w: Float64Array }> = [];
  for (const f of innerFolds(
    train,
    (r) => r.id,
    AF_INNER_FOLDS,
    seed,
    (r) => r.db,
  )) {
    const m = fit(f.train);
    for (const r of f.test) {
      const iv = recordIntervals(r);
      oof.push({ p: recordProbabilities(m, r), y: iv.y, w: iv.w });
    }
  }
  // For each smoothing width: time-weighted histograms of the smoothed probability for AF and non-AF time,
  // then every threshold's Se/Sp from them; keep the pair with the best min(Se − 97 %, Sp − 98 %).
  let best = { smooth: 0, threshold: 0.5, se: NaN, sp: NaN, margin: -Infinity };
  for (const h of AF_SMOOTH_GRID) {
    const af = new Float64Array(BINS + 1),
      non = new Float64Array(BINS + 1);
    let afTotal = 0,
      nonTotal = 0;
    for (const o of oof) {
      const s = smoothProbabilities(o.p, h);
      for (let i = 0; i < s.length; i++) {
        const b = Math.min(BINS, Math.floor(s[i] * BINS));
        if (o.y[i]) {
          af[b] += o.w[i];
          afTotal += o.w[i];
        } else {
          non[b] += o.w[i];
          nonTotal += o.w[i];
        }
      }
    }
    for (const t of THRESHOLDS) {
      // p > t ⇔ bin ≥ floor(t·BINS) + 1 (thresholds are multiples of 1/BINS·50, so no bin straddles them)
      const cut = Math.floor(t * BINS + 1e-9) + 1;
      let afAbove = 0,
        nonAbove = 0;
      for (let b = cut; b <= BINS; b++) {
        afAbove += af[b];
        nonAbove += non[b];
      }
      const se = afAbove / afTotal,
        sp = 1 - nonAbove / nonTotal;
      const margin = Math.min(se - TARGET_SE, sp - TARGET_SP);
      if (margin > best.margin + 1e-12) best = { smooth: h, threshold: t, se, sp, margin };
    }
  }
  return { model: { ...fit(train), threshold: best.threshold, smooth: best.smooth }, inner: { se: best.se, sp: best.sp } };
}

/**
 * Writes a chosen AF model (parameters only) to src/analysis/ecg/model/af-rr-gbt.json. Leaf values are
 * rounded to 6 digits; split thresholds are kept exact: they are training values of often discrete
 * features (k/59, k/61 …), and a rounded one would send values equal to it down the other branch, so the
 * shipped model would no longer be the one the evaluation scored.
 */
export function writeAfModel(c: AfChoice, trainedOn: string): string {
  const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/analysis/ecg/model/af-rr-gbt.json');
  const round = (t: number[]) => t.map((v) => +v.toPrecision(6));
  const trees = c.model.trees.map((r) => r.map((t) => ({ ...t, value: round(t.value) })));
  writeFileSync(out, JSON.stringify({ algorithm: ECG_ALGORITHM, trainedOn, innerOutOfFold: c.inner, ...c.model, trees }) + '\n');
  return out;
}
