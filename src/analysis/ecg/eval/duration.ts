/**
 * Episode detection judged by duration (as in Petrėnas 2015 and Tateno & Glass 2001 on afdb):
 * Se = share of reference AF time flagged, Sp = share of non-AF time not flagged.
 */

export interface Interval {
  start: number;
  end: number;
}

export interface DurationCounts {
  /** Durations in samples: AF flagged, AF missed, non-AF flagged, non-AF clear. */
  tp: number;
  fn: number;
  fp: number;
  tn: number;
}

/** Sorts and merges overlapping intervals, clipped to [from, to). */
export function normalise(list: readonly Interval[], from: number, to: number): Interval[] {
  const s = list
    .map((x) => ({ start: Math.max(from, x.start), end: Math.min(to, x.end) }))
    .filter((x) => x.end > x.start)
    .sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const x of s) {
    const last = out[out.length - 1];
    if (last && x.start <= last.end) last.end = Math.max(last.end, x.end);
    else out.push({ ...x });
  }
  return out;
}

export function totalLength(list: readonly Interval[]): number {
  return list.reduce((s, x) => s + (x.end - x.start), 0);
}

/** Length of the intersection of two normalised interval lists. */
export function overlap(a: readonly Interval[], b: readonly Interval[]): number {
  let i = 0,
    j = 0,
    sum = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i].start, b[j].start);
    const hi = Math.min(a[i].end, b[j].end);
    if (hi > lo) sum += hi - lo;
    if (a[i].end < b[j].end) i++;
    else j++;
  }
  return sum;
}

/** Compares detected with reference episodes over the span [from, to) (samples). */
export function compareDurations(reference: readonly Interval[], detected: readonly Interval[], from: number, to: number): DurationCounts {
  const ref = normalise(reference, from, to);
  const det = normalise(detected, from, to);
  const refLen = totalLength(ref);
  const detLen = totalLength(det);
  const tp = overlap(ref, det);
  const span = to - from;
  return { tp, fn: refLen - tp, fp: detLen - tp, tn: span - refLen - (detLen - tp) };
}

export function seSp(c: DurationCounts): { se: number; sp: number } {
  return { se: c.tp / (c.tp + c.fn), sp: c.tn / (c.tn + c.fp) };
}
