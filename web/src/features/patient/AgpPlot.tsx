import type { AgpPoint } from '@contracts';

const W = 560,
  H = 220;
const M = { l: 36, r: 10, t: 10, b: 24 };
const Y_MAX = 350; // mg/dL
const TARGET: [number, number] = [70, 180]; // consensus target range, mg/dL

type Complete = { [K in keyof AgpPoint]: NonNullable<AgpPoint[K]> };

/**
 * AGP: 5–95 % and 25–75 % bands and the median over 24 h, with the 70–180 mg/dL target range. The server
 * (analysis/cgm/agp.ts) leaves a bin's percentiles null when it holds too few readings: those bins are
 * left out of the bands (a gap in the day, never a line down to 0 mg/dL).
 */
export function AgpPlot({ points: all }: { points: AgpPoint[] }) {
  const points = all.filter((p): p is Complete => p.p5 !== null && p.p25 !== null && p.p50 !== null && p.p75 !== null && p.p95 !== null);
  const x = (min: number) => M.l + (min / 1440) * (W - M.l - M.r);
  const y = (v: number) => M.t + (1 - Math.min(v, Y_MAX) / Y_MAX) * (H - M.t - M.b);
  const band = (lo: 'p5' | 'p25', hi: 'p75' | 'p95') =>
    points.map((p, i) => `${i ? 'L' : 'M'}${x(p.minute)},${y(p[hi])}`).join('') +
    [...points]
      .reverse()
      .map((p) => `L${x(p.minute)},${y(p[lo])}`)
      .join('') +
    'Z';
  const median = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.minute)},${y(p.p50)}`).join('');
  return (
    <svg className="agp" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Ambulatory glucose profile">
      <rect x={M.l} y={y(TARGET[1])} width={W - M.l - M.r} height={y(TARGET[0]) - y(TARGET[1])} fill="rgba(34,139,94,0.08)" />
      {[54, 70, 180, 250].map((v) => (
        <g key={v}>
          <line
            x1={M.l}
            x2={W - M.r}
            y1={y(v)}
            y2={y(v)}
            stroke={v === 70 || v === 180 ? '#2f8f5b' : '#d5d9df'}
            strokeDasharray={v === 70 || v === 180 ? '' : '3 3'}
          />
          <text x={M.l - 6} y={y(v) + 3} textAnchor="end" className="agp-axis">
            {v}
          </text>
        </g>
      ))}
      {[0, 3, 6, 9, 12, 15, 18, 21, 24].map((h) => (
        <text key={h} x={x(h * 60)} y={H - 6} textAnchor="middle" className="agp-axis">
          {h === 0 || h === 24 ? '12am' : h === 12 ? '12pm' : h < 12 ? `${h}am` : `${h - 12}pm`}
        </text>
      ))}
      {points.length > 1 ? (
        <>
          <path d={band('p5', 'p95')} fill="rgba(15,92,140,0.13)" />
          <path d={band('p25', 'p75')} fill="rgba(15,92,140,0.30)" />
          <path d={median} fill="none" stroke="#0f5c8c" strokeWidth="2" />
        </>
      ) : null}
    </svg>
  );
}
