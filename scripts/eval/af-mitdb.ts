/**
 * AF on the analyzer's own beats: the live path (createEcgStreamAnalyzer: streaming QRS + VF detection,
 * quality gate, learned RR model) run on the raw mitdb signals in 1 s chunks, scored by duration against
 * the mitdb rhythm annotations ((AFIB and (AFL count as AF). afdb and ltafdb ship no signals, so this is
 * the only place here where the detector sees beats found by Vigil itself rather than a database's beats.
 * The model never saw a mitdb record (trained on afdb + ltafdb): the figure is held out by database.
 * The same model on mitdb's reference beats is scored beside it, separating beat errors from RR errors.
 */
import path from 'node:path';
import { readRecord } from '../../src/analysis/ecg/wfdb.ts';
import { readAnnotationFile, isBeatCode } from '../../src/analysis/ecg/annotations.ts';
import { createEcgStreamAnalyzer } from '../../src/analysis/ecg/index.ts';
import { detectAfEpisodes, type AfModel, type AfEpisode } from '../../src/analysis/ecg/af.ts';
import { compareDurations, seSp, type DurationCounts, type Interval } from '../../src/analysis/ecg/eval/duration.ts';
import { listRecords } from './mitdb.ts';
import { pct, table, progress } from './report.ts';

const AF_LABELS = ['AFIB', 'AFL'];

/** Reference AF intervals and the labelled span (from the first rhythm annotation) of a mitdb record. */
function reference(dir: string, record: string, length: number) {
  const ann = readAnnotationFile(path.join(dir, `${record}.atr`));
  const changes = ann.filter((a) => a.code === 28 && a.aux?.startsWith('(')).map((a) => ({ at: a.sample, label: a.aux!.slice(1).replace(/\0/g, '').trim() }));
  const af: Interval[] = changes.flatMap((c, i) => (AF_LABELS.includes(c.label) ? [{ start: c.at, end: changes[i + 1]?.at ?? length }] : []));
  const beats = ann.filter((a) => isBeatCode(a.code)).map((a) => a.sample);
  return { af, from: changes[0]?.at ?? 0, beats };
}

/** The live analyzer over a whole record in 1 s chunks; returns its AF episodes (an open one closed at the end). */
function liveEpisodes(adc: Int16Array, fs: number, gain: number, model?: AfModel): AfEpisode[] {
  const a = createEcgStreamAnalyzer({ fs, gain, afModel: model });
  let open = -1;
  for (let i = 0; i < adc.length; i += fs) {
    const r = a.push(adc.subarray(i, i + fs), i);
    if (r.af.episodeEnded !== undefined) open = -1;
    if (r.af.episodeStarted !== undefined) open = r.af.episodeStarted;
  }
  return [...a.episodes, ...(open >= 0 ? [{ start: open, end: adc.length }] : [])];
}

const zero: DurationCounts = { tp: 0, fn: 0, fp: 0, tn: 0 };
const add = (a: DurationCounts, b: DurationCounts): DurationCounts => ({ tp: a.tp + b.tp, fn: a.fn + b.fn, fp: a.fp + b.fp, tn: a.tn + b.tn });

export function evaluateAfMitdb(dir: string, model?: AfModel) {
  const names = listRecords(dir);
  const rows = names.map((record, k) => {
    const rec = readRecord(path.join(dir, record), ['MLII']);
    const ref = reference(dir, record, rec.adc.length);
    const own = compareDurations(ref.af, liveEpisodes(rec.adc, rec.fs, rec.gain, model), ref.from, rec.adc.length);
    const refBeats = compareDurations(ref.af, detectAfEpisodes(ref.beats, rec.fs, { model }), ref.from, rec.adc.length);
    progress('AF on mitdb (own beats)', k + 1, names.length);
    return { record, fs: rec.fs, own, refBeats };
  });
  const pooled = (pick: (r: (typeof rows)[number]) => DurationCounts) => {
    const c = rows.reduce((s, r) => add(s, pick(r)), zero);
    return { ...seSp(c), afMin: (c.tp + c.fn) / 360 / 60, nonAfMin: (c.tn + c.fp) / 360 / 60, falseAfMin: c.fp / 360 / 60 };
  };
  return {
    rules: `the live analyzer (streaming QRS + VF detection, quality gate, shipped RR model) on all ${names.length} mitdb records in 1 s chunks; AF = (AFIB and (AFL rhythm labels; durations from the first rhythm label to the record's end; the model was trained on afdb + ltafdb only`,
    ownBeats: pooled((r) => r.own),
    referenceBeats: pooled((r) => r.refBeats),
    records: rows.map((r) => ({
      record: r.record,
      own: seSp(r.own),
      falseAfMin: r.own.fp / r.fs / 60,
      missedAfMin: r.own.fn / r.fs / 60,
      afMin: (r.own.tp + r.own.fn) / r.fs / 60,
      refBeats: seSp(r.refBeats),
      refFalseAfMin: r.refBeats.fp / r.fs / 60,
    })),
  };
}

export function afMitdbMarkdown(r: ReturnType<typeof evaluateAfMitdb>): string {
  const shown = r.records.filter((x) => x.afMin > 0 || x.falseAfMin > 0 || x.refFalseAfMin > 0);
  return [
    "### AF on the analyzer's own beats: mitdb signals (a database the model never saw)",
    '',
    r.rules + '.',
    '',
    table(
      ['beats', 'Se %', 'Sp %', 'AF min', 'non-AF min', 'false AF min'],
      [
        [
          "analyzer's own (live path)",
          pct(r.ownBeats.se),
          pct(r.ownBeats.sp),
          r.ownBeats.afMin.toFixed(1),
          r.ownBeats.nonAfMin.toFixed(1),
          r.ownBeats.falseAfMin.toFixed(1),
        ],
        [
          'mitdb reference beats',
          pct(r.referenceBeats.se),
          pct(r.referenceBeats.sp),
          r.referenceBeats.afMin.toFixed(1),
          r.referenceBeats.nonAfMin.toFixed(1),
          r.referenceBeats.falseAfMin.toFixed(1),
        ],
      ],
    ),
    '',
    'Records with AF or any false AF (all others: no AF, none flagged):',
    '',
    table(
      [
        'record',
        'AF min',
        'Se % (own beats)',
        'Sp % (own beats)',
        'false AF min (own)',
        'missed AF min (own)',
        'Se/Sp % (reference beats)',
        'false AF min (reference beats)',
      ],
      shown.map((x) => [
        x.record,
        x.afMin.toFixed(1),
        pct(x.own.se, 1),
        pct(x.own.sp, 1),
        x.falseAfMin.toFixed(1),
        x.missedAfMin.toFixed(1),
        `${pct(x.refBeats.se, 1)} / ${pct(x.refBeats.sp, 1)}`,
        x.refFalseAfMin.toFixed(1),
      ]),
    ),
  ].join('\n');
}
