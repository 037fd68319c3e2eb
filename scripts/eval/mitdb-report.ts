import { listRecords, evaluateRecord, gross, type RecordResult } from './mitdb.ts';
import { pct, table, progress } from './report.ts';

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
    records,
  };
}

export function mitdbMarkdown(r: ReturnType<typeof evaluateMitdb>): string {
  const g = (x: { tp: number; fn: number; fp: number; se: number; ppv: number }) => [x.tp, x.fn, x.fp, pct(x.se), pct(x.ppv)];
  return [
    '## QRS detection, MIT-BIH Arrhythmia Database (mitdb)',
    '',
    r.rules + '.',
    '',
    table(['set', 'TP', 'FN', 'FP', 'Se %', '+P %'], [
      ['gross, non-paced (all beats)', ...g(r.grossNonPaced)],
      ['gross, non-paced, VF episodes excluded (EC57)', ...g(r.grossNonPacedVfExcluded)],
      ['gross, paced (102 104 107 217)', ...g(r.grossPaced)],
    ]),
    '',
    table(['record', 'TP', 'FN', 'FP', 'Se %', '+P %', 'FP excl. VF', 'median offset ms'],
      r.records.map((x) => [x.record + (x.paced ? ' (paced)' : ''), x.tp, x.fn, x.fp, pct(x.tp / (x.tp + x.fn)), pct(x.tp / (x.tp + x.fp)), x.ec57.fp, x.offsetMs.toFixed(1)])),
  ].join('\n');
}
