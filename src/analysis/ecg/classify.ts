/**
 * Short single-lead record classifier (PhysioNet/CinC Challenge 2017 classes): N normal rhythm,
 * A atrial fibrillation, O other rhythm, ~ too noisy. Two models, averaged:
 * - gradient-boosted trees over hand-made features (features.ts; trained by scripts/train-ecg.ts,
 *   model/cinc2017-gbt.json);
 * - a small 1-D convolutional network over the band-passed signal itself (cnn.ts; trained by
 *   scripts/cnn/train_cnn.py, model/cinc2017-cnn.json).
 * Prediction = arg max of ½ p_trees + ½ p_CNN: the fusion rule was fixed before any held-out record was scored
 * (docs/cinc-cnn-experiment.md); nested cross-validation 0.847 ± 0.010 against 0.820 for the trees alone.
 */
import { createRequire } from 'node:module';
import { extractFeatures, FEATURE_NAMES } from './features.ts';
import { predictProba, type GbtModel } from './gbt.ts';
import { cnnProbabilities, defaultCnn, type LoadedCnn } from './cnn.ts';

export type RhythmClass = 'N' | 'A' | 'O' | '~';

export interface Classification {
  label: RhythmClass;
  /** Class probabilities (the average of both models'). */
  probabilities: Record<RhythmClass, number>;
}

/** Trained trees; `classScale` (chosen on training records only) multiplies their probabilities before the arg-max when they are used alone. */
export interface ClassifierModel extends GbtModel {
  classScale?: number[];
}

let cached: ClassifierModel | undefined;

/**
 * Positions in the feature vector of the features a model was trained on (the training procedure may
 * choose a subset of FEATURE_NAMES); throws when the model names a feature this code no longer computes.
 */
export function featureColumns(model: GbtModel): number[] {
  const names: readonly string[] = FEATURE_NAMES;
  return model.features.map((f) => {
    const at = names.indexOf(f);
    if (at < 0) throw new Error(`classifier model uses feature "${f}", which features.ts does not compute: retrain with scripts/train-ecg.ts`);
    return at;
  });
}

/** The bundled trees (loaded once). */
export function defaultModel(): ClassifierModel {
  if (!cached) {
    const m = createRequire(import.meta.url)('./model/cinc2017-gbt.json') as ClassifierModel;
    featureColumns(m);
    cached = m;
  }
  return cached;
}

/**
 * The shipped fusion, also what `npm run eval:ecg` scores: the average of the two models' probabilities (each
 * keyed by class), and its arg max. The trees' class multipliers are not applied (the rule was declared so).
 */
export function fuseProbabilities(
  trees: Record<string, number>,
  cnn: Record<string, number>,
): { label: RhythmClass; probabilities: Record<RhythmClass, number> } {
  const classes: RhythmClass[] = ['N', 'A', 'O', '~'];
  const probabilities = Object.fromEntries(classes.map((c) => [c, ((trees[c] ?? 0) + (cnn[c] ?? 0)) / 2])) as Record<RhythmClass, number>;
  const label = classes.reduce((best, c) => (probabilities[c] > probabilities[best] ? c : best), classes[0]);
  return { label, probabilities };
}

/** The trees' probabilities for one feature vector, keyed by class. */
export function treeProbabilities(model: GbtModel, features: readonly number[]): Record<string, number> {
  const p = predictProba(
    model,
    featureColumns(model).map((c) => features[c]),
  );
  return Object.fromEntries(model.classes.map((c, k) => [c, p[k]]));
}

/** Classifies one recording; `signal` in mV at `fs` Hz. `cnn: null` uses the trees alone (with their multipliers). */
export function classifyRecord(
  signal: ArrayLike<number>,
  fs: number,
  model: ClassifierModel = defaultModel(),
  cnn: LoadedCnn | null = defaultCnn(),
): Classification {
  const trees = treeProbabilities(model, extractFeatures(signal, fs));
  if (cnn) return fuseProbabilities(trees, cnnProbabilities(signal, fs, cnn));
  const scaled = model.classes.map((c, k) => trees[c] * (model.classScale?.[k] ?? 1));
  return { label: model.classes[scaled.indexOf(Math.max(...scaled))] as RhythmClass, probabilities: trees as Record<RhythmClass, number> };
}
