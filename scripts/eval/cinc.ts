/** CinC 2017 part of the evaluation harness: k-fold cross-validated challenge score of the classifier. */
import { loadCinc } from './cinc-data.ts';
import { crossValidate } from './cinc-cv.ts';
import { pct, table } from './report.ts';

export async function evaluateCinc(dir: string) {
  return crossValidate(loadCinc(dir));
}

export function cincMarkdown(r: Awaited<ReturnType<typeof evaluateCinc>>): string {
  const f = (x: number) => x.toFixed(3);
  return [
    '## Short-record rhythm classification, PhysioNet/CinC Challenge 2017 (cinc2017)',
    '',
    `${r.folds}-fold cross-validation over the ${r.records} shipped training records, ${r.stratification}, seed ${r.seed};`,
    'every record is predicted by a model that never saw it. Score = mean F1 of N, A, O (challenge rule).',
    '',
    table(['F1 N', 'F1 A', 'F1 O', 'F1 ~', 'challenge score'], [[f(r.f1.N), f(r.f1.A), f(r.f1.O), f(r.f1['~']), f(r.score)]]),
    '',
    'Confusion (rows truth, columns predicted):',
    '',
    table(['', ...r.confusion.classes], r.confusion.rowsTruthColsPredicted.map((row, i) => [r.confusion.classes[i], ...row])),
    '',
    `Class counts: ${Object.entries(r.classCounts).map(([c, n]) => `${c} ${n}`).join(', ')} (${pct(r.classCounts.A / r.records, 1)} % A).`,
  ].join('\n');
}
