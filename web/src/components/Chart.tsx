import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  /** Values aligned with `x`; null for a gap. */
  values: (number | null)[];
}

export interface ChartProps {
  /** Epoch seconds (uPlot's time unit). */
  x: number[];
  series: ChartSeries[];
  height?: number;
  unit?: string;
  decimals?: number;
  /** A shaded reference band, e.g. the usual adult range. */
  band?: [number, number];
  xRange?: [number, number];
}

/** A thin React wrapper over uPlot: builds once per series layout, then only pushes data. */
export function Chart({ x, series, height = 180, unit = '', decimals = 0, band, xRange }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const layoutKey = series.map((s) => `${s.label}:${s.color}`).join('|') + `|${height}|${band?.join(',') ?? ''}|${unit}`;
  const rangeRef = useRef(xRange);
  rangeRef.current = xRange;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const bandPlugin: uPlot.Plugin = {
      hooks: {
        drawClear: (u: uPlot) => {
          if (!band) return;
          const { ctx } = u;
          const top = u.valToPos(band[1], 'y', true);
          const bottom = u.valToPos(band[0], 'y', true);
          ctx.save();
          ctx.fillStyle = 'rgba(34, 139, 94, 0.07)';
          ctx.fillRect(u.bbox.left, top, u.bbox.width, bottom - top);
          ctx.restore();
        },
      },
    };
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height,
      legend: { show: series.length > 1, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      plugins: [bandPlugin],
      scales: {
        x: { time: true, range: (_u, min, max) => (rangeRef.current ? [rangeRef.current[0], rangeRef.current[1]] : [min, max]) },
        y: {
          range: (_u, min, max) => {
            const lo = Math.min(min, band?.[0] ?? min);
            const hi = Math.max(max, band?.[1] ?? max);
            const pad = Math.max((hi - lo) * 0.12, decimals ? 0.3 : 3);
            return [Math.floor(lo - pad), Math.ceil(hi + pad)];
          },
        },
      },
      axes: [
        { stroke: '#5b6472', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e3e6ea' }, font: '11px system-ui, sans-serif' },
        {
          stroke: '#5b6472',
          grid: { stroke: '#eef0f3', width: 1 },
          ticks: { show: false },
          size: 44,
          font: '11px system-ui, sans-serif',
          values: (_u, vals) => vals.map((v) => v.toFixed(decimals && Math.abs(vals[1] - vals[0]) < 1 ? decimals : 0)),
        },
      ],
      series: [
        {
          label: 'Time',
          value: (_u, v) =>
            v == null
              ? '—'
              : new Date(v * 1000).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }),
        },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.6,
          spanGaps: true,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : `${v.toFixed(decimals)} ${unit}`),
        })),
      ],
    };
    const u = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuild only when the layout changes; data goes through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layoutKey]);

  // A new visible range re-applies the data too (uPlot rescales on setData).
  const [xFrom, xTo] = xRange ?? [];
  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series, xFrom, xTo]);

  return <div className="chart" ref={host} />;
}
