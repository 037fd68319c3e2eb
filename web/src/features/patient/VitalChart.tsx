import { useMemo } from 'react';
import { Chart, type ChartSeries } from '../../components/Chart.tsx';
import { useNow } from '../../lib/clock.ts';
import type { VitalDef } from '../../lib/vitals.ts';
import { useSeries, type RangeDef } from './useSeries.ts';

const COLORS = ['#0f5c8c', '#7a4fc2'];

export function VitalChart({ patientId, vital, range }: { patientId: string; vital: VitalDef; range: RangeDef }) {
  const { x, columns, loading, error } = useSeries(patientId, vital.codes, range);
  const now = useNow();
  const nowS = Math.floor(now / 5000) * 5; // move the window in 5 s steps
  const series = useMemo<ChartSeries[]>(
    () =>
      columns.map((values, i) => ({ label: vital.codes.length > 1 ? (i === 0 ? 'Systolic' : 'Diastolic') : vital.short, color: COLORS[i] ?? '#444', values })),
    [columns, vital],
  );
  const empty = !loading && x.length === 0;
  return (
    <section className="card chart-card">
      <header className="chart-head">
        <h3>{vital.label}</h3>
        <span className="muted small">{vital.unit}</span>
        {loading ? <span className="muted small chart-status">loading…</span> : null}
      </header>
      {error ? <p className="muted small">Couldn’t load history: {error.message}</p> : null}
      <div className="chart-body">
        <Chart x={x} series={series} height={150} unit={vital.unit} decimals={vital.decimals} band={vital.normal} xRange={[nowS - range.ms / 1000, nowS]} />
        {empty ? <div className="chart-empty">No readings in the last {range.label}</div> : null}
      </div>
    </section>
  );
}
