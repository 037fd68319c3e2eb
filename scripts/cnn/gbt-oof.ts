/**
 * Out-of-fold class probabilities of the shipped CinC GBT procedure, for the CNN fusion experiment.
 *
 *   VIGIL_ECG_CACHE=/work/cnn-cache npx tsx scripts/cnn/gbt-oof.ts --folds=0,1,2   # choices only (cached)
 *   VIGIL_ECG_CACHE=/work/cnn-cache npx tsx scripts/cnn/gbt-oof.ts --folds-only    # writes folds.csv only
 *   VIGIL_ECG_CACHE=/work/cnn-cache npx tsx scripts/cnn/gbt-oof.ts                 # all folds, writes gbt-oof.csv
 *
 * Uses exactly the outer folds of `npm run eval:ecg` (outerFolds: seed 2017, 5 folds, stratified by label)
 * and the same cached choice per fold (chooseCincModelCached with seed CV_SEED + 1 + fold, as crossValidate
 * does), so the probabilities are those of the models the eval scores. Writes to $VIGIL_ECG_CACHE (never the
 * repo: the files hold PhysioNet labels): folds.csv (record,label,fold) and gbt-oof.csv
 * (record,label,fold,pN,pA,pO,p~,sN,sA,sO,s~,gbtPred) with p = raw GBT probabilities and s = the fold's
 * chosen class multipliers; gbtPred = the eval's own prediction (scaled arg-max).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCinc } from '../eval/cinc-data.ts';
import { chooseCincModelCached, outerFolds, probabilities, predictCinc, CV_SEED, CLASSES } from '../eval/cinc-cv.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = process.env.VIGIL_SHARED_DATA ?? path.resolve(repoRoot, '../shared/data');
const cache = process.env.VIGIL_ECG_CACHE;
if (!cache) throw new Error('set VIGIL_ECG_CACHE (outside the repo)');
const args = process.argv.slice(2);
const set = loadCinc(path.join(dataDir, 'cinc2017'));
const folds = outerFolds(set);
const foldOf = new Array<number>(set.records.length);
for (const f of folds) for (const i of f.test) foldOf[i] = f.index;
writeFileSync(path.join(cache, 'folds.csv'), 'record,label,fold\n' + set.records.map((r, i) => `${r},${set.labels[i]},${foldOf[i]}`).join('\n') + '\n');
process.stdout.write(`fold sizes: ${folds.map((f) => f.test.length).join(' ')}\n`);
if (args.includes('--folds-only')) process.exit(0);
const wanted =
  args
    .find((a) => a.startsWith('--folds='))
    ?.slice(8)
    .split(',')
    .map(Number) ?? folds.map((f) => f.index);
const rows: string[] = [];
for (const f of folds.filter((x) => wanted.includes(x.index))) {
  const c = chooseCincModelCached(set, f.train, CV_SEED + 1 + f.index, (s) => process.stdout.write(`fold ${f.index}${s}\n`));
  process.stdout.write(
    `fold ${f.index}: ${c.candidate.features}, ${c.rounds} rounds, inner ${c.innerScore.toFixed(4)}, scale ${c.model.classScale?.join('/')}\n`,
  );
  const s = c.model.classScale ?? CLASSES.map(() => 1);
  for (const i of f.test) {
    const p = probabilities(c.model, set.X[i]);
    rows.push([set.records[i], set.labels[i], f.index, ...p.map((v) => v.toPrecision(7)), ...s, predictCinc(c.model, set.X[i])].join(','));
  }
}
if (wanted.length === folds.length) {
  const out = path.join(cache, 'gbt-oof.csv');
  writeFileSync(out, 'record,label,fold,pN,pA,pO,p~,sN,sA,sO,s~,gbtPred\n' + rows.join('\n') + '\n');
  process.stdout.write(`wrote ${out}\n`);
}
