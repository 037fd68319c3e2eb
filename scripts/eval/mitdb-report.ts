import { listRecords, evaluateRecord, gross, type RecordResult } from './mitdb.ts';
import { pct, table, progress } from './report.ts';

function grossVf(records: readonly RecordResult[]) {
  const z = { tp: 0, fn: 0, fp: 0, tn: 0, refEpisodes: 0, refDetected: 0, detEpisodes: 0, detFalse: 0 };
  const g = records.reduce((a, r) => {
    for (const k of Object.keys(a) as Array<keyof typeof a>) a[k] += r.vf[k];
    return a;
  }, z);
  return {
    rules: 'VF/VFL detector episodes vs the reference [ ] marks, whole records (all 26), by duration and by episode',
    ...g,
    se: g.tp / (g.tp + g.fn),
    sp: g.tn / (g.tn + g.fp),
    ppv: g.tp / (g.tp + g.fp),
    falseVfSeconds: g.fp / 360,
    vfSeconds: (g.tp + g.fn) / 360,
    withVf: records.filter((r) => r.vf.refEpisodes > 0 || r.vf.detEpisodes > 0).map((r) => ({ record: r.record, ...r.vf })),
  };
}

export function evaluateMitdb(dir: string) {
  const names = listRecords(dir);
  const records: RecordResult[] = [];
  names.forEach((name, i) => {
    records.push(evaluateRecord(dir, name));
    progress('mitdb', i + 1, names.length);
  });
  const nonPaced = records.filter((r) => !r.paced);
  const paced = records.filter((r) => r.paced);
  return {
    rules: 'EC57/bxb: 150 ms window, one detection per reference beat, first 5 min not scored; reference = beat annotations (isqrs)',
    grossNonPaced: gross(nonPaced),
    grossNonPacedVfExcluded: gross(nonPaced, (r) => r.ec57),
    grossPaced: gross(paced),
    vf: grossVf(records),
    records,
  };
}

export function mitdbMarkdown(r: ReturnType<typeof evaluateMitdb>): string {
  const g = (x: { tp: number; fn: number; fp: number; se: number; ppv: number }) => [x.tp, x.fn, x.fp, pct(x.se), pct(x.ppv)];
  return [
    '## QRS detection, mitdb, shipped settings on all records (per record)',
    '',
    'The shipped settings were chosen on these same records (the nested figure above is the held-out one); this',
    'table shows where the shipped detector errs, with the paced records and VF.',
    '',
    r.rules + '.',
    '',
    table(
      ['set', 'TP', 'FN', 'FP', 'Se %', '+P %'],
      [
        ['gross, non-paced (all beats, strict)', ...g(r.grossNonPaced)],
        ['gross, non-paced, VF episodes excluded (EC57)', ...g(r.grossNonPacedVfExcluded)],
        ['gross, paced (102 104 107 217)', ...g(r.grossPaced)],
      ],
    ),
    '',
    'Beats inside seconds the VF/VFL detector flags are not reported (flutter waves are not beats); the strict',
    'row counts every detection, as the detector emits them.',
    '',
    '### Ventricular flutter/fibrillation (VF/VFL) detection',
    '',
    r.vf.rules + '. Only record 207 has VF in the shipped set, so these figures rest on 6 episodes.',
    '',
    table(
      ['VF time s', 'duration Se %', 'duration +P %', 'false VF s (all records)', 'episodes found', 'false episodes'],
      [
        [
          r.vf.vfSeconds.toFixed(1),
          pct(r.vf.se),
          pct(r.vf.ppv),
          r.vf.falseVfSeconds.toFixed(1),
          `${r.vf.refDetected}/${r.vf.refEpisodes}`,
          `${r.vf.detFalse}/${r.vf.detEpisodes}`,
        ],
      ],
    ),
    '',
    table(
      ['record', 'ref episodes', 'found', 'detected episodes', 'false', 'VF s flagged', 'VF s missed', 'non-VF s flagged'],
      r.vf.withVf.map((x) => [
        x.record,
        x.refEpisodes,
        x.refDetected,
        x.detEpisodes,
        x.detFalse,
        (x.tp / 360).toFixed(1),
        (x.fn / 360).toFixed(1),
        (x.fp / 360).toFixed(1),
      ]),
    ),
    '',
    table(
      ['record', 'TP', 'FN', 'FP', 'Se %', '+P %', 'FP excl. VF', 'median offset ms'],
      r.records.map((x) => [
        x.record + (x.paced ? ' (paced)' : ''),
        x.tp,
        x.fn,
        x.fp,
        pct(x.tp / (x.tp + x.fn)),
        pct(x.tp / (x.tp + x.fp)),
        x.ec57.fp,
        x.offsetMs.toFixed(1),
      ]),
    ),
  ].join('\n');
}
