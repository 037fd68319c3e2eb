/** Small order statistics shared by the feature extractors (pure). */

/** Median of the values (NaN when empty). */
export function median(v: ArrayLike<number>): number {
  if (v.length === 0) return NaN;
  const s = Float64Array.from(v).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Quantile q (0–1) with linear interpolation between order statistics (NaN when empty). */
export function quantile(v: ArrayLike<number>, q: number): number {
  if (v.length === 0) return NaN;
  const s = Float64Array.from(v).sort();
  const pos = q * (s.length - 1),
    lo = Math.floor(pos),
    hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
