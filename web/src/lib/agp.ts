import type { AgpPoint } from '../api/types.ts';

const BIN_MINUTES = 30; // AGP percentile bins across the day
const MIN_PER_BIN = 3; // fewer readings than this in a bin leaves a gap

/**
 * Ambulatory glucose profile: 5th/25th/50th/75th/95th percentiles of glucose by time of day
 * (International Consensus on TIR 2019). Used when the server's derived CGM block carries no `agp`.
 */
export function computeAgp(points: [number, number][]): AgpPoint[] {
  const bins: number[][] = Array.from({ length: (24 * 60) / BIN_MINUTES }, () => []);
  for (const [ts, v] of points) {
    const d = new Date(ts);
    bins[Math.floor((d.getHours() * 60 + d.getMinutes()) / BIN_MINUTES)].push(v);
  }
  const out: AgpPoint[] = [];
  bins.forEach((vals, i) => {
    if (vals.length < MIN_PER_BIN) return;
    vals.sort((a, b) => a - b);
    out.push({ minute: i * BIN_MINUTES + BIN_MINUTES / 2, p5: q(vals, 0.05), p25: q(vals, 0.25), p50: q(vals, 0.5), p75: q(vals, 0.75), p95: q(vals, 0.95) });
  });
  return out;
}

/** Linear-interpolated quantile of sorted values. */
function q(sorted: number[], p: number): number {
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
