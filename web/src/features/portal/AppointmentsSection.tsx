import { useState } from 'react';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { useNow } from '../../lib/clock.ts';
import { tele, type Appointment, type Slot } from '../messages/teleApi.ts';
import { FormError } from '../../components/FormError.tsx';

const JOIN_EARLY_MS = 15 * 60_000; // the Join button appears 15 minutes before the start

function when(a: Appointment): string {
  return new Date(a.start).toLocaleString([], { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' });
}

/** The patient's appointments, plain words: Join when it is time, book a free time, cancel. */
export function AppointmentsSection({ patientId, plain = true }: { patientId: string; plain?: boolean }) {
  const list = useAsync((signal) => tele.appointments({ patient: patientId, from: new Date(Date.now() - 2 * 3600_000).toISOString() }, signal), [patientId]);
  const [booking, setBooking] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const upcoming = (list.data ?? []).filter((a) => a.status === 'booked' || a.status === 'arrived');
  // The shared clock ticks, so the Join button appears on time without a reload (found by review: it never came).
  const now = useNow();
  const cancel = async (a: Appointment) => {
    if (!confirm(`Cancel your appointment on ${when(a)}?`)) return;
    try {
      await tele.cancel(a.id);
      setNotice('Your appointment is cancelled.');
      list.reload();
    } catch (err) {
      setNotice((err as Error).message);
    }
  };
  return (
    <section aria-labelledby="appointments-h">
      <h2 id="appointments-h" className={plain ? 'self-h2' : ''}>
        {plain ? 'Your appointments' : 'Appointments'}
      </h2>
      {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
      {!list.data && !list.error ? <Loading label="Loading appointments…" /> : null}
      {list.data && upcoming.length === 0 ? <p className="self-note">You have no appointments coming up.</p> : null}
      <ul className="appt-list">
        {upcoming.map((a) => {
          const joinable = a.start - JOIN_EARLY_MS <= now && now <= a.end + 30 * 60_000;
          return (
            <li key={a.id} className="appt card">
              <span className="appt-when">{when(a)}</span>
              <span className="appt-what">
                {a.mode === 'audio' ? 'Phone (audio) visit' : 'Video visit'}
                {a.practitionerName ? ` with ${a.practitionerName}` : ''}
              </span>
              <span className="appt-actions">
                {joinable ? (
                  <a className="btn btn-primary btn-xl" href={`#/visits/${encodeURIComponent(a.id)}`}>
                    Join
                  </a>
                ) : (
                  <span className="muted">The Join button appears here 15 minutes before.</span>
                )}
                <button type="button" className="btn btn-lg" onClick={() => void cancel(a)}>
                  Cancel
                </button>
              </span>
            </li>
          );
        })}
      </ul>
      {notice ? (
        <p role="status" className="self-note">
          {notice}
        </p>
      ) : null}
      {booking ? (
        <BookSlot
          onDone={(msg) => {
            setBooking(false);
            setNotice(msg);
            list.reload();
          }}
        />
      ) : (
        <button type="button" className="btn btn-lg" onClick={() => setBooking(true)}>
          Book an appointment
        </button>
      )}
    </section>
  );
}

function BookSlot({ onDone }: { onDone: (message: string) => void }) {
  const slots = useAsync((signal) => tele.slots(signal), []);
  const [error, setError] = useState<string | null>(null);
  const [chosen, setChosen] = useState<Slot | null>(null);
  const free = (slots.data ?? []).filter((s) => s.status === 'free').slice(0, 12);
  const label = (s: Slot) =>
    `${new Date(s.start).toLocaleString([], { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' })} with ${s.practitionerName}`;
  const book = async (id: string) => {
    try {
      const a = await tele.book(id);
      onDone(`Booked: ${when(a)}.`);
    } catch (err) {
      setError((err as Error).message);
      setChosen(null);
      slots.reload();
    }
  };
  // One tap chose and booked at once (found by review): the patient now sees the time and says yes first.
  if (chosen)
    return (
      <div className="card">
        <h3>Book this time?</h3>
        <p className="slot-confirm">{label(chosen)}</p>
        <div className="appt-actions">
          <button type="button" className="btn btn-lg btn-primary" autoFocus onClick={() => void book(chosen.id)}>
            Yes, book it
          </button>
          <button type="button" className="btn btn-lg" onClick={() => setChosen(null)}>
            Choose another time
          </button>
        </div>
      </div>
    );
  return (
    <div className="card">
      <h3>Choose a time</h3>
      {!slots.data ? (
        <Loading label="Finding free times…" />
      ) : free.length === 0 ? (
        <p>There are no free times in the next two weeks. Please send your care team a message.</p>
      ) : null}
      <ul className="slot-list">
        {free.map((s) => (
          <li key={s.id}>
            <button type="button" className="btn btn-lg" onClick={() => setChosen(s)}>
              {label(s)}
            </button>
          </li>
        ))}
      </ul>
      <FormError message={error} tone="inline" />
      <button type="button" className="btn" onClick={() => onDone('')}>
        Close
      </button>
    </div>
  );
}
