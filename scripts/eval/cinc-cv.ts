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
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainGbt, predictProba, averageLogits, DEFAULT_GBT, type GbtParams, type GbtModel } from '../../src/analysis/ecg/gbt.ts';
import { challengeScore, CINC_CLASSES } from '../../src/analysis/ecg/eval/f1.ts';
import { nestedCrossValidate, innerFolds, splitFolds, spread } from '../../src/analysis/ecg/eval/nested-cv.ts';
import { FEATURE_NAMES } from '../../src/analysis/ecg/features.ts';
import { WINDOW_FEATURE_NAMES } from '../../src/analysis/ecg/features-window.ts';
import { SHAPE_FEATURE_NAMES } from '../../src/analysis/ecg/features-shape.ts';
import { featureColumns, fuseProbabilities, treeProbabilities } from '../../src/analysis/ecg/classify.ts';
import { cnnProbabilities, loadCnn, type CnnModel, type LoadedCnn } from '../../src/analysis/ecg/cnn.ts';
import { readRecord, toPhysical } from '../../src/analysis/ecg/wfdb.ts';
import type { CincSet } from './cinc-data.ts';
import { progress } from './report.ts';

export const CV_FOLDS = 5;
export const CV_SEED = 2017;
/**
 * Outer fold whose test records no development experiment of 2.3.0 (nor of the unshipped 2.4.0 candidate)
 * looked at (experiments ran on the other four folds' records only), reported on its own beside the
 * cross-validated figure. It has been scored by two nested runs (2.3.0's and the 2.4.0 candidate's).
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
  /** Models trained with different row/column-sampling seeds whose logits are averaged (bagging; default 1). */
  bags?: number;
}

/** The candidate settings, fixed before the outer test folds were scored (a 400-round depth-5 model is ≈ 2.2 MB of JSON). */
export const CANDIDATES: readonly Candidate[] = [
  { features: 'v2.2', depth: 5, learningRate: 0.05, rounds: 400 },
  { features: 'all', depth: 5, learningRate: 0.05, rounds: 400 },
];
const CHECKPOINTS = [0.5, 0.75, 1];

