/** afdb part of the evaluation harness: AF detection from beat times, judged by duration. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseBeatsFile, parseRhythmFile } from '../../src/analysis/ecg/beat-files.ts';
import { detectAfEpisodes, AF_THRESHOLD, AF_ECTOPIC_RUN } from '../../src/analysis/ecg/af.ts';
import { compareDurations, seSp, type DurationCounts, type Interval } from '../../src/analysis/ecg/eval/duration.ts';
import { pct, table, progress } from './report.ts';

interface AfRecord {
  record: string;
  hours: number;
  aflAsAf: DurationCounts;
  aflAsNonAf: DurationCounts;
}

const add = (a: DurationCounts, b: DurationCounts): DurationCounts => ({ tp: a.tp + b.tp, fn: a.fn + b.fn, fp: a.fp + b.fp, tn: a.tn + b.tn });

/** Thresholds tried in the leave-one-record-out check (the shipped one among them). */
export const LORO_THRESHOLDS = [0.014, 0.016, 0.018, 0.02, 0.022];
/** Ectopic-filter run lengths tried with them (longest run of premature beats removed; shipped: AF_ECTOPIC_RUN). */
export const LORO_ECTOPIC_RUNS = [1, 2, 3];

/**
 * Leave-one-record-out: for each record, the (threshold, ectopic run) pair of LORO_THRESHOLDS × LORO_ECTOPIC_RUNS
 * with the best Se + Sp on the other records (AFL counted as AF) is chosen and applied to the held-out record;
 * held-out counts pooled.
 */
function loro(data: Array<{ name: string; beats: number[]; fs: number; refAf: Interval[]; refAfib: Interval[]; from: number; to: number }>) {
  const zero = { tp: 0, fn: 0, fp: 0, tn: 0 };
  const grid = LORO_ECTOPIC_RUNS.flatMap((ectopicRun) => LORO_THRESHOLDS.map((threshold) => ({ threshold, ectopicRun })));
  const per = data.map((d) => grid.map((g) => {
    const det = detectAfEpisodes(d.beats, d.fs, g.threshold, { ectopicRun: g.ectopicRun });
    return { a: compareDurations(d.refAf, det, d.from, d.to), b: compareDurations(d.refAfib, det, d.from, d.to) };
  }));
  let g1 = zero, g2 = zero;
  const chosen: Record<string, string> = {};
  data.forEach((d, i) => {
    let best = 0, bestScore = -Infinity;
    grid.forEach((_, k) => {
      const c = per.reduce((s, p, j) => (j === i ? s : add(s, p[k].a)), zero);
      const x = seSp(c);
      if (x.se + x.sp > bestScore) { bestScore = x.se + x.sp; best = k; }
    });
    chosen[d.name] = `${grid[best].threshold}/${grid[best].ectopicRun}`;
    g1 = add(g1, per[i][best].a);
    g2 = add(g2, per[i][best].b);
  });
  // All records (what the shipped constants were chosen by): Se + Sp, AFL as AF, per grid point.
  const all = grid.map((g, k) => {
    const c1 = per.reduce((s, p) => add(s, p[k].a), zero), c2 = per.reduce((s, p) => add(s, p[k].b), zero);
    return { ...g, aflAsAf: seSp(c1), aflAsNonAf: seSp(c2) };
  });
  return { thresholds: LORO_THRESHOLDS, ectopicRuns: LORO_ECTOPIC_RUNS, shipped: AF_THRESHOLD, shippedEctopicRun: AF_ECTOPIC_RUN, chosen, grid: all, aflCountedAsAf: { ...seSp(g1), ...g1 }, aflCountedAsNonAf: { ...seSp(g2), ...g2 } };
}

