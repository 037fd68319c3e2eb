/**
 * Record-wise (patient-wise) nested cross-validation that cannot flatter.
 *
 * Every record is assigned to one of k outer folds by a seeded hash of its id (never by its content or
 * its score). For each outer fold, `choose` receives the TRAINING records only — a fresh frozen array
 * built from ids that are checked to be disjoint from the fold's test ids — and returns whatever it
 * decides (thresholds, features, model settings, a trained model). `score` then sees the held-out
 * records and that choice, never the other way round. Inside `choose`, the same splitter (`innerFolds`)
 * gives inner folds for choices that themselves need held-out data. Nothing else is passed, so a figure
 * computed from `score` is always on records that took no part in any choice.
 */

export interface FoldResult<C, S> {
  index: number;
  train: string[];
  test: string[];
  choice: C;
  /** One result per test record, in `test` order. */
  results: S[];
}

export interface NestedCvOptions<R, C, S> {
  /** Stable record (patient) id; records sharing an id always fall in the same fold. */
  id: (r: R) => string;
  folds: number;
  seed: number;
  /** Optional stratum (e.g. database or class) so each fold holds a share of every stratum. */
  stratum?: (r: R) => string;
  /** The whole choice procedure, fixed in advance: sees the training records only. */
  choose: (train: readonly R[], fold: number) => C;
  /** Scores one held-out record with the choice made without it. */
  score: (test: R, choice: C) => S;
  /** Called after each outer fold (progress). */
  onFold?: (done: number, total: number) => void;
}

/** FNV-1a 32-bit hash of a string mixed with a seed. */
function hash(s: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, 2246822507) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * Fold of every id: ids are ordered by their seeded hash within each stratum and dealt round-robin,
 * so folds are balanced per stratum and the assignment depends on nothing but the ids and the seed.
 */
export function assignFolds(ids: readonly string[], k: number, seed: number, strata?: readonly string[]): Map<string, number> {
  if (!(k >= 2)) throw new RangeError(`cross-validation needs at least 2 folds, got ${k}`);
  const unique = [...new Set(ids)];
  if (unique.length < k) throw new RangeError(`${unique.length} records cannot fill ${k} folds`);
  const stratumOf = new Map<string, string>();
  ids.forEach((id, i) => stratumOf.set(id, strata?.[i] ?? ''));
  const byStratum = new Map<string, string[]>();
  for (const id of unique) {
    const s = stratumOf.get(id)!;
    if (!byStratum.has(s)) byStratum.set(s, []);
    byStratum.get(s)!.push(id);
  }
  const fold = new Map<string, number>();
  let next = 0; // continue dealing across strata so small strata do not all start at fold 0
  for (const s of [...byStratum.keys()].sort()) {
    const list = byStratum.get(s)!.sort((a, b) => hash(a, seed) - hash(b, seed) || (a < b ? -1 : 1));
    for (const id of list) fold.set(id, next++ % k);
  }
  return fold;
}

/** Splits records into k (train, test) pairs by id. Used for outer and inner folds alike. */
export function splitFolds<R>(records: readonly R[], id: (r: R) => string, k: number, seed: number, stratum?: (r: R) => string) {
  const ids = records.map(id);
  const fold = assignFolds(ids, k, seed, stratum ? records.map(stratum) : undefined);
  return Array.from({ length: k }, (_, f) => {
    const train = Object.freeze(records.filter((r) => fold.get(id(r)) !== f));
    const test = Object.freeze(records.filter((r) => fold.get(id(r)) === f));
    const trainIds = new Set(train.map(id));
    for (const r of test) if (trainIds.has(id(r))) throw new Error(`record ${id(r)} is in both the training and the test fold`);
    return { index: f, train, test };
  });
}

/** Inner folds for a choice made inside `choose` (same splitter, a different seed). */
export function innerFolds<R>(train: readonly R[], id: (r: R) => string, k: number, seed: number, stratum?: (r: R) => string) {
  return splitFolds(train, id, k, seed ^ 0x5bd1e995, stratum);
}

export function nestedCrossValidate<R, C, S>(records: readonly R[], o: NestedCvOptions<R, C, S>): Array<FoldResult<C, S>> {
  const out: Array<FoldResult<C, S>> = [];
  const folds = splitFolds(records, o.id, o.folds, o.seed, o.stratum);
  for (const f of folds) {
    const choice = o.choose(f.train, f.index);
    out.push({ index: f.index, train: f.train.map(o.id), test: f.test.map(o.id), choice, results: f.test.map((r) => o.score(r, choice)) });
    o.onFold?.(f.index + 1, folds.length);
  }
  return out;
}

/** Mean, standard deviation (n − 1), minimum and maximum of per-fold figures. */
export function spread(values: readonly number[]): { mean: number; sd: number; min: number; max: number } {
  const v = values.filter(Number.isFinite);
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, sd, min: Math.min(...v), max: Math.max(...v) };
}
