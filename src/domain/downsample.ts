/**
 * Reduces a time series to at most `maxPoints` points for a chart by keeping, per time bucket, the
 * minimum and the maximum (in time order): peaks and dips that matter clinically survive, unlike averaging.
 */
export function downsampleMinMax(points: Array<[number, number]>, maxPoints: number): Array<[number, number]> {
  if (points.length <= maxPoints || maxPoints < 4) return points;
  const buckets = Math.floor(maxPoints / 2);
  const t0 = points[0][0];
  const span = points[points.length - 1][0] - t0 || 1;
  const out: Array<[number, number]> = [];
  let i = 0;
  for (let b = 0; b < buckets; b++) {
    const end = t0 + ((b + 1) * span) / buckets;
    let min: [number, number] | null = null;
    let max: [number, number] | null = null;
    while (i < points.length && (points[i][0] < end || b === buckets - 1)) {
      const p = points[i++];
      if (!min || p[1] < min[1]) min = p;
      if (!max || p[1] > max[1]) max = p;
    }
    if (min && max) {
      if (min === max) out.push(min);
      else if (min[0] <= max[0]) out.push(min, max);
      else out.push(max, min);
    }
  }
  return out;
}
