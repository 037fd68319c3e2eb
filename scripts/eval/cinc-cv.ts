/**
 * Nested record-wise cross-validation of the CinC 2017 classifier (shared by train-ecg and eval-ecg).
 *
 * The choice procedure (`chooseCincModel`), fixed in code before the outer test folds were scored and
 * handed the training records only (by src/analysis/ecg/eval/nested-cv.ts):
 * 1. inner stratified 3-fold split of the training records (nested-cv's `innerFolds`);
 * 2. for every candidate setting in CANDIDATES (feature set × tree depth × learning rate) and every
 *    checkpoint of its boosting rounds, out-of-fold class probabilities on the training records;
 * 3. for each of them, per-class probability multipliers (decision offsets) that maximise the challenge
 *    score of those out-of-fold predictions (coordinate search); the setting, round count and
 *    multipliers with the best out-of-fold score win;
 * 4. the winner retrained on all the training records, carrying its multipliers.
 * Every record is predicted by a model whose features, size, rate and multipliers were chosen without it.
 * The shipped model is this procedure run once on all shipped records (scripts/train-ecg.ts).
 */
import { trainGbt, predictProba, DEFAULT_GBT, type GbtParams, type GbtModel } from '../../src/analysis/ecg/gbt.ts';
import { challengeScore, CINC_CLASSES } from '../../src/analysis/ecg/eval/f1.ts';
import { nestedCrossValidate, innerFolds, spread } from '../../src/analysis/ecg/eval/nested-cv.ts';
import { FEATURE_NAMES } from '../../src/analysis/ecg/features.ts';
import { WINDOW_FEATURE_NAMES } from '../../src/analysis/ecg/features-window.ts';
import { SHAPE_FEATURE_NAMES } from '../../src/analysis/ecg/features-shape.ts';
import { featureColumns } from '../../src/analysis/ecg/classify.ts';
import type { CincSet } from './cinc-data.ts';
import { progress } from './report.ts';

export const CV_FOLDS = 5;
export const CV_SEED = 2017;
/**
 * Outer fold whose test records no development experiment of 2.3.0 looked at (experiments ran on the
 * other four folds' records only), reported on its own beside the cross-validated figure.
 */
export const LOCKBOX_FOLD = 0;
const INNER_FOLDS = 3;
export const CLASSES = [...CINC_CLASSES];
const MULTIPLIERS = [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.15, 1.3, 1.5, 1.75, 2, 2.5];

/** 2.3.0 additions: sliding-window and ectopy-cleaned RR (features-window.ts), QRS shape and PR consistency (features-shape.ts). */
const ADDED_IN_2_3: readonly string[] = [...WINDOW_FEATURE_NAMES, ...SHAPE_FEATURE_NAMES];
/** Feature sets the inner folds choose between: without and with the 2.3.0 features. */
const FEATURE_SETS: Record<string, readonly string[]> = {
  'v2.2': FEATURE_NAMES.filter((f) => !ADDED_IN_2_3.includes(f)),
  all: FEATURE_NAMES,
};

export interface Candidate {
  features: keyof typeof FEATURE_SETS;
  depth: number;
  learningRate: number;
  /** Boosting rounds of the inner fits; the checkpoints at ½, ¾ and all of them are candidates too. */
  rounds: number;
}

/** The candidate settings, fixed before the outer test folds were scored (a 400-round depth-5 model is ≈ 2.2 MB of JSON). */
export const CANDIDATES: readonly Candidate[] = [
  { features: 'v2.2', depth: 5, learningRate: 0.05, rounds: 400 },
  { features: 'all', depth: 5, learningRate: 0.05, rounds: 400 },
];
const CHECKPOINTS = [0.5, 0.75, 1];

/** Class weights ∝ 1/√frequency: lifts the rare A and ~ classes without swamping N. */
export function classWeights(labels: readonly string[]): number[] {
  const counts = CLASSES.map((c) => labels.filter((l) => l === c).length);
  const ref = Math.max(...counts);
  return counts.map((n) => Math.sqrt(ref / Math.max(n, 1)));
}

function trainParams(labels: readonly string[], c: Candidate, rounds: number): GbtParams {
  return { ...DEFAULT_GBT, rounds, learningRate: c.learningRate, depth: c.depth, classWeights: classWeights(labels) };
}

export interface CincModel extends GbtModel {
  /** Per-class multipliers applied to the probabilities before the arg-max (chosen on training records). */
  classScale?: number[];
}

/** What the choice procedure picked on one set of training records, and its inner out-of-fold score. */
export interface CincChoice {
  model: CincModel;
  candidate: Candidate;
  rounds: number;
  innerScore: number;
  /** Inner out-of-fold score of every candidate × checkpoint (for the report). */
  tried: Array<{ candidate: Candidate; rounds: number; score: number }>;
}

const columnsOf = (names: readonly string[]) => names.map((n) => (FEATURE_NAMES as readonly string[]).indexOf(n));
const project = (x: readonly number[], cols: readonly number[]) => cols.map((c) => x[c]);

function fit(set: CincSet, idx: readonly number[], c: Candidate, rounds: number): GbtModel {
  const names = FEATURE_SETS[c.features];
  const cols = columnsOf(names);
  const labels = idx.map((i) => set.labels[i]);
  return trainGbt(
    idx.map((i) => project(set.X[i], cols)),
    labels.map((l) => CLASSES.indexOf(l as (typeof CLASSES)[number])),
    CLASSES,
    [...names],
    trainParams(labels, c, rounds),
  );
}

