import { useEffect, useRef, useState } from 'react';
import type { Appointment } from '@contracts';
import { request } from '../../api/client.ts';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { href, useRoute } from '../../app/router.ts';

interface Waiting {
  patientId: string;
  count: number;
  kinds: string[];
  name?: string;
}

/**
 * Staff hear, on whatever screen they are, that someone waits in a video visit's waiting room: a banner under
 * the top bar with the patient's name and a button to open the visit, announced by screen readers (a polite
 * live region that is always in the page, so additions are read out). It goes when nobody waits any more or
 * when the visit is open. Fed by the live stream's `visit.waiting` (relayed between instances).
 */
export function WaitingRoomNotice() {
  const route = useRoute();
  const [waiting, setWaiting] = useState<Record<string, Waiting>>({});
  const [dismissed, setDismissed] = useState<Record<string, number>>({});
  const asked = useRef(new Set<string>());

  useLiveStream((m) => {
    if (m.type !== 'visit.waiting') return;
    setWaiting((w) => {
      const next = { ...w };
      if (m.waiting > 0) next[m.appointmentId] = { ...w[m.appointmentId], patientId: m.patientId, count: m.waiting, kinds: m.kinds };
      else delete next[m.appointmentId];
      return next;
    });
  });

  // The name comes from the appointment (read once per visit, like any screen that shows it).
  useEffect(() => {
    for (const id of Object.keys(waiting)) {
      if (asked.current.has(id)) continue;
      asked.current.add(id);
      request<Appointment>('GET', `/appointments/${encodeURIComponent(id)}`).then(
        (a) => setWaiting((w) => (w[id] ? { ...w, [id]: { ...w[id], name: a.patientName } } : w)),
        () => asked.current.delete(id),
      );
    }
  }, [waiting]);

  const shown = Object.entries(waiting).filter(
    ([id, w]) => !(route.name === 'visit' && route.id === id) && (dismissed[id] ?? 0) < w.count && w.name !== undefined,
  );
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
