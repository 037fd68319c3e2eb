import { api } from '../../api/client.ts';
import { Sparkline } from '../../components/Sparkline.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import type { VitalDef } from '../../lib/vitals.ts';

const WEEK_MS = 7 * 86_400_000;

/**
 * A patient's own week of one reading, in plain words ("This week: between 62 and 88") with a small line
 * beside it for those who see it (the words are what a screen reader reads). Nothing when there is too little.
 */
export function SelfTrend({ patientId, vital, latest }: { patientId: string; vital: VitalDef; latest?: { value: number; ts: number | string } }) {
  const code = vital.codes[0];
  const series = useAsync((signal) => api.readings(patientId, { code, from: Date.now() - WEEK_MS, maxPoints: 120 }, signal), [patientId, code]);
  const points = series.data?.points ?? [];
  if (points.length < 2) return null;
  const values = series.data!.buckets.length ? series.data!.buckets.flatMap((b) => [b.min, b.max]) : points.map((p) => p[1]);
  // The week was loaded once; the tile's live value since then belongs in it (found by review: "106, this week
  // between 65 and 103").
  if (latest && Date.now() - new Date(latest.ts).getTime() < WEEK_MS) values.push(latest.value);
  const fmt = (v: number) => v.toFixed(vital.decimals);
  const lo = fmt(Math.min(...values)),
    hi = fmt(Math.max(...values));
  return (
    <span className="self-trend">
      <Sparkline points={points} width={120} height={32} />
      <span>{lo === hi ? `This week: always ${lo}` : `This week: between ${lo} and ${hi}`}</span>
    </span>
  );
}
