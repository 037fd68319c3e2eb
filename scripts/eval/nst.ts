/**
 * Noise stress test (after the MIT-BIH Noise Stress Test, Moody, Muldrow & Mark 1984): reproducible noise
 * is added to every non-paced mitdb record at SNR 24, 12, 6 and 0 dB and the QRS detector is scored as on
 * clean data (EC57 rules). The noise is a seeded mix of equal powers of
 *   - white Gaussian noise,
 *   - baseline wander: a sum of 0.1–0.5 Hz sinusoids with random phases (respiration, electrode motion),
 *   - EMG-like noise: Gaussian noise band-passed to 20–100 Hz (muscle artefact);
 * it covers the whole record (the detector also learns on noisy signal; stricter than nst, which leaves
 * the first 5 minutes clean). SNR as nst defines it: S = (median QRS peak-to-peak amplitude)² / 8 (the
 * power of a sine of that peak-to-peak), N = mean square of the noise; SNR = 10·log10(S/N).
 * The signal-quality index is averaged over 5-s windows every 10 s, as the stream analyzer computes it.
 */
import path from 'node:path';
import { readRecord } from '../../src/analysis/ecg/wfdb.ts';
import { readAnnotationFile, isBeatCode } from '../../src/analysis/ecg/annotations.ts';
import { matchBeats, addCounts, sePp, type BeatCounts } from '../../src/analysis/ecg/eval/beats.ts';
import { assessQuality } from '../../src/analysis/ecg/quality.ts';
import { highpass, lowpass, filterCascade } from '../../src/analysis/ecg/filters.ts';
import { listRecords, detectWithVf, vfIntervals, PACED_RECORDS } from './mitdb.ts';
import { progress } from './report.ts';
import { mulberry32 } from '../../src/domain/random.ts';

export const NST_SNRS_DB = [Infinity, 24, 12, 6, 0];
export const NST_SEED = 1984;

const rng = mulberry32;

/** Unit-power noise mix (mV² = 1), reproducible from `seed`. */
export function makeNoise(n: number, fs: number, seed: number): Float32Array {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const white = new Float32Array(n);
  const emgIn = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    white[i] = gauss();
    emgIn[i] = gauss();
  }
  const emg = filterCascade(emgIn, [highpass(20, fs), highpass(20, fs), lowpass(100, fs), lowpass(100, fs)]);
  const bw = new Float32Array(n);
  const comps = Array.from({ length: 4 }, () => ({ f: 0.1 + 0.4 * r(), p: 2 * Math.PI * r(), a: 0.5 + r() }));
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (const c of comps) v += c.a * Math.sin((2 * Math.PI * c.f * i) / fs + c.p);
    bw[i] = v;
  }
  const power = (x: Float32Array) => x.reduce((s, v) => s + v * v, 0) / x.length;
  const kw = Math.sqrt(1 / 3 / power(white)),
    ke = Math.sqrt(1 / 3 / power(emg)),
    kb = Math.sqrt(1 / 3 / power(bw));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = kw * white[i] + ke * emg[i] + kb * bw[i];
  return out;
}

export function medianQrsPtp(x: Float32Array, ref: number[], fs: number): number {
  const h = Math.round(0.05 * fs);
  const v: number[] = [];
  for (let k = 0; k < ref.length; k += 10) {
    let lo = Infinity,
      hi = -Infinity;
    for (let i = Math.max(0, ref[k] - h); i < Math.min(x.length, ref[k] + h); i++) {
      if (x[i] < lo) lo = x[i];
      if (x[i] > hi) hi = x[i];
    }
    if (hi > lo) v.push(hi - lo);
  }
  v.sort((a, b) => a - b);
  return v[v.length >> 1];
}

export interface NstRow extends BeatCounts {
  snrDb: number;
  se: number;
  ppv: number;
  /** Mean signal-quality index over 5-s windows, and the share of windows under 0.5. */
  quality: number;
  lowQualityShare: number;
  /** Seconds flagged as VF outside reference VF episodes (false VF alarms caused by noise). */
  falseVfSeconds: number;
}

export function evaluateNst(dir: string) {
  const names = listRecords(dir).filter((r) => !PACED_RECORDS.has(r));
  const acc = new Map<number, { c: BeatCounts; q: number; qn: number; low: number; fvf: number }>();
  for (const snr of NST_SNRS_DB) acc.set(snr, { c: { tp: 0, fn: 0, fp: 0 }, q: 0, qn: 0, low: 0, fvf: 0 });
  names.forEach((name, k) => {
    const rec = readRecord(path.join(dir, name), ['MLII']);
    const { fs } = rec;
    const ann = readAnnotationFile(path.join(dir, `${name}.atr`));
    const ref = ann.filter((a) => isBeatCode(a.code)).map((a) => a.sample);
    const vfRef = vfIntervals(ann);
    const clean = Float32Array.from(rec.adc, (v) => v / rec.gain);
    const ptp = medianQrsPtp(clean, ref, fs);
    const noise = makeNoise(clean.length, fs, NST_SEED + Number(name));
    for (const snr of NST_SNRS_DB) {
      const a = acc.get(snr)!;
      const k = Number.isFinite(snr) ? Math.sqrt((ptp * ptp) / 8 / 10 ** (snr / 10)) : 0;
      const x = k ? Float32Array.from(clean, (v, i) => v + k * noise[i]) : clean;
      const { beats, vfEpisodes } = detectWithVf(x, fs, 1);
      a.c = addCounts(a.c, matchBeats(ref, beats, { fs }));
      for (const e of vfEpisodes) {
        let s = 0;
        for (let i = e.start; i < e.end; i += fs) if (!vfRef.some(([p, q]) => i >= p && i <= q)) s++;
        a.fvf += s;
      }
      const w = 5 * fs;
      let j = 0;
      for (let s = 0; s + w <= x.length; s += 10 * fs) {
        while (j < beats.length && beats[j] < s) j++;
        let m = j;
        while (m < beats.length && beats[m] < s + w) m++;
        const q = assessQuality(x.subarray(s, s + w), fs, m - j).index;
        a.q += q;
        a.qn++;
        if (q < 0.5) a.low++;
      }
    }
    progress('nst', k + 1, names.length);
  });
  const rows: NstRow[] = NST_SNRS_DB.map((snr) => {
    const a = acc.get(snr)!;
    return { snrDb: snr, ...a.c, ...sePp(a.c), quality: a.q / a.qn, lowQualityShare: a.low / a.qn, falseVfSeconds: a.fvf };
  });
  return {
    rules: `noise stress test: ${names.length} non-paced mitdb records, seeded noise (white + baseline wander + 20–100 Hz EMG-like, equal powers, seed ${NST_SEED} + record number) over the whole record; SNR from the median QRS peak-to-peak (nst definition); EC57 scoring`,
    rows,
  };
}

export function nstMarkdown(r: ReturnType<typeof evaluateNst>): string {
  const p = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(2) : '—');
  return [
    '## Noise stress test (after the MIT-BIH NST)',
    '',
    r.rules + '.',
    '',
    '| SNR dB | TP | FN | FP | Se % | +P % | mean quality index | windows with quality < 0.5 | false VF s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.rows.map(
      (x) =>
        `| ${Number.isFinite(x.snrDb) ? x.snrDb : 'clean'} | ${x.tp} | ${x.fn} | ${x.fp} | ${p(x.se)} | ${p(x.ppv)} | ${x.quality.toFixed(2)} | ${(x.lowQualityShare * 100).toFixed(1)} % | ${x.falseVfSeconds} |`,
    ),
  ].join('\n');
}
