/** Loads the AF records (afdb beat/rhythm files, ltafdb annotations) and builds training rows for the RR model. */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parseBeatsFile, parseRhythmFile } from '../../src/analysis/ecg/beat-files.ts';
import { readAnnotationFile, isBeatCode } from '../../src/analysis/ecg/annotations.ts';
import { createRrFeatureFeed } from '../../src/analysis/ecg/af.ts';
import { AF_FEATURE_NAMES } from '../../src/analysis/ecg/af-features.ts';
import type { Interval } from '../../src/analysis/ecg/eval/duration.ts';
import { progress } from './report.ts';

export interface AfRecord {
  /** `db/record`: the patient id the folds are split by. */
  id: string;
  /** Where the beats come from when not the default for the database (ltafdb: `.qrs`, the automatic detector). */
  beatSource?: 'qrs';
  db: 'afdb' | 'ltafdb';
  fs: number;
  beats: number[];
  /** Reference AF time, atrial flutter counted as AF / not counted. */
  refAf: Interval[];
  refAfib: Interval[];
  /**
   * Scored (and trained-on) span: from the first beat, or the first rhythm label if later, to the last beat.
   * Time before the first rhythm annotation has no reference rhythm (in ltafdb/64 labelling starts after
   * 19 h): counting it as non-AF would score and train on a guess.
   */
  from: number;
  to: number;
}

function afdb(dir: string): AfRecord[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.beats'))
    .map((f) => f.slice(0, -6))
    .sort();
  return names.map((name) => {
    const b = parseBeatsFile(readFileSync(path.join(dir, `${name}.beats`), 'utf8'), `${name}.beats`);
    const rh = parseRhythmFile(readFileSync(path.join(dir, `${name}.rhythm`), 'utf8'), `${name}.rhythm`);
    const ref = (labels: string[]): Interval[] => rh.segments.filter((s) => labels.includes(s.label));
    return {
      id: `afdb/${name}`,
      db: 'afdb' as const,
      fs: b.fs,
      beats: b.beats,
      refAf: ref(['AFIB', 'AFL']),
      refAfib: ref(['AFIB']),
      from: Math.max(b.beats[0], rh.segments[0]?.start ?? 0),
      to: b.beats[b.beats.length - 1],
    };
  });
}

/** ltafdb: rhythm from the reference annotations (code 28, aux "(AFIB" …); beats from `.atr` (reviewed) or `.qrs` (automatic). */
function ltafdb(dir: string, beatSource: 'reference' | 'qrs'): AfRecord[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.atr'))
    .map((f) => f.slice(0, -4))
    .sort();
  return names.map((name, k) => {
    const fs = Number(readFileSync(path.join(dir, `${name}.hea`), 'utf8').split(/\s+/)[2]);
    const ann = readAnnotationFile(path.join(dir, `${name}.atr`));
    const beatAnn = beatSource === 'qrs' && existsSync(path.join(dir, `${name}.qrs`)) ? readAnnotationFile(path.join(dir, `${name}.qrs`)) : ann;
    const beats = beatAnn.filter((a) => isBeatCode(a.code)).map((a) => a.sample);
    const changes = ann.filter((a) => a.code === 28 && a.aux?.startsWith('(')).map((a) => ({ at: a.sample, label: a.aux!.slice(1).replace(/\0/g, '').trim() }));
    const end = beats[beats.length - 1] + 1;
    const ref = (labels: string[]): Interval[] =>
      changes.flatMap((c, i) => (labels.includes(c.label) ? [{ start: c.at, end: changes[i + 1]?.at ?? end }] : []));
    progress(`ltafdb (${beatSource} beats)`, k + 1, names.length);
    return {
      id: `ltafdb/${name}`,
      db: 'ltafdb' as const,
      fs,
      beats,
      refAf: ref(['AFIB', 'AFL']),
      refAfib: ref(['AFIB']),
      from: Math.max(beats[0], changes[0]?.at ?? 0),
      to: beats[beats.length - 1],
    };
  });
}

