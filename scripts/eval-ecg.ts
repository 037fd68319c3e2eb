/**
 * ECG evaluation harness (`npm run eval:ecg`): QRS detection on mitdb (EC57 beat-by-beat), AF detection on
 * afdb (by duration), a noise stress test on mitdb, CinC 2017 classification (k-fold cross-validation). Prints a table, writes
 * docs/ecg-eval.json and docs/ecg-eval.md; `--json` prints the JSON object instead of the table.
 */
import { writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ECG_ALGORITHM } from '../src/analysis/ecg/version.ts';
import { evaluateMitdb, mitdbMarkdown } from './eval/mitdb-report.ts';
import { evaluateAfdb, afdbMarkdown } from './eval/afdb.ts';
import { evaluateCinc, cincMarkdown } from './eval/cinc.ts';
import { evaluateNst, nstMarkdown } from './eval/nst.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = process.env.VIGIL_SHARED_DATA ?? path.resolve(repoRoot, '../shared/data');
const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
const wantJson = args.includes('--json');

if (!existsSync(dataDir)) {
  process.stderr.write(`eval:ecg: PhysioNet data not found at ${dataDir} (set VIGIL_SHARED_DATA)\n`);
  process.exit(1);
}

const started = Date.now();
const result: Record<string, unknown> = { algorithm: ECG_ALGORITHM, date: new Date().toISOString() };
const md: string[] = [
  '# ECG analysis: latest evaluation',
  '',
  `Written by \`npm run eval:ecg\` (${ECG_ALGORITHM.name} ${ECG_ALGORITHM.version}, ${new Date().toISOString().slice(0, 10)}).`,
  'Data: the PhysioNet records shipped in `shared/data` (see its README); the independent evaluation uses',
  'other records of the same databases. Nothing is tuned per record.',
  '',
];
if (!only || only === 'mitdb') {
  const r = evaluateMitdb(path.join(dataDir, 'mitdb'));
  result.mitdb = r;
  md.push(mitdbMarkdown(r), '');
}
if (!only || only === 'nst') {
  const r = evaluateNst(path.join(dataDir, 'mitdb'));
  result.noiseStress = r;
  md.push(nstMarkdown(r), '');
}
if (!only || only === 'afdb') {
  const r = evaluateAfdb(path.join(dataDir, 'afdb'));
  result.afdb = r;
  md.push(afdbMarkdown(r), '');
}
if (!only || only === 'cinc') {
  const r = await evaluateCinc(path.join(dataDir, 'cinc2017'));
  result.cinc2017 = r;
  md.push(cincMarkdown(r), '');
}
result.seconds = (Date.now() - started) / 1000;
const text = md.join('\n');
if (wantJson) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
else process.stdout.write(text + '\n');
if (!only) {
  writeFileSync(path.join(repoRoot, 'docs/ecg-eval.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(path.join(repoRoot, 'docs/ecg-eval.md'), text + '\n');
}
