import { useMemo, useState, type FormEvent } from 'react';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { tele, type Slot } from '../messages/teleApi.ts';
import { FormError } from '../../components/FormError.tsx';

const pad = (n: number) => String(n).padStart(2, '0');
const today = () => {
  const d = new Date(Date.now() + 86_400_000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
};
const dayOf = (ms: number) => new Date(ms).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
const timeOf = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/**
 * A clinician's open times (`#/schedule`): blocks of availability, cut into slots that patients book in the
 * portal (and staff on the patient page). The next 14 days, by day, each time free or booked.
 */
export function SchedulePage() {
  const slots = useAsync((signal) => tele.slots(signal), []);
  const [day, setDay] = useState(today);
  const [from, setFrom] = useState('09:00');
  const [to, setTo] = useState('12:00');
  const [minutes, setMinutes] = useState(20);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const byDay = useMemo(() => {
    const m = new Map<string, Slot[]>();
    for (const s of [...(slots.data ?? [])].sort((a, b) => a.start - b.start)) m.set(dayOf(s.start), [...(m.get(dayOf(s.start)) ?? []), s]);
    return [...m];
  }, [slots.data]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await tele.addAvailability({ start: new Date(`${day}T${from}`).toISOString(), end: new Date(`${day}T${to}`).toISOString(), slotMinutes: minutes });
      setNotice(`Added ${dayOf(new Date(`${day}T${from}`).getTime())}, ${from}–${to}, in ${minutes}-minute visits.`);
      slots.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main className="page schedule-page">
      <h1 className="page-title">My open times</h1>
      <p className="muted">Patients book these times in their portal; you and your team can also book them on a patient’s page.</p>
      <form className="card schedule-add" onSubmit={submit} aria-label="Add open times">
        <div>
          <label htmlFor="avail-day">Day</label>
          <input id="avail-day" type="date" required value={day} onChange={(e) => setDay(e.target.value)} />
        </div>
        <div>
          <label htmlFor="avail-from">From</label>
          <input id="avail-from" type="time" required value={from} onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div>
          <label htmlFor="avail-to">To</label>
          <input id="avail-to" type="time" required value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <div>
          <label htmlFor="avail-len">Each visit</label>
          <select id="avail-len" value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
            {[10, 15, 20, 30, 45, 60].map((m) => (
              <option key={m} value={m}>
                {m} minutes
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="btn btn-primary">
          Add open times
        </button>
        <FormError message={error} small />
      </form>
      <p role="status" className="small">
        {notice}
      </p>
      <h2>The next two weeks</h2>
      {slots.error ? <ErrorNote error={slots.error} onRetry={slots.reload} /> : null}
      {!slots.data && !slots.error ? <Loading label="Loading your open times…" /> : null}
      {slots.data && byDay.length === 0 ? <p className="empty-inline">No open times in the next two weeks.</p> : null}
      {byDay.map(([d, list]) => (
        <section key={d} className="card schedule-day" aria-label={d}>
          <h3>{d}</h3>
          <ul className="schedule-slots">
            {list.map((s) => (
              <li key={s.id} className={`schedule-slot is-${s.status}`}>
                {timeOf(s.start)} <span className={`pill ${s.status === 'free' ? 'pill-green' : 'pill-grey'}`}>{s.status === 'free' ? 'Free' : 'Booked'}</span>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </main>
  );
}
