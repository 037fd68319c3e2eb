/** Loads the AF records (afdb beat/rhythm files, ltafdb annotations) and builds training rows for the RR model. */
import { readFileSync, readdirSync, existsSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseBeatsFile, parseRhythmFile } from '../../src/analysis/ecg/beat-files.ts';
import { readAnnotationFile, isBeatCode } from '../../src/analysis/ecg/annotations.ts';
import { AF_FEATURE_NAMES, createRrFeatureFeed } from '../../src/analysis/ecg/af-features.ts';
import type { Interval } from '../../src/analysis/ecg/eval/duration.ts';
import { progress } from './report.ts';

export interface AfRecord {
  /** `db/record`: the patient id the folds are split by. */
  id: string;
  /** Where the beats come from when not the default for the database (ltafdb: `.qrs`, the automatic detector). */
  beatSource?: 'qrs';
  /** Features for every `every`-th interval only (a training subsample of a record; default 1: all). */
  every?: number;
  db: 'afdb' | 'ltafdb';
  /** ltafdb: the automatic QRS detector's annotation file (`.qrs`), when shipped. */
  qrsFile?: string;
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
      qrsFile: existsSync(path.join(dir, `${name}.qrs`)) ? path.join(dir, `${name}.qrs`) : undefined,
      fs,
      beats,
      refAf: ref(['AFIB', 'AFL']),
      refAfib: ref(['AFIB']),
      from: Math.max(beats[0], changes[0]?.at ?? 0),
      to: beats[beats.length - 1],
    };
  });
}

const automatic = new Map<string, AfRecord>(); // beat lists only (≈ 70 MB for ltafdb): read once per run

/**
 * The same ltafdb record with the beats of its automatic QRS detector (`.qrs`) instead of the reviewed
 * ones, and the same reference rhythm and scored span: trained on beside the reviewed beats (so the model
 * meets detector errors: missed and extra beats) and scored on, as the detector runs live.
 */
export function withAutomaticBeats(r: AfRecord): AfRecord | undefined {
  if (r.beatSource || !r.qrsFile) return undefined;
  let a = automatic.get(r.id);
  if (!a) {
    const beats = readAnnotationFile(r.qrsFile)
      .filter((x) => isBeatCode(x.code))
      .map((x) => x.sample);
    a = { ...r, beatSource: 'qrs', beats };
    automatic.set(r.id, a);
  }
  return a;
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

/**
 * Feature cache on disk ($VIGIL_ECG_CACHE, off when unset; keep it outside the repo: it is derived from
 * PhysioNet data): one file per record and beat source holding the feature vectors and interval bounds,
 * keyed by a hash of the code that computes them (af-features.ts: the stream and the beat feed), so a change to the features
 * never reads a stale file. Labels and weights are recomputed (cheap, and they depend on the reference).
 * Files are read on demand rather than held in memory: all of ltafdb is ≈ 1.3 GB per beat source.
 */
const CACHE_DIR = process.env.VIGIL_ECG_CACHE;
const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/analysis/ecg');
const codeHash = createHash('sha1')
  .update(readFileSync(path.join(srcDir, 'af-features.ts')))
  .digest('hex')
  .slice(0, 10);
// The file name also carries a hash of the beats themselves: another beat list under the same id never hits.
const cacheFile = (r: AfRecord) => {
  const beats = createHash('sha1').update(new Float64Array(r.beats)).update(String(r.fs)).digest('hex').slice(0, 10);
  return path.join(CACHE_DIR!, `af-rr-${codeHash}-${r.id.replace('/', '-')}-${r.beatSource ?? 'default'}-${r.every ?? 1}-${beats}.f64`);
};

function computeFeatures(r: AfRecord): { n: number; features: Float64Array; start: Float64Array; end: Float64Array } {
  const F = AF_FEATURE_NAMES.length;
  const cap = Math.max(16, r.beats.length);
  const out = { n: 0, features: new Float64Array(cap * F), start: new Float64Array(cap), end: new Float64Array(cap) };
  const feed = createRrFeatureFeed(
    r.fs,
    (f, start, end) => {
      const i = out.n++;
      out.features.set(f, i * F);
      out.start[i] = start;
      out.end[i] = end;
    },
    r.every,
  );
  for (const b of r.beats) feed(b);
  return out;
}

/** Features of a record from the disk cache, or computed (and stored when the cache is on). */
function cachedFeatures(r: AfRecord) {
  const F = AF_FEATURE_NAMES.length;
  const file = CACHE_DIR ? cacheFile(r) : undefined;
  if (file && existsSync(file)) {
    const buf = readFileSync(file);
    const all = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
    const n = all.length / (F + 2);
    return { n, features: all.subarray(0, n * F), start: all.subarray(n * F, n * F + n), end: all.subarray(n * F + n) };
  }
  const c = computeFeatures(r);
  if (file) {
    mkdirSync(CACHE_DIR!, { recursive: true });
    const all = new Float64Array(c.n * (F + 2));
    all.set(c.features.subarray(0, c.n * F));
    all.set(c.start.subarray(0, c.n), c.n * F);
    all.set(c.end.subarray(0, c.n), c.n * F + c.n);
    writeFileSync(file + '.tmp', all);
    renameSync(file + '.tmp', file); // atomic: a parallel run never reads half a file
  }
  return { n: c.n, features: c.features.subarray(0, c.n * F), start: c.start.subarray(0, c.n), end: c.end.subarray(0, c.n) };
}

/** The detector's own feature feed over the record's beats, with each interval's label and weight. */
export function recordIntervals(r: AfRecord): RecordIntervals {
  const c = cachedFeatures(r);
  const ref = [...r.refAf].sort((a, b) => a.start - b.start);
  const y = new Uint8Array(c.n),
    w = new Float64Array(c.n);
  for (let i = 0; i < c.n; i++) {
    const mid = (c.start[i] + c.end[i]) / 2;
    y[i] = inIntervals(ref, mid) ? 1 : 0;
    // Intervals outside the labelled span weigh nothing: neither trained on nor counted in the choices.
    w[i] = mid >= r.from && mid < r.to ? (c.end[i] - c.start[i]) / r.fs : 0;
  }
  return { n: c.n, features: c.features, start: c.start, end: c.end, y, w };
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
