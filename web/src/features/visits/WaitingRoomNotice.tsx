import { useEffect, useRef, useState } from 'react';
import type { Appointment, WaitingVisit } from '@contracts';
import { request } from '../../api/client.ts';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { href, useRoute } from '../../app/router.ts';

interface Waiting {
  patientId: string;
  count: number;
  kinds: string[];
}

/**
 * Staff hear, on whatever screen they are, that someone waits in a video visit's waiting room: a banner under
 * the top bar with the patient's name and a button to open the visit, announced by screen readers (a polite
 * live region that is always in the page, so additions are read out). It goes when nobody waits any more or
 * when the visit is open. Loaded from `GET /visits/waiting` at mount and each time the live stream (re)opens (so
 * a reload or a reconnect does not hide who is already waiting), then kept up by the stream's `visit.waiting`
 * events (relayed between instances).
 */
export function WaitingRoomNotice() {
  const route = useRoute();
  const [waiting, setWaiting] = useState<Record<string, Waiting>>({});
  const [dismissed, setDismissed] = useState<Record<string, number>>({});
  /** Patients' names by visit, kept when nobody waits (before: a visit someone waited in twice lost its name for good). */
  const [names, setNames] = useState<Record<string, string>>({});
  const asked = useRef(new Set<string>());
  /** Visits an event spoke of while the list was being loaded: the event is newer than the list. */
  const touched = useRef<Set<string> | null>(null);
  const loadedOnce = useRef(false);

  const status = useLiveStream((m) => {
    if (m.type !== 'visit.waiting') return;
    touched.current?.add(m.appointmentId);
    setWaiting((w) => {
      const next = { ...w };
      if (m.waiting > 0) next[m.appointmentId] = { patientId: m.patientId, count: m.waiting, kinds: m.kinds };
      else delete next[m.appointmentId];
      return next;
    });
  });

  // Who waits now: at mount, and again whenever the stream opens (events sent while it was down are lost).
  useEffect(() => {
    if (loadedOnce.current && status !== 'open') return;
    loadedOnce.current = true;
    const during = new Set<string>();
    touched.current = during;
    const ctrl = new AbortController();
    request<WaitingVisit[]>('GET', '/visits/waiting', undefined, ctrl.signal).then(
      (list) => {
        if (touched.current === during) touched.current = null;
        for (const v of list) asked.current.add(v.appointmentId);
        setNames((n) => ({ ...n, ...Object.fromEntries(list.map((v) => [v.appointmentId, v.patientName])) }));
        // The list replaces what was shown (a visit nobody waits in any more goes), except visits an event spoke of
        // meanwhile: that event is newer.
        setWaiting((w) => {
          const next: Record<string, Waiting> = {};
          for (const [id, x] of Object.entries(w)) if (during.has(id)) next[id] = x;
          for (const v of list) if (!during.has(v.appointmentId)) next[v.appointmentId] = { patientId: v.patientId, count: v.waiting, kinds: v.kinds };
          return next;
        });
      },
      () => undefined, // the live events still come; the next (re)open tries again
    );
    return () => ctrl.abort();
  }, [status]);

  // The name comes from the appointment (read once per visit, like any screen that shows it).
  useEffect(() => {
    for (const id of Object.keys(waiting)) {
      if (asked.current.has(id)) continue;
      asked.current.add(id);
      request<Appointment>('GET', `/appointments/${encodeURIComponent(id)}`).then(
        (a) => setNames((n) => ({ ...n, [id]: a.patientName })),
        () => asked.current.delete(id),
      );
    }
  }, [waiting]);

  const shown = Object.entries(waiting)
    .filter(([id, w]) => !(route.name === 'visit' && route.id === id) && (dismissed[id] ?? 0) < w.count && names[id] !== undefined)
    .map(([id, w]) => [id, { ...w, name: names[id] }] as const);
  return (
    <div className="waiting-notice-region" role="status" aria-live="polite">
      {shown.map(([id, w]) => (
        <div key={id} className="waiting-notice">
          <span className="waiting-dot" aria-hidden="true" />
          <span>
            <strong>{w.name}</strong> {w.kinds.includes('guest') && !w.kinds.includes('patient') ? 'has a guest waiting' : 'is waiting'} for their video visit
            {w.count > 1 ? ` (${w.count} people waiting)` : ''}.
          </span>
          <a className="btn btn-primary btn-sm" href={href({ name: 'visit', id })}>
            Open the visit
          </a>
          <button type="button" className="btn btn-sm" onClick={() => setDismissed((d) => ({ ...d, [id]: w.count }))} aria-label={`Dismiss: ${w.name} waiting`}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}
