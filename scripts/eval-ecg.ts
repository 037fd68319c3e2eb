/**
 * ECG evaluation harness (`npm run eval:ecg`), every figure on records that took no part in any choice:
 * - QRS detection on mitdb (EC57 beat-by-beat): nested record-wise CV of the decision-stage settings,
 *   plus the per-record table of the shipped settings and the paced records;
 * - noise stress test on mitdb (shipped settings);
 * - AF from RR intervals on afdb + ltafdb (by duration): nested record-wise CV of the learned model;
 * - CinC 2017 classification: nested record-wise CV of the classifier.
 * Prints each section's Markdown as it completes and writes docs/ecg-eval.md, docs/ecg-eval.json and
 * artifacts/ecg-eval-cinc2017.csv (gitignored: it holds PhysioNet's labels); `--only=mitdb,nst,af,cinc` (any subset) re-runs those sections and keeps the
 * others from docs/ecg-eval.json; `--json` prints the JSON object instead.
 * Heavy: run it under `nice` on a shared machine.
 */
import { writeFileSync, existsSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ECG_ALGORITHM } from '../src/analysis/ecg/version.ts';
import { evaluateMitdb, mitdbMarkdown } from './eval/mitdb-report.ts';
import { evaluateQrsCv, qrsCvMarkdown } from './eval/qrs-cv.ts';
import { evaluateAf, afMarkdown } from './eval/af.ts';
import { writeAfModel } from './eval/af-choose.ts';
import { evaluateAfMitdb, afMitdbMarkdown } from './eval/af-mitdb.ts';
import { evaluateCinc, cincMarkdown } from './eval/cinc.ts';
import { evaluateNst, nstMarkdown } from './eval/nst.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = process.env.VIGIL_SHARED_DATA ?? path.resolve(repoRoot, '../shared/data');
const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith('--only='))?.slice(7);
const wantJson = args.includes('--json');
// --write-models: also ship the AF model the same procedure picks on all records (as train-ecg --af does).
const writeModels = args.includes('--write-models');

if (!existsSync(dataDir)) {
  process.stderr.write(`eval:ecg: PhysioNet data not found at ${dataDir} (set VIGIL_SHARED_DATA)\n`);
  process.exit(1);
}
if (only && !only.split(',').every((x) => ['mitdb', 'nst', 'af', 'cinc'].includes(x))) {
  process.stderr.write(`eval:ecg: --only takes a comma-separated list of mitdb, nst, af, cinc (got "${only}")\n`);
  process.exit(2);
}

const started = Date.now();
const jsonPath = path.join(repoRoot, 'docs/ecg-eval.json');
// `--only` re-runs some sections and keeps the others from the last full report (each section records the
// algorithm version it was computed with; the report shows it), so a change to one detector does not cost
// the whole evaluation on a shared machine.
/** When and with which algorithm version a section was computed (every section of the report carries it). */
interface Stamp {
  algorithm: string;
  date: string;
}
type Cinc = Awaited<ReturnType<typeof evaluateCinc>>;
/** The report's sections as docs/ecg-eval.json holds them (each one optional: `--only` runs some). */
interface EcgReport {
  mitdbNestedCv?: ReturnType<typeof evaluateQrsCv> & Stamp;
  mitdb?: ReturnType<typeof evaluateMitdb> & Stamp;
  noiseStress?: ReturnType<typeof evaluateNst> & Stamp;
  // The chosen model itself is written to the models folder, not into the report.
  af?: Omit<ReturnType<typeof evaluateAf>, 'shippedModel'> & { mitdbOwnBeats?: ReturnType<typeof evaluateAfMitdb> } & Stamp;
  // Per-record labels are PhysioNet's: the report names the gitignored CSV that holds them.
  cinc2017?: Omit<Cinc, 'perRecord'> & { perRecord: string } & Stamp;
}
const computed: EcgReport = {}; // sections computed by this run
const sections = only ? only.split(',') : ['mitdb', 'nst', 'af', 'cinc'];
const stamp = (): Stamp => ({ algorithm: `${ECG_ALGORITHM.name} ${ECG_ALGORITHM.version}`, date: new Date().toISOString() });
const emit = (title: string, text: string): void => {
  process.stderr.write(`${title} done\n`);
  if (!wantJson) process.stdout.write(text + '\n\n');
  writeReport();
};

