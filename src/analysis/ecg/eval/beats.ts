/**
 * Beat-by-beat comparison of detections against reference annotations, as ANSI/AAMI EC57 and WFDB's
 * bxb define it: a match window of 150 ms, each reference beat matches at most one detection (and each
 * detection at most one reference beat), and the first 5 minutes are a learning period that is not scored.
 */

export interface BeatMatchOptions {
  /** Sampling frequency of both beat lists (Hz). */
  fs: number;
  /** Match window (s); EC57: 150 ms. */
  windowS?: number;
  /** Start of scoring (s); EC57 learning period: 5 min. */
  learningS?: number;
  /** Sample intervals [start, end] where scoring is suspended (EC57: ventricular flutter/fibrillation). */
  excluded?: ReadonlyArray<readonly [number, number]>;
}

export interface BeatCounts {
  tp: number;
  fn: number;
  fp: number;
}

export const EC57_WINDOW_S = 0.15; // EC57 match window, 150 ms
export const EC57_LEARNING_S = 300; // EC57 learning period, 5 min

/**
 * Pairs each reference beat with at most one detection within the window, closest pairs first, then
 * counts TP/FN/FP over the scored span. Both inputs must be ascending sample indices.
 */
export function matchBeats(reference: readonly number[], detected: readonly number[], opts: BeatMatchOptions): BeatCounts {
  const w = Math.round((opts.windowS ?? EC57_WINDOW_S) * opts.fs);
  const start = Math.round((opts.learningS ?? EC57_LEARNING_S) * opts.fs);
  const excluded = opts.excluded ?? [];
  const scored = (t: number) => t >= start && !excluded.some(([a, b]) => t >= a && t <= b);

  // Every (reference, detection) pair within the window, sorted by distance.
  const pairs: Array<[number, number, number]> = [];
  let j0 = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i];
    while (j0 < detected.length && detected[j0] < r - w) j0++;
    for (let j = j0; j < detected.length && detected[j] <= r + w; j++) pairs.push([Math.abs(detected[j] - r), i, j]);
  }
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const refMatched = new Uint8Array(reference.length);
  const detMatched = new Uint8Array(detected.length);
  for (const [, i, j] of pairs) {
    if (refMatched[i] || detMatched[j]) continue;
    refMatched[i] = 1;
    detMatched[j] = 1;
  }

  let tp = 0,
    fn = 0,
    fp = 0;
  for (let i = 0; i < reference.length; i++) {
    if (!scored(reference[i])) continue;
    if (refMatched[i]) tp++;
    else fn++;
  }
  for (let j = 0; j < detected.length; j++) if (!detMatched[j] && scored(detected[j])) fp++;
  return { tp, fn, fp };
}

/** Sensitivity TP/(TP+FN) and positive predictivity TP/(TP+FP), as fractions (NaN when undefined). */
export function sePp(c: BeatCounts): { se: number; ppv: number } {
  return { se: c.tp / (c.tp + c.fn), ppv: c.tp / (c.tp + c.fp) };
}

export function addCounts(a: BeatCounts, b: BeatCounts): BeatCounts {
  return { tp: a.tp + b.tp, fn: a.fn + b.fn, fp: a.fp + b.fp };
}
