import { useEffect, useMemo, useRef, useState } from 'react';
import { api } from '../../api/client.ts';
import type { PatientStatus } from '@contracts';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { bySeverityThenName, STATUS_LABEL } from '../../lib/status.ts';
import { useAsync } from '../../lib/useAsync.ts';
import { VITALS } from '../../lib/vitals.ts';
import { applyToPanel } from './liveUpdate.ts';
import { PatientCard } from './PatientCard.tsx';
import { PatientRow } from './PatientRow.tsx';

const REFRESH_MS = 30_000; // re-sync server-computed status and alert counts every 30 s
const ALERT_REFRESH_DELAY_MS = 500; // coalesce bursts of alert messages into one fetch

type Filter = 'all' | PatientStatus;
type Layout = 'table' | 'tiles';
const LAYOUT_KEY = 'vigil.panel.layout';

function savedLayout(): Layout {
  try {
    return localStorage.getItem(LAYOUT_KEY) === 'tiles' ? 'tiles' : 'table';
  } catch {
    return 'table';
  }
}
const FILTERS: Filter[] = ['all', 'alert', 'watch', 'stale', 'ok'];

export function PanelPage() {
  const panel = useAsync((signal) => api.patients(signal), []);
  const [query, setQuery] = useState('');
  const [filter, setFilter] = useState<Filter>('all');
  const [layout, setLayoutState] = useState<Layout>(savedLayout);
  const setLayout = (l: Layout) => {
    setLayoutState(l);
    try {
      localStorage.setItem(LAYOUT_KEY, l);
    } catch {
      /* private mode: not remembered */
    }
  };
  const alertTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    const t = setInterval(panel.reload, REFRESH_MS);
    return () => clearInterval(t);
  }, [panel.reload]);

  useLiveStream((msg) => {
    if (msg.type === 'alert') {
      if (alertTimer.current) clearTimeout(alertTimer.current);
      alertTimer.current = setTimeout(panel.reload, ALERT_REFRESH_DELAY_MS);
      return;
    }
    panel.setData((prev) => (prev ? applyToPanel(prev, msg) : prev));
  });

  const all = panel.data;
  const counts = useMemo(() => {
    const c: Record<PatientStatus, number> = { alert: 0, watch: 0, stale: 0, ok: 0, 'no-data': 0 };
    for (const p of all ?? []) c[p.status]++;
    return c;
  }, [all]);

  const rows = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (all ?? [])
      .filter((p) => filter === 'all' || p.status === filter || (filter === 'stale' && p.status === 'no-data'))
      .filter((p) => !q || p.name.toLowerCase().includes(q) || p.id.toLowerCase().includes(q))
      .sort(bySeverityThenName);
  }, [all, query, filter]);

  if (!all) {
    if (panel.error)
      return (
        <main className="page">
          <ErrorNote error={panel.error} onRetry={panel.reload} />
        </main>
      );
    return <Loading label="Loading patients…" />;
  }

  return (
    <main className="page page-wide panel">
      <div className="panel-head">
        <div>
          <h1 className="page-title">Patients</h1>
          <p className="panel-summary" aria-live="polite">
            <strong>{all.length}</strong> {all.length === 1 ? 'patient' : 'patients'}
            <span className="sep">·</span>
            <span className="sum-alert">
              <strong>{counts.alert}</strong> in alert
            </span>
            <span className="sep">·</span>
            <span className="sum-watch">
              <strong>{counts.watch}</strong> on watch
            </span>
            {counts.stale + counts['no-data'] > 0 ? (
              <>
                <span className="sep">·</span>
                <span className="sum-stale">
                  <strong>{counts.stale + counts['no-data']}</strong> stale
                </span>
              </>
            ) : null}
          </p>
        </div>
        <div className="panel-tools">
          <div className="segmented" role="group" aria-label="Filter by status">
            {FILTERS.map((f) => (
              <button key={f} type="button" className={filter === f ? 'is-on' : ''} onClick={() => setFilter(f)} aria-pressed={filter === f}>
                {f === 'all' ? 'All' : STATUS_LABEL[f]}
                {f !== 'all' ? <span className="seg-count">{f === 'stale' ? counts.stale + counts['no-data'] : counts[f]}</span> : null}
              </button>
            ))}
          </div>
          <div className="segmented" role="group" aria-label="Layout">
            <button type="button" className={layout === 'table' ? 'is-on' : ''} aria-pressed={layout === 'table'} onClick={() => setLayout('table')}>
              Table
            </button>
            <button type="button" className={layout === 'tiles' ? 'is-on' : ''} aria-pressed={layout === 'tiles'} onClick={() => setLayout('tiles')}>
              Tiles
            </button>
          </div>
          <label className="search">
            <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
              <circle cx="7" cy="7" r="5" fill="none" stroke="currentColor" strokeWidth="1.6" />
              <path d="M11 11l3.5 3.5" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
            </svg>
            <input type="search" placeholder="Search patients" value={query} onChange={(e) => setQuery(e.target.value)} aria-label="Search patients" />
          </label>
        </div>
      </div>
      {panel.error ? <ErrorNote error={panel.error} onRetry={panel.reload} /> : null}
      {layout === 'tiles' ? (
        <div className="pgrid">
          {rows.map((p) => (
            <PatientCard key={p.id} patient={p} />
          ))}
        </div>
      ) : (
        <div className="table-wrap">
          <table className="ptable">
            <thead>
              <tr>
                <th className="pcell-status">Status</th>
                <th>Patient</th>
                <th title="National Early Warning Score 2">NEWS2</th>
                {VITALS.map((v) => (
                  <th key={v.key} className="vcol">
                    {v.short}
                  </th>
                ))}
                <th title="Open alerts">Alerts</th>
                <th>Devices</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <PatientRow key={p.id} patient={p} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length === 0 ? <p className="empty">{all.length === 0 ? 'No patients on your care team yet.' : 'No patients match.'}</p> : null}
    </main>
  );
}
