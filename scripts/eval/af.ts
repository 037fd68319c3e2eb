/**
 * AF detection from RR intervals, afdb + ltafdb, judged by duration, by nested record-wise cross-validation:
 * each outer fold's model and threshold come from `chooseAfModel` on its training records only; the held-out
 * records are then run through the real streaming detector (af.ts) with that model. Reported on afdb, ltafdb
 * and both, flutter counted as AF (what the model learns) and as non-AF; the rule-based Petrėnas detector
 * (af-petrenas.ts, constants set on afdb earlier) is scored beside it as a baseline.
 */
import { AfDecisions, AF_SMOOTH_GRID, AF_HYSTERESIS_GRID } from '../../src/analysis/ecg/af.ts';
import { detectAfEpisodes as detectPetrenas } from '../../src/analysis/ecg/af-petrenas.ts';
import { nestedCrossValidate, spread } from '../../src/analysis/ecg/eval/nested-cv.ts';
import { compareDurations, seSp, type DurationCounts } from '../../src/analysis/ecg/eval/duration.ts';
import { loadAfRecords, type AfRecord } from './af-data.ts';
import { chooseAfModel, recordProbabilities, AF_CV_SEED, AF_INNER_FOLDS, AF_RECIPE } from './af-choose.ts';
import { recordIntervals, withAutomaticBeats } from './af-data.ts';
import { pct, table, progress } from './report.ts';

export const AF_CV_FOLDS = 5;
const zero: DurationCounts = { tp: 0, fn: 0, fp: 0, tn: 0 };
const add = (a: DurationCounts, b: DurationCounts): DurationCounts => ({ tp: a.tp + b.tp, fn: a.fn + b.fn, fp: a.fp + b.fp, tn: a.tn + b.tn });

interface RecordScore {
  record: string;
  db: string;
  fs: number;
  hours: number;
  fold: number;
  threshold: number;
  offThreshold: number;
  smooth: number;
  aflAsAf: DurationCounts;
  aflAsNonAf: DurationCounts;
  petrenas: DurationCounts;
  /** ltafdb only: the same model and decisions on the record's automatic-detector beats (.qrs). */
  automaticBeats?: DurationCounts;
}

function pooled(rows: readonly RecordScore[], pick: (r: RecordScore) => DurationCounts) {
  const c = rows.reduce((a, r) => add(a, pick(r)), zero);
  // Hours from samples: records differ in fs, so convert per record.
  const h = (f: (c: DurationCounts) => number) => rows.reduce((s, r) => s + f(pick(r)) / r.fs / 3600, 0);
  return { ...seSp(c), afHours: h((x) => x.tp + x.fn), nonAfHours: h((x) => x.tn + x.fp), falseAfHours: h((x) => x.fp) };
}

/**
 * `shipped`: also run the same choice procedure once on all records and return that model (what
 * scripts/train-ecg.ts --af ships), sparing a second pass over the data.
 */
