/**
 * Loads the shipped CinC 2017 records and their features, cached by algorithm version and source hash in
 * $VIGIL_ECG_CACHE (default: the OS temp dir; keep it outside the repo: the cache holds PhysioNet labels).
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readRecord, toPhysical } from '../../src/analysis/ecg/wfdb.ts';
import { extractFeatures, FEATURE_NAMES } from '../../src/analysis/ecg/features.ts';
import { ECG_ALGORITHM } from '../../src/analysis/ecg/version.ts';
import { progress } from './report.ts';

export interface CincSet {
  records: string[];
  labels: string[];
  X: number[][];
  /** Where the recordings are (the CNN reads the signal itself). */
  dir?: string;
}

/** Hash of the code that computes features, so a cache never outlives a change to it. */
function sourceHash(): string {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/analysis/ecg');
  const h = createHash('sha256');
  for (const f of [
    'features.ts',
    'features-extra.ts',
    'features-window.ts',
    'features-shape.ts',
    'stats.ts',
    'qrs.ts',
    'qrs-decide.ts',
    'filters.ts',
    'quality.ts',
    'wfdb.ts',
  ])
    h.update(readFileSync(path.join(dir, f)));
  h.update(String(FEATURE_NAMES.length));
  return h.digest('hex').slice(0, 12);
}

export function loadCinc(dir: string, useCache = true): CincSet {
  const ref = readFileSync(path.join(dir, 'REFERENCE.csv'), 'utf8')
    .trim()
    .split(/\r?\n/)
    .map((l) => l.split(','));
  const rows = ref.filter(([r]) => existsSync(path.join(dir, `${r}.hea`)));
  const cacheFile = path.join(process.env.VIGIL_ECG_CACHE ?? os.tmpdir(), `vigil-cinc-features-${ECG_ALGORITHM.version}-${sourceHash()}.json`);
  if (useCache && existsSync(cacheFile)) {
    const c = JSON.parse(readFileSync(cacheFile, 'utf8')) as CincSet;
    if (c.records.length === rows.length) return { ...c, X: c.X.map((r) => r.map((v) => (v === null ? NaN : v))), dir };
  }
  const X: number[][] = [];
  rows.forEach(([r], i) => {
    const rec = readRecord(path.join(dir, r), ['ECG']);
    X.push(extractFeatures(toPhysical(rec.adc, rec.gain, rec.baseline), rec.fs));
    if ((i + 1) % 100 === 0 || i + 1 === rows.length) progress('cinc2017 features', i + 1, rows.length);
  });
  const set = { records: rows.map((r) => r[0]), labels: rows.map((r) => r[1]), X };
  if (useCache) writeFileSync(cacheFile, JSON.stringify(set));
  return { ...set, dir };
}
