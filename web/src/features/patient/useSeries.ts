import { useMemo } from 'react';
import { api } from '../../api/client.ts';
import type { ReadingSeries } from '@contracts';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { toMs } from '../../lib/format.ts';
import { useAsync } from '../../lib/useAsync.ts';

export interface RangeDef {
  key: string;
  label: string;
  ms: number;
}

export const RANGES: RangeDef[] = [
  { key: '1h', label: '1 h', ms: 3_600_000 },
  { key: '24h', label: '24 h', ms: 86_400_000 },
  { key: '7d', label: '7 d', ms: 7 * 86_400_000 },
  { key: '30d', label: '30 d', ms: 30 * 86_400_000 },
];

const MAX_POINTS = 800; // about one point per chart pixel; the server keeps min/max per bucket

/**
 * History of one or more codes for the range ending now, then live points appended as they arrive.
 * Returns uPlot-ready aligned columns: x in epoch seconds, one value column per code.
 */
export function useSeries(patientId: string, codes: string[], range: RangeDef) {
  const key = codes.join(',');
  const state = useAsync(
    (signal) => {
      const from = Date.now() - range.ms;
      return Promise.all(codes.map((code) => api.readings(patientId, { code, from, maxPoints: MAX_POINTS }, signal)));
    },
    [patientId, key, range.ms],
  );

  useLiveStream((msg) => {
    if (msg.type !== 'readings' || msg.patientId !== patientId) return;
    const mine = msg.readings.filter((r) => codes.includes(r.code));
    if (mine.length === 0) return;
    state.setData((prev) =>
      prev?.map((s): ReadingSeries => {
        const add = mine.filter((r) => r.code === s.code).map((r): [number, number] => [toMs(r.ts), r.value]);
        if (add.length === 0) return s;
        const last = s.points.length ? s.points[s.points.length - 1][0] : -Infinity;
        const fresh = add.filter((p) => p[0] > last);
        return fresh.length ? { ...s, points: [...s.points, ...fresh] } : s;
      }),
    );
  });

  const aligned = useMemo(() => align(state.data ?? []), [state.data]);
  return { ...aligned, loading: state.loading, error: state.error, unit: state.data?.[0]?.unit };
}

function align(series: ReadingSeries[]): { x: number[]; columns: (number | null)[][] } {
  if (series.length === 1) {
    const pts = series[0].points;
    return { x: pts.map((p) => p[0] / 1000), columns: [pts.map((p) => p[1])] };
  }
  const byTs = new Map<number, (number | null)[]>();
  series.forEach((s, i) => {
    for (const [ts, v] of s.points) {
      let row = byTs.get(ts);
      if (!row) byTs.set(ts, (row = series.map(() => null)));
      row[i] = v;
    }
  });
  const ts = [...byTs.keys()].sort((a, b) => a - b);
  return { x: ts.map((t) => t / 1000), columns: series.map((_, i) => ts.map((t) => byTs.get(t)![i])) };
}
