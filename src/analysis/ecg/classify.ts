/**
 * Short single-lead record classifier (PhysioNet/CinC Challenge 2017 classes): N normal rhythm,
 * A atrial fibrillation, O other rhythm, ~ too noisy. Features from features.ts, model = gradient-boosted
 * trees trained by scripts/train-ecg.ts (parameters in model/cinc2017-gbt.json).
 */
import { createRequire } from 'node:module';
import { extractFeatures, FEATURE_NAMES } from './features.ts';
import { predictProba, type GbtModel } from './gbt.ts';

export type RhythmClass = 'N' | 'A' | 'O' | '~';

export interface Classification {
  label: RhythmClass;
  /** Class probabilities from the model. */
  probabilities: Record<RhythmClass, number>;
}

/** Trained model; `classScale` (chosen on training records only) multiplies the probabilities before the arg-max. */
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

/** The bundled model (loaded once). */
export function defaultModel(): ClassifierModel {
  if (!cached) {
    const m = createRequire(import.meta.url)('./model/cinc2017-gbt.json') as ClassifierModel;
    featureColumns(m);
    cached = m;
  }
  return cached;
}

/** Classifies one recording; `signal` in mV at `fs` Hz. */
export function classifyRecord(signal: ArrayLike<number>, fs: number, model: ClassifierModel = defaultModel()): Classification {
  const x = extractFeatures(signal, fs);
  const p = predictProba(
    model,
    featureColumns(model).map((c) => x[c]),
  );
  const probabilities = Object.fromEntries(model.classes.map((c, k) => [c, p[k]])) as Record<RhythmClass, number>;
  const scaled = p.map((v, k) => v * (model.classScale?.[k] ?? 1));
  const label = model.classes[scaled.indexOf(Math.max(...scaled))] as RhythmClass;
  return { label, probabilities };
}