export function evaluateAfdb(dir: string) {
  const names = readdirSync(dir).filter((f) => f.endsWith('.beats')).map((f) => f.slice(0, -6)).sort();
  const records: AfRecord[] = [];
  const data: Parameters<typeof loro>[0] = [];
  names.forEach((name, k) => {
    const b = parseBeatsFile(readFileSync(path.join(dir, `${name}.beats`), 'utf8'), `${name}.beats`);
    const rh = parseRhythmFile(readFileSync(path.join(dir, `${name}.rhythm`), 'utf8'), `${name}.rhythm`);
    const det = detectAfEpisodes(b.beats, b.fs);
    // Scored span: where beats exist (they stop near 10 h, before the rhythm file's length).
    const from = b.beats[0], to = b.beats[b.beats.length - 1];
    const ref = (labels: string[]): Interval[] => rh.segments.filter((s) => labels.includes(s.label));
    data.push({ name, beats: b.beats, fs: b.fs, refAf: ref(['AFIB', 'AFL']), refAfib: ref(['AFIB']), from, to });
    records.push({
      record: name,
      hours: (to - from) / b.fs / 3600,
      aflAsAf: compareDurations(ref(['AFIB', 'AFL']), det, from, to),
      aflAsNonAf: compareDurations(ref(['AFIB']), det, from, to),
    });
    progress('afdb', k + 1, names.length);
  });
  const zero = { tp: 0, fn: 0, fp: 0, tn: 0 };
  const g1 = records.reduce((s, r) => add(s, r.aflAsAf), zero);
  const g2 = records.reduce((s, r) => add(s, r.aflAsNonAf), zero);
  return {
    rules: 'gross durations pooled over all shipped afdb records, scored between the first and last beat; detector input = the .beats files',
    aflCountedAsAf: { ...seSp(g1), ...g1 },
    aflCountedAsNonAf: { ...seSp(g2), ...g2 },
    leaveOneRecordOut: loro(data),
    records: records.map((r) => ({ record: r.record, hours: r.hours, aflAsAf: { ...seSp(r.aflAsAf), ...r.aflAsAf }, aflAsNonAf: { ...seSp(r.aflAsNonAf), ...r.aflAsNonAf } })),
  };
}

export function afdbMarkdown(r: ReturnType<typeof evaluateAfdb>): string {
  const h = (x: number) => (x / 250 / 3600).toFixed(2);
  return [
    '## AF detection from RR intervals, MIT-BIH Atrial Fibrillation Database (afdb)',
    '',
    r.rules + '.',
    '',
    table(['flutter (AFL)', 'Se %', 'Sp %', 'AF h', 'non-AF h'], [
      ['counted as AF', pct(r.aflCountedAsAf.se), pct(r.aflCountedAsAf.sp), h(r.aflCountedAsAf.tp + r.aflCountedAsAf.fn), h(r.aflCountedAsAf.tn + r.aflCountedAsAf.fp)],
      ['counted as non-AF', pct(r.aflCountedAsNonAf.se), pct(r.aflCountedAsNonAf.sp), h(r.aflCountedAsNonAf.tp + r.aflCountedAsNonAf.fn), h(r.aflCountedAsNonAf.tn + r.aflCountedAsNonAf.fp)],
    ]),
    '',
    `Leave-one-record-out check of the two data-chosen constants, the irregularity threshold (shipped ${r.leaveOneRecordOut.shipped}) and the longest run of premature`,
    `beats the ectopic filter removes (shipped ${r.leaveOneRecordOut.shippedEctopicRun}): for each record the best pair of thresholds ${r.leaveOneRecordOut.thresholds.join(', ')} × runs ${r.leaveOneRecordOut.ectopicRuns.join(', ')}`,
    `on the other ${r.records.length - 1} records (max Se + Sp, AFL as AF) is applied to it; held-out durations pooled.`,
    (() => {
      const g = r.leaveOneRecordOut.grid;
      const best = g.reduce((a, b) => (b.aflAsAf.se + b.aflAsAf.sp > a.aflAsAf.se + a.aflAsAf.sp ? b : a));
      const s = g.find((x) => x.threshold === r.leaveOneRecordOut.shipped && x.ectopicRun === r.leaveOneRecordOut.shippedEctopicRun);
      const f = (x: typeof best) => `${x.threshold}/${x.ectopicRun} (Se + Sp ${(100 * (x.aflAsAf.se + x.aflAsAf.sp)).toFixed(2)})`;
      return `On all records the same rule picks ${f(best)}; shipped ${s ? f(s) : '—'}: the run is the one every fold picks, the threshold the one shipped before the filter changed.`;
    })(),
    '',
    table(['flutter (AFL)', 'LORO Se %', 'LORO Sp %', 'threshold/run chosen'], [
      ['counted as AF', pct(r.leaveOneRecordOut.aflCountedAsAf.se), pct(r.leaveOneRecordOut.aflCountedAsAf.sp), [...new Set(Object.values(r.leaveOneRecordOut.chosen))].join(', ')],
      ['counted as non-AF', pct(r.leaveOneRecordOut.aflCountedAsNonAf.se), pct(r.leaveOneRecordOut.aflCountedAsNonAf.sp), ''],
    ]),
    '',
    table(['record', 'hours', 'Se % (AFL=AF)', 'Sp % (AFL=AF)', 'Se % (AFL≠AF)', 'Sp % (AFL≠AF)'],
      r.records.map((x) => [x.record, x.hours.toFixed(2), pct(x.aflAsAf.se, 1), pct(x.aflAsAf.sp, 1), pct(x.aflAsNonAf.se, 1), pct(x.aflAsNonAf.sp, 1)])),
  ].join('\n');
}
