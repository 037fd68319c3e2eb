/**
 * Trains the shipped ECG models (`npx tsx scripts/train-ecg.ts [--af] [--cinc] [--cv-only | --folds=0,1]`; both by default),
 * each by exactly the choice procedure the nested cross-validation of `npm run eval:ecg` scores, run once on
 * all shipped records. Writes parameters only (no PhysioNet data) to src/analysis/ecg/model/:
 * - af-rr-gbt.json: RR-interval AF model + decision threshold (scripts/eval/af-choose.ts) on afdb + ltafdb;
 * - cinc2017-gbt.json: CinC 2017 short-record classifier (scripts/eval/cinc-cv.ts).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCinc } from './eval/cinc-data.ts';
import { crossValidate, chooseCincModelCached, outerFolds, describeCandidate, CV_SEED } from './eval/cinc-cv.ts';
import { loadAfRecords } from './eval/af-data.ts';
import { chooseAfModel, writeAfModel, AF_CV_SEED } from './eval/af-choose.ts';
import { ECG_ALGORITHM } from '../src/analysis/ecg/version.ts';
import type { GbtModel } from '../src/analysis/ecg/gbt.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = process.env.VIGIL_SHARED_DATA ?? path.resolve(repoRoot, '../shared/data');
const args = process.argv.slice(2);
const both = !args.includes('--af') && !args.includes('--cinc');
const modelDir = path.join(repoRoot, 'src/analysis/ecg/model');
mkdirSync(modelDir, { recursive: true });

function compact<M extends GbtModel>(model: M): M {
  const round = (t: number[]) => t.map((v) => +v.toPrecision(6));
  // Split thresholds stay exact (see writeAfModel): rounding them moves values that equal a threshold.
  return { ...model, trees: model.trees.map((r) => r.map((t) => ({ ...t, value: round(t.value) }))) };
}

if (both || args.includes('--af')) {
  const records = loadAfRecords(dataDir);
  const c = chooseAfModel(records, AF_CV_SEED);
  const out = writeAfModel(c, records.length);
  process.stdout.write(
    `AF: threshold ${c.model.threshold} (off ${c.model.offThreshold}), smoothing ±${c.model.smooth} (inner out-of-fold Se/Sp ${Object.entries(c.inner)
      .map(([db, x]) => `${db} ${(100 * x.se).toFixed(2)}/${(100 * x.sp).toFixed(2)}`)
      .join(', ')}); wrote ${path.relative(repoRoot, out)}\n`,
  );
}

if (both || args.includes('--cinc')) {
  const set = loadCinc(path.join(dataDir, 'cinc2017'), !args.includes('--no-cache'));
  const folds = args.find((a) => a.startsWith('--folds='))?.slice(8);
  if (folds !== undefined) {
    // Only the choices of these outer folds, kept in $VIGIL_ECG_CACHE for a later `npm run eval:ecg` (separate processes).
    if (!process.env.VIGIL_ECG_CACHE) throw new Error('--folds= needs VIGIL_ECG_CACHE (where the fold choices are kept)');
    const wanted = folds.split(',').map(Number);
    for (const f of outerFolds(set).filter((x) => wanted.includes(x.index))) {
      const c = chooseCincModelCached(set, f.train, CV_SEED + 1 + f.index, (s) => process.stdout.write(`fold ${f.index}${s}\n`));
      process.stdout.write(`fold ${f.index}: ${c.candidate.features}, ${c.rounds} rounds, inner ${c.innerScore.toFixed(4)}\n`);
    }
  } else if (args.includes('--cv-only')) {
    const cv = crossValidate(set);
    process.stdout.write(`CinC CV ${cv.folds}-fold: score ${cv.score.toFixed(3)}\n`);
  } else {
    const choice = chooseCincModelCached(
      set,
      set.labels.map((_, i) => i),
      CV_SEED,
      (s) => process.stdout.write(`${s}\n`),
    );
    const model = choice.model;
    const out = path.join(modelDir, 'cinc2017-gbt.json');
    writeFileSync(
      out,
      JSON.stringify({ algorithm: ECG_ALGORITHM, trainedOn: `cinc2017 shipped training records (${set.labels.length})`, ...compact(model) }) + '\n',
    );
    process.stdout.write(
      `CinC: ${describeCandidate(choice.candidate, choice.rounds)}, multipliers ${model.classScale?.join('/')} (inner ${choice.innerScore.toFixed(4)}); wrote ${path.relative(repoRoot, out)}\n`,
    );
  }
}