/** "all features, depth 5, rate 0.05, 150 rounds × 2 bagged models" */
export function describeCandidate(c: Candidate, rounds: number | string): string {
  const bags = (c.bags ?? 1) > 1 ? ` × ${c.bags} bagged models` : '';
  return `${c.features} features, depth ${c.depth}, rate ${c.learningRate}, ${rounds} rounds${bags}`;
}

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
  const X = idx.map((i) => project(set.X[i], cols));
  const y = labels.map((l) => CLASSES.indexOf(l as (typeof CLASSES)[number]));
  const bags = c.bags ?? 1;
  const models = Array.from({ length: bags }, (_, b) => trainGbt(X, y, CLASSES, [...names], { ...trainParams(labels, c, rounds), seed: 1 + b }));
  return bags === 1 ? models[0] : averageLogits(models);
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
      const bags = c.bags ?? 1;
      for (const j of f.test) checkpoints.forEach((r, k) => (probs[k][j] = probabilities({ ...m, trees: m.trees.slice(0, r * bags) }, set.X[train[j]])));
    }
    checkpoints.forEach((rounds, k) => {
      const { scale, score } = chooseScale(probs[k], labels);
      tried.push({ candidate: c, rounds, score });
      log?.(`  ${describeCandidate(c, rounds)}: inner ${score.toFixed(4)}`);
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

/**
 * `chooseCincModel` with its result kept on disk in $VIGIL_ECG_CACHE (outside the repo), keyed by a hash of
 * everything the choice reads: the training records' names, labels and feature values, the candidate list,
 * the multiplier grid, the seed and the training code (this file and gbt.ts). Lets `--folds=` runs of scripts/train-ecg.ts compute outer folds in
 * separate processes; a later full run finds them and only scores. Any change to the inputs is a new key.
 */
export function chooseCincModelCached(set: CincSet, train: readonly number[], seed: number, log?: (s: string) => void): CincChoice {
  const dir = process.env.VIGIL_ECG_CACHE;
  if (!dir) return chooseCincModel(set, train, seed, log);
  const h = createHash('sha256');
  h.update(JSON.stringify({ CANDIDATES, CHECKPOINTS, MULTIPLIERS, INNER_FOLDS, seed, FEATURE_NAMES }));
  // The code that trains and chooses, so a change to it never reuses a stale choice.
  for (const f of [fileURLToPath(import.meta.url), fileURLToPath(new URL('../../src/analysis/ecg/gbt.ts', import.meta.url))]) h.update(readFileSync(f));
  for (const i of train) h.update(JSON.stringify([set.records[i], set.labels[i], set.X[i]]));
  const file = path.join(dir, `vigil-cinc-choice-${h.digest('hex').slice(0, 16)}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as CincChoice;
  const choice = chooseCincModel(set, train, seed, log);
  writeFileSync(file, JSON.stringify(choice));
  return choice;
}

/** Outer folds of `crossValidate` (index, training and test record indices), for running folds separately. */
export function outerFolds(set: CincSet, k = CV_FOLDS, seed = CV_SEED) {
  const all = set.labels.map((_, i) => i);
  return splitFolds(
    all,
    (i) => set.records[i],
    k,
    seed,
    (i) => set.labels[i],
  );
}

export function predictCinc(model: CincModel, x: readonly number[]): string {
  return argmaxScaled(probabilities(model, x), model.classScale ?? CLASSES.map(() => 1));
}

const CNN_FOLDS_DIR = fileURLToPath(new URL('./cinc-cnn-folds/', import.meta.url));

/**
 * The CNN of one outer fold, trained offline on that fold's training records (scripts/cnn/train_cnn.py --fold F,
 * exported by scripts/cnn/export_folds.py with the SHA-256 of their sorted names). Refused unless that stamp is
 * exactly the training records handed over here: no record is scored by a CNN that saw it.
 */
export function foldCnn(set: CincSet, train: readonly number[], fold: number): LoadedCnn {
  const file = path.join(CNN_FOLDS_DIR, `fold${fold}.json`);
  if (!existsSync(file)) throw new Error(`${file} is missing: train and export the outer-fold CNNs (docs/cinc-cnn-experiment.md)`);
  const m = JSON.parse(readFileSync(file, 'utf8')) as CnnModel & { fold: number; trainedOn: { records: number; sha256: string } };
  const names = train.map((i) => set.records[i]).sort();
  const sha = createHash('sha256').update(names.join('\n')).digest('hex');
  if (m.fold !== fold || m.trainedOn.sha256 !== sha)
    throw new Error(
      `${file} was not trained on exactly outer fold ${fold}'s ${names.length} training records (stamped: ${m.trainedOn.records}): refusing to score with it`,
    );
  return loadCnn(m);
}

/**
 * Nested cross-validation of the shipped classifier: per outer fold, the trees chosen and trained on its training
 * records (chooseCincModel) and the CNN trained on the same records (foldCnn), fused as classify.ts fuses them.
 * The trees alone (their own multipliers) are scored beside it, on the same folds.
 */
export function crossValidate(set: CincSet, k = CV_FOLDS, seed = CV_SEED) {
  const all = set.labels.map((_, i) => i);
  // Record-wise folds stratified by class; each CinC recording is one patient's (the challenge gives no patient ids).
  const folds = nestedCrossValidate(all, {
    id: (i) => set.records[i],
    folds: k,
    seed,
    stratum: (i) => set.labels[i],
    choose: (train, fold) => ({
      trees: chooseCincModelCached(set, train, seed + 1 + fold, (s) => process.stderr.write(`fold ${fold}${s}\n`)),
      cnn: set.dir ? foldCnn(set, train, fold) : null,
    }),
    score: (i, choice) => {
      const trees = predictCinc(choice.trees.model, set.X[i]);
      if (!choice.cnn) return { trees, fused: trees };
      const rec = readRecord(path.join(set.dir!, set.records[i]), ['ECG']);
      const p = cnnProbabilities(toPhysical(rec.adc, rec.gain, rec.baseline), rec.fs, choice.cnn);
      return { trees, fused: fuseProbabilities(treeProbabilities(choice.trees.model, set.X[i]), p).label as string };
    },
    onFold: (done, total) => progress('cinc2017 nested cross-validation folds', done, total),
  });
  const index = new Map(set.records.map((r, i) => [r, i]));
  const predicted = new Array<string>(set.labels.length);
  const predictedTrees = new Array<string>(set.labels.length);
  const foldOf = new Array<number>(set.labels.length);
  const perFold = folds.map((f) => {
    const te = f.test.map((r) => index.get(r)!);
    te.forEach((i, j) => ((predicted[i] = f.results[j].fused), (predictedTrees[i] = f.results[j].trees), (foldOf[i] = f.index)));
    const truth = te.map((i) => set.labels[i]);
    const s = challengeScore(
      truth,
      f.results.map((r) => r.fused),
    );
    const c = f.choice.trees;
    return {
      fold: f.index,
      records: te.length,
      score: s.score,
      f1: s.perClass,
      treesScore: challengeScore(
        truth,
        f.results.map((r) => r.trees),
      ).score,
      classScale: c.model.classScale ?? [],
      setting: describeCandidate(c.candidate, c.rounds),
      innerScore: c.innerScore,
    };
  });
  const s = challengeScore(set.labels, predicted);
  const t = challengeScore(set.labels, predictedTrees);
  return {
    withCnn: folds.every((f) => f.choice.cnn !== null),
    trees: { score: t.score, f1: t.perClass, foldSpread: spread(perFold.map((f) => f.treesScore)) },
    folds: k,
    stratification: 'stratified by class label (nested-cv.ts: records ordered by a seeded hash of their name within each class, dealt round-robin)',
    seed,
    records: set.labels.length,
    candidates: CANDIDATES.map((c) => describeCandidate(c, CHECKPOINTS.map((f) => Math.round(f * c.rounds)).join('/'))),
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