if (sections.includes('mitdb')) {
  const nestedCv = (computed.mitdbNestedCv = { ...evaluateQrsCv(path.join(dataDir, 'mitdb')), ...stamp() });
  const mitdb = (computed.mitdb = { ...evaluateMitdb(path.join(dataDir, 'mitdb')), ...stamp() });
  emit('mitdb', qrsCvMarkdown(nestedCv) + '\n\n' + mitdbMarkdown(mitdb));
}
if (sections.includes('nst')) {
  const nst = (computed.noiseStress = { ...evaluateNst(path.join(dataDir, 'mitdb')), ...stamp() });
  emit('nst', nstMarkdown(nst));
}
if (sections.includes('af')) {
  const { shippedModel, ...af } = evaluateAf(dataDir, { shipped: writeModels });
  if (shippedModel) writeAfModel(shippedModel, af.records.length);
  // The shipped model (just chosen, or the bundled one) on the analyzer's own beats over mitdb's signals.
  const mitdbOwnBeats = evaluateAfMitdb(path.join(dataDir, 'mitdb'), shippedModel?.model);
  computed.af = { ...af, mitdbOwnBeats, ...stamp() };
  emit('af', afMarkdown({ ...af, shippedModel }) + '\n\n' + afMitdbMarkdown(mitdbOwnBeats));
}
if (sections.includes('cinc')) {
  const r = await evaluateCinc(path.join(dataDir, 'cinc2017'));
  mkdirSync(path.join(repoRoot, 'artifacts'), { recursive: true });
  // Per-record truth labels are PhysioNet's data: written to the gitignored artifacts/, never into the repo.
  writeFileSync(
    path.join(repoRoot, 'artifacts/ecg-eval-cinc2017.csv'),
    ['record,truth,predicted,fold', ...r.perRecord.map((x) => `${x.record},${x.truth},${x.predicted},${x.fold}`)].join('\n') + '\n',
  );
  computed.cinc2017 = { ...r, perRecord: 'artifacts/ecg-eval-cinc2017.csv', ...stamp() };
  emit('cinc', cincMarkdown(r));
}
/**
 * Merges this run's sections into docs/ecg-eval.json (re-read just before writing, so two runs of different
 * sections do not overwrite each other; a full run starts from nothing) and rewrites docs/ecg-eval.md from it.
 */
function writeReport(): void {
  const previous: unknown = only && existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')) : {};
  // Keep only sections stamped by this harness (earlier versions' sections had another shape). The file is
  // this harness's own output, so a stamped section is trusted to have the shape EcgReport gives it.
  const isStamped = (v: unknown): boolean =>
    typeof v === 'object' && v !== null && typeof (v as Partial<Stamp>).algorithm === 'string' && typeof (v as Partial<Stamp>).date === 'string';
  const base: EcgReport = Object.fromEntries(Object.entries(previous ?? {}).filter(([, v]) => isStamped(v)));
  const result = { ...base, ...computed, algorithm: ECG_ALGORITHM };
  const md: string[] = [
    '# ECG analysis: latest evaluation',
    '',
    `Written by \`npm run eval:ecg\` (${ECG_ALGORITHM.name} ${ECG_ALGORITHM.version}; each section below names the version and date it was computed with).`,
    'Data: the PhysioNet records shipped in `shared/data` (see its README); the independent evaluation uses',
    'other records of the same databases. Every headline figure is record-wise (patient-wise) nested',
    'cross-validation: whatever is chosen from data (thresholds, settings, models) is chosen inside each',
    'training fold by a procedure fixed in code (src/analysis/ecg/eval/nested-cv.ts hands the chooser the',
    'training records only) and scored on the held-out records. The shipped models and settings are that',
    'same procedure run once on all records (scripts/train-ecg.ts). Nothing is tuned per record.',
    '',
  ];
  const when = (x: { algorithm?: string; date?: string }) => `_(${x.algorithm ?? '?'}, ${x.date?.slice(0, 16).replace('T', ' ') ?? '?'} UTC)_`;
  if (result.mitdbNestedCv) md.push(qrsCvMarkdown(result.mitdbNestedCv), '', when(result.mitdbNestedCv), '');
  if (result.mitdb) md.push(mitdbMarkdown(result.mitdb), '');
  if (result.noiseStress) md.push(nstMarkdown(result.noiseStress), '', when(result.noiseStress), '');
  if (result.af)
    md.push(
      afMarkdown({ ...result.af, shippedModel: undefined }),
      '',
      ...(result.af.mitdbOwnBeats ? [afMitdbMarkdown(result.af.mitdbOwnBeats), ''] : []),
      when(result.af),
      '',
    );
  // cincMarkdown reads the aggregate figures only, never the per-record list the report leaves out.
  if (result.cinc2017) md.push(cincMarkdown({ ...result.cinc2017, perRecord: [] }), '', when(result.cinc2017), '');
  writeFileSync(jsonPath, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(path.join(repoRoot, 'docs/ecg-eval.md'), md.join('\n') + '\n');
}
if (wantJson) process.stdout.write(JSON.stringify(computed, null, 2) + '\n');
process.stderr.write(
  `eval:ecg: wrote docs/ecg-eval.md and docs/ecg-eval.json (${sections.join(', ')} run) in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
);
