/**
 * Trains the CinC 2017 short-record classifier (`npm`-free: `npx tsx scripts/train-ecg.ts`):
 * features of every shipped record → stratified k-fold CV report → final model on all records, written
 * as parameters only to src/analysis/ecg/model/cinc2017-gbt.json (no PhysioNet data is copied).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCinc } from './eval/cinc-data.ts';
import { crossValidate, trainParams, CLASSES } from './eval/cinc-cv.ts';
import { trainGbt } from '../src/analysis/ecg/gbt.ts';
import { FEATURE_NAMES } from '../src/analysis/ecg/features.ts';
import { ECG_ALGORITHM } from '../src/analysis/ecg/version.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = process.env.VIGIL_SHARED_DATA ?? path.resolve(repoRoot, '../shared/data');
const set = loadCinc(path.join(dataDir, 'cinc2017'), !process.argv.includes('--no-cache'));
const cv = crossValidate(set);
process.stdout.write(`CV ${cv.folds}-fold: F1 N ${cv.f1.N.toFixed(3)} A ${cv.f1.A.toFixed(3)} O ${cv.f1.O.toFixed(3)} ~ ${cv.f1['~'].toFixed(3)}  score ${cv.score.toFixed(3)}\n`);
if (!process.argv.includes('--cv-only')) {
  const y = set.labels.map((l) => CLASSES.indexOf(l as (typeof CLASSES)[number]));
  const model = trainGbt(set.X, y, CLASSES, [...FEATURE_NAMES], trainParams(set.labels));
  const out = path.join(repoRoot, 'src/analysis/ecg/model/cinc2017-gbt.json');
  mkdirSync(path.dirname(out), { recursive: true });
  const round = (t: number[]) => t.map((v) => +v.toPrecision(6));
  const trees = model.trees.map((r) => r.map((t) => ({ ...t, threshold: round(t.threshold), value: round(t.value) })));
  writeFileSync(out, JSON.stringify({ algorithm: ECG_ALGORITHM, trainedOn: `cinc2017 shipped training records (${set.labels.length})`, cv: { folds: cv.folds, score: cv.score, f1: cv.f1 }, ...model, trees }) + '\n');
  process.stdout.write(`wrote ${path.relative(repoRoot, out)}\n`);
}
