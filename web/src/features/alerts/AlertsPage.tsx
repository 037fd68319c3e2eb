import { useEffect, useMemo, useRef, useState } from 'react';
import { api } from '../../api/client.ts';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { TimeAgo } from '../../components/TimeAgo.tsx';
import { href } from '../../app/router.ts';
import { useAsync } from '../../lib/useAsync.ts';
import { alertsApi, byUrgency, type Alert } from './alertsApi.ts';
import { PushButton } from './PushButton.tsx';
import './alerts.css';
import { CallNowButton } from '../visits/CallNowButton.tsx'; // [tele]

const SEVERITY_PILL = { critical: 'pill-red', warning: 'pill-amber', info: 'pill-grey' } as const;
const SNOOZE_MINUTES = [15, 30, 60, 120];

/** The alert inbox (`#/alerts`): every alert on my patients, most severe first, then the longest waiting. */
export function AlertsPage() {
  const [view, setView] = useState<'active' | 'resolved'>('active');
  const alerts = useAsync(() => alertsApi.list(view), [view]);
  const patients = useAsync((signal) => api.patients(signal), []);
  const names = useMemo(() => new Map((patients.data ?? []).map((p) => [p.id, p.name])), [patients.data]);

  useLiveStream((m) => {
    if (m.type !== 'alert') return;
    const { alert } = m;
    const belongs = view === 'active' ? alert.status !== 'resolved' : alert.status === 'resolved';
    alerts.setData((prev) => {
      const rest = (prev ?? []).filter((a) => a.id !== alert.id);
      return belongs ? [...rest, alert] : rest;
    });
  });

  const rows = useMemo(() => [...(alerts.data ?? [])].sort(byUrgency), [alerts.data]);
  const replace = (a: Alert) =>
    alerts.setData((prev) => (prev ?? []).map((x) => (x.id === a.id ? a : x)).filter((x) => (view === 'active' ? x.status !== 'resolved' : true)));
  const counts = { critical: rows.filter((a) => a.severity === 'critical').length, open: rows.filter((a) => a.status === 'open').length };

  return (
    <main className="page page-wide">
      <div className="panel-head">
        <div>
          <h1 className="page-title">Alerts</h1>
          {view === 'active' && alerts.data ? (
            <p className="panel-summary">
              <strong>{counts.critical}</strong> critical<span className="sep">·</span>
              <strong>{counts.open}</strong> unacknowledged<span className="sep">·</span>
              <strong>{rows.length}</strong> active
            </p>
          ) : null}
        </div>
        <div className="panel-tools">
          <div className="segmented" role="tablist">
            {(['active', 'resolved'] as const).map((v) => (
              <button key={v} type="button" className={view === v ? 'is-on' : ''} onClick={() => setView(v)} role="tab" aria-selected={view === v}>
                {v === 'active' ? 'Active' : 'Resolved'}
              </button>
            ))}
          </div>
          <PushButton />
          <a className="btn btn-sm" href="#/alerts/rules">
            Rules
          </a>
        </div>
      </div>
      {alerts.error ? <ErrorNote error={alerts.error} onRetry={alerts.reload} /> : null}
      {!alerts.data && !alerts.error ? <Loading /> : null}
      {alerts.data ? (
        <ul className="alert-list">
          {rows.map((a) => (
            <AlertRow key={a.id} alert={a} patientName={names.get(a.patientId) ?? a.patientId} onChange={replace} />
          ))}
          {rows.length === 0 ? <li className="empty">{view === 'active' ? 'No active alerts. All quiet.' : 'No resolved alerts yet.'}</li> : null}
        </ul>
      ) : null}
    </main>
  );
}

function AlertRow({ alert: a, patientName, onChange }: { alert: Alert; patientName: string; onChange: (a: Alert) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [snoozing, setSnoozing] = useState(false);
  const [reason, setReason] = useState('');
  const [minutes, setMinutes] = useState(30);
  const snoozeButton = useRef<HTMLButtonElement>(null);
  const [refocus, setRefocus] = useState(false);
  useEffect(() => {
    if (!refocus || busy) return;
    snoozeButton.current?.focus();
    setRefocus(false);
  }, [refocus, busy]);
  const act = (fn: () => Promise<Alert>, then?: () => void) => async () => {
    setBusy(true);
    setError(null);
    try {
      onChange(await fn());
      setSnoozing(false);
      then?.();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const snoozed = a.snoozedUntil && Date.parse(a.snoozedUntil) > Date.now();
  return (
    <li className={`alert-row sev-${a.severity} st-${a.status}`}>
      <span className={`pill ${SEVERITY_PILL[a.severity]}`}>{a.severity}</span>
      <div className="alert-main">
        <div className="alert-title">
          <a href={href({ name: 'patient', id: a.patientId })}>
            <strong>{patientName}</strong>
          </a>
          <span className="alert-msg">{a.message}</span>
        </div>
        <div className="alert-meta muted small">
          <span>
            {a.rule} v{a.ruleVersion}
          </span>
          <span>
            opened <TimeAgo ts={a.openedAt} plain />
          </span>
          <span className={`alert-status is-${a.status}`}>{a.status}</span>
          {a.escalationLevel > 0 ? <span className="pill pill-orange">escalated ×{a.escalationLevel}</span> : null}
          {snoozed ? <span title={a.snoozeReason ?? ''}>snoozed until {new Date(a.snoozedUntil!).toLocaleTimeString()}</span> : null}
          {a.resolutionNote ? <span>“{a.resolutionNote}”</span> : null}
        </div>
        {snoozing ? (
          <form
            className="snooze-form"
            onKeyDown={(e) => {
              if (e.key !== 'Escape') return;
              setSnoozing(false); // Escape cancels, and the keyboard is back on the Snooze button (found by review)
              snoozeButton.current?.focus();
            }}
            onSubmit={(e) => {
              e.preventDefault();
              void act(() => alertsApi.snooze(a.id, minutes, reason))();
            }}
          >
            <input autoFocus required placeholder="Reason (required)" value={reason} onChange={(e) => setReason(e.target.value)} aria-label="Snooze reason" />
            <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} aria-label="Snooze for">
              {SNOOZE_MINUTES.map((m) => (
                <option key={m} value={m}>
                  {m < 60 ? `${m} min` : `${m / 60} h`}
                </option>
              ))}
            </select>
            <button className="btn btn-sm btn-primary" disabled={busy || !reason.trim()}>
              Snooze
            </button>
            <button type="button" className="btn btn-sm" onClick={() => setSnoozing(false)}>
              Cancel
            </button>
          </form>
        ) : null}
        {error ? <p className="form-error small">{error}</p> : null}
      </div>
      {a.status !== 'resolved' ? (
        <div className="alert-actions">
          {a.status === 'open' ? (
            <button
              type="button"
              className="btn btn-sm btn-primary"
              disabled={busy}
              // The button goes once acknowledged: the focus moves to the row's next action, not to the page's top.
              onClick={act(
                () => alertsApi.acknowledge(a.id),
                () => setRefocus(true),
              )}
            >
              Acknowledge
            </button>
          ) : null}
          <button type="button" ref={snoozeButton} className="btn btn-sm" disabled={busy} onClick={() => setSnoozing((s) => !s)}>
            Snooze
          </button>
          <button type="button" className="btn btn-sm" disabled={busy} onClick={act(() => alertsApi.resolve(a.id))}>
            Resolve
          </button>
          <CallNowButton patientId={a.patientId} reason={`Alert: ${a.rule}`} className="btn btn-sm" />
          {/* [tele] */}
        </div>
      ) : null}
    </li>
  );
}
