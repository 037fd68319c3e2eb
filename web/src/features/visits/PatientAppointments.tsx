import { useState, type FormEvent } from 'react';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { tele, type Appointment } from '../messages/teleApi.ts';
import { FormError } from '../../components/FormError.tsx';

const when = (ms: number) => new Date(ms).toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
/** A `<input type="datetime-local">` value for a time, in the viewer's own zone. */
const localInput = (ms: number) => {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};
const fromLocalInput = (v: string) => new Date(v).toISOString(); // the browser reads it as local time

/**
 * The care team's view of a patient's appointments (on the patient page): what is booked, a visit booked
 * for a time (video or phone), moved to another time or cancelled. The patient is emailed a reminder and
 * sees the change in their portal; the server checks the clinician is free.
 */
export function PatientAppointments({ patientId, patientName }: { patientId: string; patientName: string }) {
  const list = useAsync((signal) => tele.appointments({ patient: patientId, from: new Date(Date.now() - 2 * 3600_000).toISOString() }, signal), [patientId]);
  const [notice, setNotice] = useState<string | null>(null);
  const upcoming = (list.data ?? []).filter((a) => a.status === 'booked' || a.status === 'arrived').sort((a, b) => a.start - b.start);
  const changed = (msg: string) => {
    setNotice(msg);
    list.reload();
  };
  return (
    <div className="card patient-appts">
      {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
      {!list.data && !list.error ? <Loading label="Loading appointments…" /> : null}
      {list.data && upcoming.length === 0 ? <p className="empty-inline">No appointments coming up.</p> : null}
      {upcoming.length ? (
        <ul className="patient-appt-list" aria-label={`Appointments of ${patientName}`}>
          {upcoming.map((a) => (
            <AppointmentRow key={a.id} a={a} onChanged={changed} />
          ))}
        </ul>
      ) : null}
      <p role="status" className="small">
        {notice}
      </p>
      <BookVisit patientId={patientId} onBooked={(a) => changed(`Booked: ${a.mode === 'audio' ? 'phone' : 'video'} visit on ${when(a.start)}.`)} />
    </div>
  );
}

function AppointmentRow({ a, onChanged }: { a: Appointment; onChanged: (msg: string) => void }) {
  const [moving, setMoving] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [start, setStart] = useState(localInput(a.start));
  const [error, setError] = useState<string | null>(null);
  const label = `${a.mode === 'audio' ? 'Phone' : 'Video'} visit ${when(a.start)}`;
  const act = async (fn: () => Promise<Appointment>, msg: (x: Appointment) => string) => {
    setError(null);
    try {
      onChanged(msg(await fn()));
      setMoving(false);
      setConfirming(false);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const moveId = `appt-move-${a.id}`;
  return (
    <li className="patient-appt">
      <span className="patient-appt-when">{when(a.start)}</span>
      <span>
        {a.mode === 'audio' ? 'Phone visit' : 'Video visit'}
        {a.practitionerName ? ` with ${a.practitionerName}` : ''}
      </span>
      <span className="patient-appt-actions">
        <a className="btn btn-sm" href={`#/visits/${encodeURIComponent(a.id)}`} aria-label={`Open ${label}`}>
          Open
        </a>
        {moving ? (
          <form
            className="patient-appt-move"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              void act(
                () => tele.reschedule(a.id, fromLocalInput(start)),
                (x) => `Moved to ${when(x.start)}.`,
              );
            }}
          >
            <label htmlFor={moveId}>New time</label>
            <input id={moveId} type="datetime-local" required value={start} onChange={(e) => setStart(e.target.value)} />
            <button type="submit" className="btn btn-sm btn-primary">
              Save
            </button>
            <button type="button" className="btn btn-sm" onClick={() => setMoving(false)}>
              Keep
            </button>
          </form>
        ) : confirming ? (
          <>
            {/* The safe answer takes the focus: a second Enter does not cancel by accident. Own keys: new buttons, not the old ones relabelled. */}
            <button
              key="yes"
              type="button"
              className="btn btn-sm btn-danger"
              onClick={() =>
                void act(
                  () => tele.cancel(a.id),
                  () => `Cancelled: ${label}.`,
                )
              }
              aria-label={`Yes, cancel the ${label}`}
            >
              Yes, cancel it
            </button>
            <button key="keep" type="button" className="btn btn-sm" autoFocus onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </>
        ) : (
          <>
            <button key="move" type="button" className="btn btn-sm" onClick={() => setMoving(true)} aria-label={`Move ${label}`}>
              Move
            </button>
            <button key="cancel" type="button" className="btn btn-sm" onClick={() => setConfirming(true)} aria-label={`Cancel ${label}`}>
              Cancel
            </button>
          </>
        )}
      </span>
      <FormError message={error} small />
    </li>
  );
}

function BookVisit({ patientId, onBooked }: { patientId: string; onBooked: (a: Appointment) => void }) {
  const [start, setStart] = useState(() => localInput(Math.ceil((Date.now() + 86_400_000) / 900_000) * 900_000));
  const [mode, setMode] = useState<'video' | 'audio'>('video');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      onBooked(await tele.schedule({ patientId, start: fromLocalInput(start), mode }));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form className="patient-appt-book" onSubmit={submit} aria-label="Book a visit">
      <div>
        <label htmlFor="book-start">When</label>
        <input id="book-start" type="datetime-local" required value={start} onChange={(e) => setStart(e.target.value)} />
      </div>
      <div>
        <label htmlFor="book-mode">Kind</label>
        <select id="book-mode" value={mode} onChange={(e) => setMode(e.target.value as 'video' | 'audio')}>
          <option value="video">Video visit</option>
          <option value="audio">Phone (audio only)</option>
        </select>
      </div>
      <button type="submit" className="btn btn-primary">
        Book a visit
      </button>
      <FormError message={error} small />
    </form>
  );
}