export function evaluateAf(dataDir: string, opts: { shipped?: boolean } = {}) {
  const records = loadAfRecords(dataDir);
  const folds = nestedCrossValidate<AfRecord, ReturnType<typeof chooseAfModel>, RecordScore>(records, {
    id: (r) => r.id,
    folds: AF_CV_FOLDS,
    seed: AF_CV_SEED,
    stratum: (r) => r.db,
    choose: (train, f) => chooseAfModel(train, AF_CV_SEED + 1 + f),
    score: (r, c) => {
      // The detector's own path (af.ts: same feature feed, same AfDecisions), on features computed once per run.
      const iv = recordIntervals(r);
      const p = recordProbabilities(c.model, r);
      const d = new AfDecisions(c.model.threshold, c.model.smooth, c.model.offThreshold);
      for (let i = 0; i < iv.n; i++) d.push(p[i], iv.start[i], iv.end[i]);
      const det = d.finish(r.beats[r.beats.length - 1]);
      const base = detectPetrenas(r.beats, r.fs);
      // The same held-out model on the automatic QRS detector's beats of the record (ltafdb ships them).
      const auto = withAutomaticBeats(r);
      let automaticBeats: DurationCounts | undefined;
      if (auto) {
        const ia = recordIntervals(auto);
        const pa = recordProbabilities(c.model, auto);
        const da = new AfDecisions(c.model.threshold, c.model.smooth, c.model.offThreshold);
        for (let i = 0; i < ia.n; i++) da.push(pa[i], ia.start[i], ia.end[i]);
        automaticBeats = compareDurations(r.refAf, da.finish(auto.beats[auto.beats.length - 1]), r.from, r.to);
      }
      return {
        record: r.id,
        db: r.db,
        fs: r.fs,
        hours: (r.to - r.from) / r.fs / 3600,
        fold: -1,
        threshold: c.model.threshold,
        offThreshold: c.model.offThreshold ?? c.model.threshold,
        smooth: c.model.smooth,
        aflAsAf: compareDurations(r.refAf, det, r.from, r.to),
        aflAsNonAf: compareDurations(r.refAfib, det, r.from, r.to),
        petrenas: compareDurations(r.refAf, base, r.from, r.to),
        automaticBeats,
      };
    },
    onFold: (d, t) => progress('AF nested cross-validation folds', d, t),
  });
  for (const f of folds) for (const r of f.results) r.fold = f.index;
  const all = folds.flatMap((f) => f.results).sort((a, b) => a.record.localeCompare(b.record));
  const sets = { 'afdb + ltafdb': all, afdb: all.filter((r) => r.db === 'afdb'), ltafdb: all.filter((r) => r.db === 'ltafdb') };
  const summary = Object.fromEntries(
    Object.entries(sets).map(([k, rows]) => {
      // Per outer fold: the fold's held-out records of this set, pooled (a fold without AF or non-AF time gives no figure).
      const byFold = folds.map((f) =>
        pooled(
          rows.filter((r) => r.fold === f.index),
          (r) => r.aflAsAf,
        ),
      );
      return [
        k,
        {
          records: rows.length,
          aflAsAf: pooled(rows, (r) => r.aflAsAf),
          aflAsNonAf: pooled(rows, (r) => r.aflAsNonAf),
          petrenasBaseline: pooled(rows, (r) => r.petrenas),
          automaticBeats: rows.some((r) => r.automaticBeats)
            ? pooled(
                rows.filter((r) => r.automaticBeats),
                (r) => r.automaticBeats!,
              )
            : undefined,
          foldSpread: { se: spread(byFold.map((x) => x.se)), sp: spread(byFold.map((x) => x.sp)) },
        },
      ];
    }),
  );
  const shipped = opts.shipped ? chooseAfModel(records, AF_CV_SEED) : undefined;
  const perFold = folds.map((f) => ({
    fold: f.index,
    records: f.test.length,
    threshold: f.choice.model.threshold,
    offThreshold: f.choice.model.offThreshold ?? f.choice.model.threshold,
    smooth: f.choice.model.smooth,
    innerOutOfFold: f.choice.inner,
    heldOut: Object.fromEntries(
      Object.entries(sets).map(([k, rows]) => [
        k,
        pooled(
          rows.filter((r) => r.fold === f.index),
          (r) => r.aflAsAf,
        ),
      ]),
    ),
  }));
  return {
    rules: `nested ${AF_CV_FOLDS}-fold record-wise CV over afdb (.beats files, automatic qrs) + ltafdb (scored on its reference beats from .atr), folds stratified by database, seed ${AF_CV_SEED}; inside each training fold an inner ${AF_INNER_FOLDS}-fold split picks the smoothing width (${AF_SMOOTH_GRID.join(', ')} decisions), the probability threshold that opens an episode (0.01 … 0.99) and the hysteresis gap below it that closes one (${AF_HYSTERESIS_GRID.join(', ')}) that maximise the pooled margin, min(Se − 97 %, Sp − 98 %) over afdb and ltafdb together, and the model (${AF_RECIPE.gbt.rounds} rounds of depth-${AF_RECIPE.gbt.depth} trees) is refit on the whole training fold; training rows: every ${AF_RECIPE.stride}th RR interval of each record's beats${AF_RECIPE.automaticBeats ? " and of ltafdb's automatic-detector beats (.qrs)" : ''}${AF_RECIPE.balanceDatabases ? ', each database weighing the same' : ''}, weighted by duration; durations pooled from each record's first beat (or its first rhythm label, if later: time before it has no reference rhythm) to its last beat`,
    summary,
    perFold,
    shippedChoice: shipped && {
      threshold: shipped.model.threshold,
      offThreshold: shipped.model.offThreshold ?? shipped.model.threshold,
      smooth: shipped.model.smooth,
      innerOutOfFold: shipped.inner,
    },
    shippedModel: shipped,
    records: all.map((r) => ({
      record: r.record,
      hours: r.hours,
      fold: r.fold,
      threshold: r.threshold,
      aflAsAf: { ...seSp(r.aflAsAf) },
      aflAsNonAf: { ...seSp(r.aflAsNonAf) },
      petrenas: { ...seSp(r.petrenas) },
      automaticBeats: r.automaticBeats && { ...seSp(r.automaticBeats) },
      falseAfMin: r.aflAsAf.fp / r.fs / 60,
      missedAfMin: r.aflAsAf.fn / r.fs / 60,
    })),
  };
}

