import { useEffect, useRef, useState } from 'react';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { alertsApi, type Alert } from './alertsApi.ts';
import { askNotificationPermission, beep, notify } from './alarm.ts';
import { reconcileOpenAlerts } from './reconcile.ts';

/**
 * Top-bar badge: open critical alerts (red) or other open alerts across my patients. It is always
 * mounted, so it is also the one place that sounds the alarm and raises a browser notification for a
 * new or worsened critical alert.
 */
export function AlertBadge() {
  const [open, setOpen] = useState<Map<string, Alert>>(new Map());
  const known = useRef(open);
  known.current = open;
  const loaded = useRef(false); // the first list (at sign-in) is shown, not sounded
  const mounted = useRef(false);
  useEffect(() => askNotificationPermission(), []);
  const status = useLiveStream((m) => {
    if (m.type !== 'alert') return;
    const { alert, event } = m;
    setOpen((prev) => {
      const next = new Map(prev);
      if (alert.status === 'open') next.set(alert.id, alert);
      else next.delete(alert.id);
      return next;
    });
    if (alert.severity === 'critical' && (event === 'opened' || event === 'worsened' || event === 'escalated')) {
      beep();
      notify(`Critical alert`, alert.message, alert.id);
    }
  });
  // Load the open alerts each time the stream (re)connects: anything opened while it was down (restart,
  // Wi-Fi, the slow-client cut) was never pushed, so it is fetched, shown and sounded now.
  useEffect(() => {
    if (mounted.current && status !== 'open') return;
    mounted.current = true;
    let cancelled = false;
    alertsApi.list('open').then(
      (list) => {
        if (cancelled) return;
        const { open: next, sound } = reconcileOpenAlerts(known.current, list, !loaded.current);
        loaded.current = true;
        setOpen(next);
        if (sound.length) beep();
        for (const a of sound) notify(`Critical alert`, a.message, a.id);
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [status]);
  const all = [...open.values()];
  const critical = all.filter((a) => a.severity === 'critical').length;
  const label = critical ? `${critical} open critical alert${critical > 1 ? 's' : ''}` : `${all.length} open alert${all.length === 1 ? '' : 's'}`;
  return (
    <a href="#/alerts" className={`alert-badge ${critical ? 'is-critical' : all.length ? 'is-open' : ''}`} title={label} aria-label={label}>
      <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
        <path
          d="M8 1.5a4.5 4.5 0 0 0-4.5 4.5v3L2 11.5h12L12.5 9V6A4.5 4.5 0 0 0 8 1.5zM6.5 13a1.5 1.5 0 0 0 3 0"
          fill="none"
          stroke="currentColor"
          strokeWidth="1.4"
        />
      </svg>
      {all.length ? <span className="alert-badge-count">{critical || all.length}</span> : null}
    </a>
  );
}
