/**
 * CPU time of the CNN forward pass (preprocessing included) on one 30 s recording, and its agreement with the
 * Python probabilities in the model file's "check".   npx tsx scripts/cnn/bench-cnn.ts [record=A00001]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { loadCnn, cnnProbabilities, type CnnModel } from '../../src/analysis/ecg/cnn.ts';
import { readRecord, toPhysical } from '../../src/analysis/ecg/wfdb.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = process.env.VIGIL_SHARED_DATA ?? path.resolve(repoRoot, '../shared/data');
const m = createRequire(import.meta.url)(path.join(repoRoot, 'src/analysis/ecg/model/cinc2017-cnn.json')) as CnnModel & {
  check: Array<{ record: string; probabilities: number[] }>;
};
const net = loadCnn(m);
let worst = 0;
for (const c of m.check) {
  const rec = readRecord(path.join(dataDir, 'cinc2017', c.record), ['ECG']);
  const p = cnnProbabilities(toPhysical(rec.adc, rec.gain, rec.baseline), rec.fs, net);
  const d = Math.max(...m.classes.map((k, i) => Math.abs(p[k] - c.probabilities[i])));
  worst = Math.max(worst, d);
  process.stdout.write(
    `${c.record}: TS ${m.classes.map((k) => p[k].toFixed(5)).join(' ')} | Python ${c.probabilities.map((v) => v.toFixed(5)).join(' ')} | max diff ${d.toExponential(2)}\n`,
  );
}
const name = process.argv[2] ?? 'A00001';
const rec = readRecord(path.join(dataDir, 'cinc2017', name), ['ECG']);
const x = toPhysical(rec.adc, rec.gain, rec.baseline);
for (let i = 0; i < 5; i++) cnnProbabilities(x, rec.fs, net); // warm-up
const n = 30;
const t0 = process.cpuUsage();
for (let i = 0; i < n; i++) cnnProbabilities(x, rec.fs, net);
const t = process.cpuUsage(t0);
process.stdout.write(
  `${name} (${(x.length / rec.fs).toFixed(1)} s): ${((t.user + t.system) / 1000 / n).toFixed(1)} ms CPU per recording (mean of ${n}); worst |TS - Python| ${worst.toExponential(2)}\n`,
);