const seSpText = (x: Record<string, { se: number; sp: number }>) =>
  Object.entries(x)
    .map(([k, v]) => `${k} ${pct(v.se)} / ${pct(v.sp)}`)
    .join(', ');

export function afMarkdown(r: ReturnType<typeof evaluateAf>): string {
  const sp = (x: { mean: number; sd: number; min: number; max: number }) => `${pct(x.mean)} ± ${pct(x.sd)} (${pct(x.min)}–${pct(x.max)})`;
  const meets = (x: { se: number; sp: number }) => (x.se >= 0.97 && x.sp >= 0.98 ? 'yes' : 'no');
  return [
    '## AF detection from RR intervals: afdb + ltafdb, nested cross-validation',
    '',
    r.rules + '.',
    '',
    'Target: Se ≥ 97 %, Sp ≥ 98 % (by duration, atrial flutter counted as AF).',
    '',
    table(
      [
        'records',
        'n',
        'Se % (AFL = AF)',
        'Sp % (AFL = AF)',
        'meets target',
        'per-fold Se % mean ± SD (min–max)',
        'per-fold Sp %',
        'Se / Sp % (AFL ≠ AF)',
        'AF h',
        'non-AF h',
        'false AF h',
        'baseline Petrėnas Se/Sp %',
      ],
      Object.entries(r.summary).map(([k, x]) => [
        k,
        x.records,
        pct(x.aflAsAf.se),
        pct(x.aflAsAf.sp),
        meets(x.aflAsAf),
        sp(x.foldSpread.se),
        sp(x.foldSpread.sp),
        `${pct(x.aflAsNonAf.se)} / ${pct(x.aflAsNonAf.sp)}`,
        x.aflAsAf.afHours.toFixed(1),
        x.aflAsAf.nonAfHours.toFixed(1),
        x.aflAsAf.falseAfHours.toFixed(2),
        `${pct(x.petrenasBaseline.se)} / ${pct(x.petrenasBaseline.sp)}`,
      ]),
    ),
    '',
    ...(r.summary.ltafdb?.automaticBeats
      ? [
          `ltafdb scored on its automatic QRS detector's beats (.qrs) with the same held-out models: Se ${pct(r.summary.ltafdb.automaticBeats.se)} %, Sp ${pct(r.summary.ltafdb.automaticBeats.sp)} %, ${r.summary.ltafdb.automaticBeats.falseAfHours.toFixed(2)} h false AF (reviewed beats: ${pct(r.summary.ltafdb.aflAsAf.se)} / ${pct(r.summary.ltafdb.aflAsAf.sp)}).`,
          '',
        ]
      : []),
    "The Petrėnas baseline's constants were set on afdb earlier, so its afdb figure is not held-out; on ltafdb it is.",
    '',
    table(
      ['fold', 'records', 'threshold on / off', 'smoothing ± intervals', 'inner out-of-fold Se / Sp % (training records)', 'held-out Se / Sp %'],
      r.perFold.map((f) => [
        f.fold,
        f.records,
        `${f.threshold.toFixed(2)} / ${f.offThreshold.toFixed(2)}`,
        f.smooth,
        seSpText(f.innerOutOfFold),
        seSpText(f.heldOut),
      ]),
    ),
    '',
    r.shippedChoice
      ? `The same procedure on all ${r.records.length} records (the shipped model) picks thresholds ${r.shippedChoice.threshold.toFixed(2)} (on) / ${r.shippedChoice.offThreshold.toFixed(2)} (off), smoothing ±${r.shippedChoice.smooth} (inner out-of-fold ${seSpText(r.shippedChoice.innerOutOfFold)}).`
      : '',
    '',
    '<details><summary>Per record (held-out fold, AFL = AF)</summary>',
    '',
    table(
      ['record', 'hours', 'fold', 'Se %', 'Sp %', 'false AF min', 'missed AF min', 'Se / Sp % on automatic beats', 'Petrėnas Se/Sp %'],
      r.records.map((x) => [
        x.record,
        x.hours.toFixed(1),
        x.fold,
        pct(x.aflAsAf.se, 1),
        pct(x.aflAsAf.sp, 1),
        x.falseAfMin.toFixed(1),
        x.missedAfMin.toFixed(1),
        x.automaticBeats ? `${pct(x.automaticBeats.se, 1)} / ${pct(x.automaticBeats.sp, 1)}` : '',
        `${pct(x.petrenas.se, 1)} / ${pct(x.petrenas.sp, 1)}`,
      ]),
    ),
    '',
    '</details>',
  ].join('\n');
}
