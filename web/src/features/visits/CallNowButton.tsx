import { useState } from 'react';
import { tele } from '../messages/teleApi.ts';

/**
 * "Call now": a video visit with this patient starting at once (the patient gets a message with the link
 * and a Join button in the portal), then the clinician's visit page. On an alert and on the patient page.
 */
export function CallNowButton({ patientId, reason, className = 'btn btn-primary' }: { patientId: string; reason?: string; className?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const call = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await tele.callNow(patientId, reason);
      location.hash = `#/visits/${encodeURIComponent(r.appointment.id)}`;
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className={className} disabled={busy} onClick={() => void call()}>
        {busy ? 'Calling…' : 'Call now'}
      </button>
      {error ? (
        <span role="alert" className="visit-error small">
          {error}
        </span>
      ) : null}
    </>
  );
}
