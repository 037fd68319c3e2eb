/**
 * Would gating beats on the signal-quality index help QRS detection in noise? (`npx tsx scripts/eval/nst-gate.ts`,
 * under `nice`: ≈ 2 CPU-minutes.) Runs the live analyzer (createEcgStreamAnalyzer, 1 s chunks) on the 22
 * non-paced mitdb records with the noise-stress test's seeded noise (nst.ts) at several SNRs, and scores
 * (EC57) the beats kept when beats from chunks whose quality index is under a gate are withheld.
 * Finding (docs/ecg-eval.md, README): the window quality index does not separate false detections from true
 * ones, so no gate is shipped; see the printed table.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRecord } from '../../src/analysis/ecg/wfdb.ts';
import { readAnnotationFile, isBeatCode } from '../../src/analysis/ecg/annotations.ts';
import { matchBeats, addCounts, sePp, type BeatCounts } from '../../src/analysis/ecg/eval/beats.ts';
import { createEcgStreamAnalyzer } from '../../src/analysis/ecg/index.ts';
import { listRecords, PACED_RECORDS } from './mitdb.ts';
import { makeNoise, medianQrsPtp, NST_SEED } from './nst.ts';
import { pct, table, progress } from './report.ts';

const GATES = [0, 0.1, 0.2, 0.3, 0.4, 0.5];
const SNRS = [Infinity, 12, 6, 0];

export function evaluateGate(dir: string) {
  const acc = new Map<string, BeatCounts>();
  const names = listRecords(dir).filter((r) => !PACED_RECORDS.has(r));
  names.forEach((name, n) => {
    const rec = readRecord(path.join(dir, name), ['MLII']);
    const fs = rec.fs;
    const ref = readAnnotationFile(path.join(dir, `${name}.atr`))
      .filter((a) => isBeatCode(a.code))
      .map((a) => a.sample);
    const clean = Float32Array.from(rec.adc, (v) => v / rec.gain);
    const ptp = medianQrsPtp(clean, ref, fs);
    const noise = makeNoise(clean.length, fs, NST_SEED + Number(name));
    for (const snr of SNRS) {
      const k = Number.isFinite(snr) ? Math.sqrt((ptp * ptp) / 8 / 10 ** (snr / 10)) : 0;
      const x = k ? Float32Array.from(clean, (v, i) => v + k * noise[i]) : clean;
      const a = createEcgStreamAnalyzer({ fs });
      const beats: number[] = [],
        q: number[] = [];
      for (let i = 0; i < x.length; i += fs) {
        const r = a.push(x.subarray(i, i + fs), i);
        for (const b of r.beats) {
          beats.push(b);
          q.push(r.quality.index);
        }
      }
      for (const g of GATES) {
        const key = `${snr}|${g}`;
        acc.set(
          key,
          addCounts(
            acc.get(key) ?? { tp: 0, fn: 0, fp: 0 },
            matchBeats(
              ref,
              beats.filter((_, j) => q[j] >= g),
              { fs },
            ),
          ),
        );
      }
    }
    progress('nst gate', n + 1, names.length);
  });
  return SNRS.flatMap((snr) => GATES.map((gate) => ({ snr, gate, ...acc.get(`${snr}|${gate}`)!, ...sePp(acc.get(`${snr}|${gate}`)!) })));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data/mitdb');
  const rows = evaluateGate(process.env.VIGIL_SHARED_DATA ? path.join(process.env.VIGIL_SHARED_DATA, 'mitdb') : dir);
  process.stdout.write(
    table(
      ['SNR dB', 'quality gate', 'TP', 'FN', 'FP', 'Se %', '+P %'],
      rows.map((r) => [Number.isFinite(r.snr) ? r.snr : 'clean', r.gate, r.tp, r.fn, r.fp, pct(r.se), pct(r.ppv)]),
    ) + '\n',
  );
}
