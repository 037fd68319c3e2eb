/** afdb part of the evaluation harness: AF detection from beat times, judged by duration. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseBeatsFile, parseRhythmFile } from '../../src/analysis/ecg/beat-files.ts';
import { detectAfEpisodes } from '../../src/analysis/ecg/af.ts';
import { compareDurations, seSp, type DurationCounts, type Interval } from '../../src/analysis/ecg/eval/duration.ts';
import { pct, table, progress } from './report.ts';

interface AfRecord {
  record: string;
  hours: number;
  aflAsAf: DurationCounts;
  aflAsNonAf: DurationCounts;
}

const add = (a: DurationCounts, b: DurationCounts): DurationCounts => ({ tp: a.tp + b.tp, fn: a.fn + b.fn, fp: a.fp + b.fp, tn: a.tn + b.tn });

export function evaluateAfdb(dir: string) {
  const names = readdirSync(dir).filter((f) => f.endsWith('.beats')).map((f) => f.slice(0, -6)).sort();
  const records: AfRecord[] = [];
  names.forEach((name, k) => {
    const b = parseBeatsFile(readFileSync(path.join(dir, `${name}.beats`), 'utf8'), `${name}.beats`);
    const rh = parseRhythmFile(readFileSync(path.join(dir, `${name}.rhythm`), 'utf8'), `${name}.rhythm`);
    const det = detectAfEpisodes(b.beats, b.fs);
    // Scored span: where beats exist (they stop near 10 h, before the rhythm file's length).
    const from = b.beats[0], to = b.beats[b.beats.length - 1];
    const ref = (labels: string[]): Interval[] => rh.segments.filter((s) => labels.includes(s.label));
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
    table(['record', 'hours', 'Se % (AFL=AF)', 'Sp % (AFL=AF)', 'Se % (AFL≠AF)', 'Sp % (AFL≠AF)'],
      r.records.map((x) => [x.record, x.hours.toFixed(2), pct(x.aflAsAf.se, 1), pct(x.aflAsAf.sp, 1), pct(x.aflAsNonAf.se, 1), pct(x.aflAsNonAf.sp, 1)])),
  ].join('\n');
}