/**
 * The same ltafdb record with the beats of its automatic QRS detector (`.qrs`) instead of the reviewed
 * ones, and the same reference rhythm and scored span: scores a model on machine-found beats, as it runs live.
 */
export function withAutomaticBeats(dataDir: string, r: AfRecord): AfRecord | undefined {
  const file = path.join(dataDir, 'ltafdb', `${r.id.split('/')[1]}.qrs`);
  if (r.db !== 'ltafdb' || !existsSync(file)) return undefined;
  const beats = readAnnotationFile(file)
    .filter((a) => isBeatCode(a.code))
    .map((a) => a.sample);
  return { ...r, beatSource: 'qrs', beats };
}

export function loadAfRecords(dataDir: string, ltafdbBeats: 'reference' | 'qrs' = 'reference'): AfRecord[] {
  return [...afdb(path.join(dataDir, 'afdb')), ...ltafdb(path.join(dataDir, 'ltafdb'), ltafdbBeats)];
}

export interface Rows {
  X: number[][];
  /** 1 = AF (flutter counted as AF), 0 = not. */
  y: number[];
  /** Interval duration (s): the models and thresholds weigh time, as the scoring does. */
  w: number[];
}

function inIntervals(list: readonly Interval[], t: number): boolean {
  // list is sorted by start
  let lo = 0,
    hi = list.length - 1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (list[m].end <= t) lo = m + 1;
    else if (list[m].start > t) hi = m - 1;
    else return true;
  }
  return false;
}

/** Every decidable interval of a record: features (row-major), bounds, label (AFL as AF) and duration. */
export interface RecordIntervals {
  n: number;
  features: Float64Array;
  start: Float64Array;
  end: Float64Array;
  y: Uint8Array;
  w: Float64Array;
}

const intervalCache = new Map<string, RecordIntervals>();

/** The detector's own feature feed over the record's beats, kept for this run (≈ 1 GB for all records). */
export function recordIntervals(r: AfRecord): RecordIntervals {
  // Records with another beat source are scored once: not cached (and never mixed up with the reference-beat entry).
  const hit = r.beatSource ? undefined : intervalCache.get(r.id);
  if (hit) return hit;
  const F = AF_FEATURE_NAMES.length;
  const cap = Math.max(16, r.beats.length);
  const ref = [...r.refAf].sort((a, b) => a.start - b.start);
  const out = {
    n: 0,
    features: new Float64Array(cap * F),
    start: new Float64Array(cap),
    end: new Float64Array(cap),
    y: new Uint8Array(cap),
    w: new Float64Array(cap),
  };
  const feed = createRrFeatureFeed(r.fs, (f, start, end) => {
    const i = out.n++;
    out.features.set(f, i * F);
    out.start[i] = start;
    out.end[i] = end;
    out.y[i] = inIntervals(ref, (start + end) / 2) ? 1 : 0;
    // Intervals outside the labelled span weigh nothing: neither trained on nor counted in the choices.
    const mid = (start + end) / 2;
    out.w[i] = mid >= r.from && mid < r.to ? (end - start) / r.fs : 0;
  });
  for (const b of r.beats) feed(b);
  if (!r.beatSource) intervalCache.set(r.id, out);
  return out;
}

export const intervalRow = (iv: RecordIntervals, i: number): number[] =>
  Array.from(iv.features.subarray(i * AF_FEATURE_NAMES.length, (i + 1) * AF_FEATURE_NAMES.length));

/** Every `stride`-th decidable interval of a record, with its label. */
export function recordRows(r: AfRecord, stride: number): Rows {
  const iv = recordIntervals(r);
  const rows: Rows = { X: [], y: [], w: [] };
  for (let i = 0; i < iv.n; i += stride) {
    if (iv.w[i] === 0) continue;
    rows.X.push(intervalRow(iv, i));
    rows.y.push(iv.y[i]);
    rows.w.push(iv.w[i]);
  }
  return rows;
}

export function concatRows(list: readonly Rows[]): Rows {
  return { X: list.flatMap((r) => r.X), y: list.flatMap((r) => r.y), w: list.flatMap((r) => r.w) };
}
