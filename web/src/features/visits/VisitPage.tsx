import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { CopyButton } from '../../components/CopyButton.tsx';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { VitalTile } from '../../components/VitalTile.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { VITALS } from '../../lib/vitals.ts';
import { EcgPanel } from '../patient/EcgPanel.tsx';
import { usePatient } from '../patient/usePatient.ts';
import { signalUrl, tele, type Appointment } from '../messages/teleApi.ts';
import { VisitCall } from './visitCall.ts';
import { VisitView } from './VisitView.tsx';
import { FormError } from '../../components/FormError.tsx';

/** Starts the call object for one page view: camera preview and the signalling socket. */
export function useVisitCall(url: string | null, audioOnly: boolean, protocols?: string[]): VisitCall | null {
  const key = protocols?.join(' '); // by content: a new array each render must not make a new call
  const call = useMemo(() => (url ? new VisitCall(url, { audioOnly, protocols: key?.split(' ') }) : null), [url, audioOnly, key]);
  useEffect(() => {
    if (!call) return;
    void call.startMedia().finally(() => call.connect());
    const bye = () => call.leave();
    window.addEventListener('pagehide', bye);
    return () => {
      window.removeEventListener('pagehide', bye);
      call.leave();
    };
  }, [call]);
  return call;
}

/** The clinician's view of the patient beside the video: live vitals and the latest ECG strip. */
function LiveVitals({ patientId }: { patientId: string }) {
  const patient = usePatient(patientId);
  const p = patient.data;
  if (!p) return patient.error ? <ErrorNote error={patient.error} onRetry={patient.reload} /> : <Loading label="Loading vitals…" />;
  return (
    <>
      <h2 className="visit-side-title">{p.name}: live vitals</h2>
      <div className="tiles tiles-compact">
        {VITALS.map((v) => (
          <VitalTile key={v.key} vital={v} values={v.codes.map((c) => p.latest[c])} />
        ))}
      </div>
      <EcgPanel patientId={p.id} findings={null} />
      <p>
        <a href={`#/patients/${encodeURIComponent(p.id)}`}>Open the full record</a>
      </p>
    </>
  );
}

function StaffTools({ appointment }: { appointment: Appointment }) {
  const [guest, setGuest] = useState('');
  const [invite, setInvite] = useState<{ url: string; expiresAt: string } | null>(null);
  const [summary, setSummary] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const makeInvite = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      setInvite(await tele.invite(appointment.id, guest.trim() || 'Guest'));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const saveSummary = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await tele.summary(appointment.id, summary);
      setSaved('The visit summary is saved in the patient’s record and messages.');
      setSummary('');
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div className="visit-tools">
      <form className="card" onSubmit={makeInvite}>
        <h2>Invite a guest</h2>
        <p className="muted">An interpreter or a family member joins with a one-time link; they wait until you admit them.</p>
        <label>
          Guest’s name <input value={guest} onChange={(e) => setGuest(e.target.value)} maxLength={80} placeholder="e.g. Maria (interpreter)" />
        </label>
        <button type="submit" className="btn">
          Create link
        </button>
        {invite ? (
          <p className="visit-invite">
            <code>{invite.url}</code> <CopyButton text={invite.url} label="Copy link" />
          </p>
        ) : null}
      </form>
      <form className="card" onSubmit={saveSummary}>
        <h2>Visit summary</h2>
        <label htmlFor="visit-summary" className="sr-only">
          Visit summary note
        </label>
        <textarea
          id="visit-summary"
          rows={4}
          value={summary}
          onChange={(e) => setSummary(e.target.value)}
          placeholder="What was discussed, what happens next"
        />
        <button type="submit" className="btn btn-primary" disabled={!summary.trim()}>
          Save summary
        </button>
        {saved ? <p role="status">{saved}</p> : null}
      </form>
      <FormError message={error} tone="inline" />
    </div>
  );
}

/** `#/visits/:id` for a signed-in participant (the patient or their care team). */
export function VisitPage({ appointmentId }: { appointmentId: string }) {
  const info = useAsync((signal) => tele.visit(appointmentId, signal), [appointmentId]);
  const a = info.data?.appointment;
  const call = useVisitCall(a ? signalUrl(appointmentId) : null, a?.mode === 'audio');
  if (info.error)
    return (
      <main className="page">
        <h1>Video visit</h1>
        <ErrorNote error={info.error} onRetry={info.reload} />
      </main>
    );
  if (!a || !call) return <Loading label="Opening your visit…" />;
  const staff = info.data!.you.kind === 'staff';
  const when = new Date(a.start).toLocaleString([], { weekday: 'long', hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'long' });
  const title = staff ? `Video visit with ${a.patientName}` : `Your video visit${a.practitionerName ? ` with ${a.practitionerName}` : ''}, ${when}`;
  return (
    <VisitView
      call={call}
      title={title}
      side={staff ? <LiveVitals patientId={a.patientId} /> : undefined}
      staffTools={staff ? <StaffTools appointment={a} /> : undefined}
    />
  );
}
