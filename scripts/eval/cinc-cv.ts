/** k-fold cross-validation of the CinC 2017 classifier (shared by train-ecg and eval-ecg). */
import { trainGbt, predictClass, DEFAULT_GBT, type GbtParams } from '../../src/analysis/ecg/gbt.ts';
import { challengeScore, stratifiedFolds, CINC_CLASSES } from '../../src/analysis/ecg/eval/f1.ts';
import { FEATURE_NAMES } from '../../src/analysis/ecg/features.ts';
import type { CincSet } from './cinc-data.ts';
import { progress } from './report.ts';

export const CV_FOLDS = 5;
export const CV_SEED = 2017;
export const CLASSES = [...CINC_CLASSES];

/** Class weights ∝ 1/√frequency: lifts the rare A and ~ classes without swamping N. */
export function classWeights(labels: readonly string[]): number[] {
  const counts = CLASSES.map((c) => labels.filter((l) => l === c).length);
  const ref = Math.max(...counts);
  return counts.map((n) => Math.sqrt(ref / Math.max(n, 1)));
}

export function trainParams(labels: readonly string[]): GbtParams {
  return { ...DEFAULT_GBT, classWeights: classWeights(labels) };
}

export function crossValidate(set: CincSet, k = CV_FOLDS, seed = CV_SEED) {
  const folds = stratifiedFolds(set.labels, k, seed);
  const predicted = new Array<string>(set.labels.length);
  for (let f = 0; f < k; f++) {
    const tr = set.labels.map((_, i) => i).filter((i) => folds[i] !== f);
    const te = set.labels.map((_, i) => i).filter((i) => folds[i] === f);
    const labels = tr.map((i) => set.labels[i]);
    const y = labels.map((l) => CLASSES.indexOf(l as (typeof CLASSES)[number]));
    const model = trainGbt(tr.map((i) => set.X[i]), y, CLASSES, [...FEATURE_NAMES], trainParams(labels));
    for (const i of te) predicted[i] = predictClass(model, set.X[i]);
    progress('cinc2017 cross-validation folds', f + 1, k);
  }
  const s = challengeScore(set.labels, predicted);
  return {
    folds: k,
    stratification: 'stratified by class label (seeded shuffle within each class, dealt round-robin)',
    seed,
    records: set.labels.length,
    classCounts: Object.fromEntries(CLASSES.map((c) => [c, set.labels.filter((l) => l === c).length])),
    f1: s.perClass,
    score: s.score,
    confusion: { classes: CLASSES, rowsTruthColsPredicted: s.confusion },
  };
}