/** Probabilities of a model over the full feature vector `x` (the model names the features it uses). */
export function probabilities(model: GbtModel, x: readonly number[]): number[] {
  return predictProba(model, project(x, featureColumns(model)));
}

const argmaxScaled = (p: readonly number[], s: readonly number[]) => {
  let b = 0;
  for (let k = 1; k < p.length; k++) if (p[k] * s[k] > p[b] * s[b]) b = k;
  return CLASSES[b];
};

/** Multipliers maximising the challenge score of scaled arg-max predictions (coordinate search). */
export function chooseScale(probs: readonly number[][], labels: readonly string[]): { scale: number[]; score: number } {
  const s = CLASSES.map(() => 1);
  const score = () =>
    challengeScore(
      labels,
      probs.map((p) => argmaxScaled(p, s)),
    ).score;
  let best = score();
  for (let pass = 0; pass < 3; pass++) {
    for (let k = 1; k < CLASSES.length; k++) {
      for (const m of MULTIPLIERS) {
        const old = s[k];
        s[k] = m;
        const v = score();
        if (v > best + 1e-9) best = v;
        else s[k] = old;
      }
    }
  }
  return { scale: s, score: best };
}

/** The whole choice procedure on the records `train` (indices into `set`): it reads nothing else. */
export function chooseCincModel(set: CincSet, train: readonly number[], seed = CV_SEED, log?: (s: string) => void): CincChoice {
  const labels = train.map((i) => set.labels[i]);
  const inner = innerFolds(
    train.map((_, j) => j),
    (j) => set.records[train[j]],
    INNER_FOLDS,
    seed,
    (j) => labels[j],
  );
  const tried: CincChoice['tried'] = [];
  let best: { candidate: Candidate; rounds: number; score: number; scale: number[] } | undefined;
  for (const c of CANDIDATES) {
    const checkpoints = CHECKPOINTS.map((f) => Math.round(f * c.rounds));
    const probs = checkpoints.map(() => new Array<number[]>(train.length));
    for (const f of inner) {
      const m = fit(
        set,
        f.train.map((j) => train[j]),
        c,
        c.rounds,
      );
      for (const j of f.test) checkpoints.forEach((r, k) => (probs[k][j] = probabilities({ ...m, trees: m.trees.slice(0, r) }, set.X[train[j]])));
    }
    checkpoints.forEach((rounds, k) => {
      const { scale, score } = chooseScale(probs[k], labels);
      tried.push({ candidate: c, rounds, score });
      log?.(`  ${c.features} depth ${c.depth} rate ${c.learningRate} rounds ${rounds}: inner ${score.toFixed(4)}`);
      if (!best || score > best.score + 1e-9) best = { candidate: c, rounds, score, scale };
    });
  }
  const b = best!;
  return {
    model: { ...fit(set, train, b.candidate, b.rounds), classScale: b.scale },
    candidate: b.candidate,
    rounds: b.rounds,
    innerScore: b.score,
    tried,
  };
}

export function predictCinc(model: CincModel, x: readonly number[]): string {
  return argmaxScaled(probabilities(model, x), model.classScale ?? CLASSES.map(() => 1));
}

export function crossValidate(set: CincSet, k = CV_FOLDS, seed = CV_SEED) {
  const all = set.labels.map((_, i) => i);
  // Record-wise folds stratified by class; each CinC recording is one patient's (the challenge gives no patient ids).
  const folds = nestedCrossValidate(all, {
    id: (i) => set.records[i],
    folds: k,
    seed,
    stratum: (i) => set.labels[i],
    choose: (train, fold) => chooseCincModel(set, train, seed + 1 + fold, (s) => process.stderr.write(`fold ${fold}${s}\n`)),
    score: (i, choice) => predictCinc(choice.model, set.X[i]),
    onFold: (done, total) => progress('cinc2017 nested cross-validation folds', done, total),
  });
  const index = new Map(set.records.map((r, i) => [r, i]));
  const predicted = new Array<string>(set.labels.length);
  const foldOf = new Array<number>(set.labels.length);
  const perFold = folds.map((f) => {
    const te = f.test.map((r) => index.get(r)!);
    te.forEach((i, j) => ((predicted[i] = f.results[j]), (foldOf[i] = f.index)));
    const s = challengeScore(
      te.map((i) => set.labels[i]),
      f.results,
    );
    const c = f.choice;
    return {
      fold: f.index,
      records: te.length,
      score: s.score,
      f1: s.perClass,
      classScale: c.model.classScale ?? [],
      setting: `${c.candidate.features} features, depth ${c.candidate.depth}, rate ${c.candidate.learningRate}, ${c.rounds} rounds`,
      innerScore: c.innerScore,
    };
  });
  const s = challengeScore(set.labels, predicted);
  return {
    folds: k,
    stratification: 'stratified by class label (nested-cv.ts: records ordered by a seeded hash of their name within each class, dealt round-robin)',
    seed,
    records: set.labels.length,
    candidates: CANDIDATES.map(
      (c) => `${c.features} features, depth ${c.depth}, rate ${c.learningRate}, ${CHECKPOINTS.map((f) => Math.round(f * c.rounds)).join('/')} rounds`,
    ),
    lockboxFold: LOCKBOX_FOLD,
    classCounts: Object.fromEntries(CLASSES.map((c) => [c, set.labels.filter((l) => l === c).length])),
    f1: s.perClass,
    score: s.score,
    foldSpread: spread(perFold.map((f) => f.score)),
    perFold,
    confusion: { classes: CLASSES, rowsTruthColsPredicted: s.confusion },
    perRecord: set.records.map((r, i) => ({ record: r, truth: set.labels[i], predicted: predicted[i], fold: foldOf[i] })),
  };
}
