/** mitdb part of the evaluation harness: QRS detection scored beat by beat (EC57 / bxb rules). */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { readRecord } from '../../src/analysis/ecg/wfdb.ts';
import { readAnnotationFile, isBeatCode, VF_ON, VF_OFF, type Annotation } from '../../src/analysis/ecg/annotations.ts';
import { createQrsDetector } from '../../src/analysis/ecg/qrs.ts';
import type { QrsTuning } from '../../src/analysis/ecg/qrs-decide.ts';
import { compareDurations, normalise, overlap, type DurationCounts } from '../../src/analysis/ecg/eval/duration.ts';
import { matchBeats, addCounts, sePp, type BeatCounts } from '../../src/analysis/ecg/eval/beats.ts';

export const PACED_RECORDS = new Set(['102', '104', '107', '217']); // EC57: reported apart

export interface RecordResult extends BeatCounts {
  record: string;
  paced: boolean;
  /** Counts with ventricular flutter/fibrillation episodes ([ … ]) excluded, as EC57/bxb do. */
  ec57: BeatCounts;
  /** Median signed offset detection − reference of matched-ish beats (ms), to check beat placement. */
  offsetMs: number;
  /** VF/VFL detection over the whole record, by duration (samples) and by episode. */
  vf: DurationCounts & { refEpisodes: number; refDetected: number; detEpisodes: number; detFalse: number };
}

/** detectBeats with access to the detector's VF state (same 1 s chunking). */
export function detectWithVf(signal: Int16Array | Float32Array, fs: number, gain: number, opts: { vf?: boolean; tuning?: QrsTuning } = {}) {
  const det = createQrsDetector({ fs, gain, vf: opts.vf, tuning: opts.tuning });
  const beats: number[] = [];
  for (let i = 0; i < signal.length; i += fs) for (const b of det.push(signal.subarray(i, i + fs))) beats.push(b);
  for (const b of det.flush()) beats.push(b);
  return { beats, vfEpisodes: det.vf ? [...det.vf.episodes] : [] };
}

function scoreVf(ref: Array<[number, number]>, det: Array<{ start: number; end: number }>, length: number): RecordResult['vf'] {
  const r = ref.map(([start, end]) => ({ start, end: Math.min(end, length) }));
  const c = compareDurations(r, det, 0, length);
  const dn = normalise(det, 0, length),
    rn = normalise(r, 0, length);
  return {
    ...c,
    refEpisodes: rn.length,
    refDetected: rn.filter((e) => overlap([e], dn) > 0).length,
    detEpisodes: dn.length,
    detFalse: dn.filter((e) => overlap([e], rn) === 0).length,
  };
}

/** Sample intervals between VF onset `[` and end `]` marks. */
export function vfIntervals(ann: readonly Annotation[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let on = -1;
  for (const a of ann) {
    if (a.code === VF_ON) on = a.sample;
    else if (a.code === VF_OFF && on >= 0) {
      out.push([on, a.sample]);
      on = -1;
    }
  }
  if (on >= 0) out.push([on, Number.MAX_SAFE_INTEGER]);
  return out;
}

function medianOffsetMs(ref: number[], det: number[], fs: number): number {
  const offs: number[] = [];
  let j = 0;
  for (const r of ref) {
    while (j + 1 < det.length && Math.abs(det[j + 1] - r) <= Math.abs(det[j] - r)) j++;
    if (det.length && Math.abs(det[j] - r) <= 0.15 * fs) offs.push(det[j] - r);
  }
  offs.sort((a, b) => a - b);
  return offs.length ? (offs[offs.length >> 1] / fs) * 1000 : NaN;
}

export function listRecords(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hea'))
    .map((f) => f.slice(0, -4))
    .sort();
}

export function evaluateRecord(dir: string, record: string, tuning?: QrsTuning): RecordResult {
  const rec = readRecord(path.join(dir, record), ['MLII']);
  const ann = readAnnotationFile(path.join(dir, `${record}.atr`));
  const ref = ann.filter((a) => isBeatCode(a.code)).map((a) => a.sample);
  const { beats: det, vfEpisodes } = detectWithVf(rec.adc, rec.fs, rec.gain, { tuning });
  const strict = matchBeats(ref, det, { fs: rec.fs });
  const vfRef = vfIntervals(ann);
  const ec57 = matchBeats(ref, det, { fs: rec.fs, excluded: vfRef });
  return {
    record,
    paced: PACED_RECORDS.has(record),
    ...strict,
    ec57,
    offsetMs: medianOffsetMs(ref, det, rec.fs),
    vf: scoreVf(vfRef, vfEpisodes, rec.adc.length),
  };
}

export function gross(rows: readonly RecordResult[], pick: (r: RecordResult) => BeatCounts = (r) => r) {
  const c = rows.reduce<BeatCounts>((acc, r) => addCounts(acc, pick(r)), { tp: 0, fn: 0, fp: 0 });
  return { ...c, ...sePp(c) };
}
