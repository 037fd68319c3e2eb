import { useState, type FormEvent } from 'react';
import { request } from '../../api/client.ts';
import { useAsync } from '../../lib/useAsync.ts';
import { FormError } from '../../components/FormError.tsx';

const enc = encodeURIComponent;
type Grant = { id: string; patientId: string; reason: string; expiresAt: string };
const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * "Break the glass" (ONC §170.315(d)(6)): shown to a clinician whose request for a patient's record was
 * refused (not on the care team). A reason is required; access lasts 60 minutes, every view is recorded,
 * and an admin reviews each grant.
 */
export function BreakGlassPanel({ patientId, onOpened }: { patientId: string; onOpened: () => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await request<Grant>('POST', `/patients/${enc(patientId)}/emergency-access`, { reason: reason.trim() });
      onOpened();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card break-glass" aria-labelledby="break-glass-h">
      <h1 id="break-glass-h" className="page-title">
        Emergency access
      </h1>
      <p>You are not on this patient’s care team, or the record does not exist. In an emergency you can open the record for 60 minutes.</p>
      <p>Say why. Every view is recorded, and an administrator reviews each emergency access.</p>
      <form onSubmit={(e) => void submit(e)}>
        <label htmlFor="break-glass-reason">Reason (at least 10 characters)</label>
        <textarea id="break-glass-reason" rows={3} required minLength={10} maxLength={1000} value={reason} onChange={(e) => setReason(e.target.value)} />
        <button type="submit" className="btn btn-danger" disabled={busy || reason.trim().length < 10}>
          Open the record in an emergency
        </button>
      </form>
      <FormError message={error} tone="inline" />
    </section>
  );
}

/** The banner on a record opened through break-the-glass, for as long as the grant lasts. */
export function EmergencyBanner({ patientId }: { patientId: string }) {
  const grant = useAsync((signal) => request<{ grant: Grant | null }>('GET', `/patients/${enc(patientId)}/emergency-access`, undefined, signal), [patientId]);
  const g = grant.data?.grant;
  if (!g) return null;
  return (
    <div className="emergency-banner" role="status">
      <strong>Emergency access</strong> until {time(g.expiresAt)} — you are not on this patient’s care team. Reason given: “{g.reason}”. Every view is recorded
      and will be reviewed.
    </div>
  );
}
