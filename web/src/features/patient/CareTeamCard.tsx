import { useState, type FormEvent } from 'react';
import type { User } from '@contracts';
import { request } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useAsync } from '../../lib/useAsync.ts';

/**
 * The patient's care team, for admins: who may see and act for this patient. Adding and removing are audited
 * (`careteam.add`, `careteam.remove`); a removed clinician loses the patient at once (open dashboards within 30 s).
 */
export function CareTeamCard({
  patientId,
  patientName,
  team,
  onChanged,
}: {
  patientId: string;
  patientName: string;
  team: Array<{ id: string; name: string }>;
  onChanged: () => void;
}) {
  const users = useAsync((signal) => request<User[]>('GET', '/users', undefined, signal), []);
  const [adding, setAdding] = useState('');
  const [note, setNote] = useState<{ text: string; error?: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const clinicians = (users.data ?? []).filter((u) => u.practitionerId && !u.disabled && !team.some((t) => t.id === u.practitionerId));

  const act = async (what: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setNote(null);
    try {
      await what();
      setNote({ text: done });
      onChanged();
    } catch (err) {
      setNote({ text: (err as Error).message, error: true });
    } finally {
      setBusy(false);
    }
  };
  const add = (e: FormEvent) => {
    e.preventDefault();
    const who = clinicians.find((u) => u.practitionerId === adding);
    if (!who) return;
    void act(
      () => request('POST', `/patients/${encodeURIComponent(patientId)}/care-team`, { practitionerId: adding }),
      `${who.displayName} joined the care team.`,
    ).then(() => setAdding(''));
  };
  const remove = (m: { id: string; name: string }) => {
    if (!window.confirm(`Remove ${m.name} from ${patientName}'s care team? They will no longer see this patient.`)) return;
    void act(() => request('DELETE', `/patients/${encodeURIComponent(patientId)}/care-team/${encodeURIComponent(m.id)}`), `${m.name} left the care team.`);
  };

  return (
    <div className="card care-team">
      {team.length === 0 ? <p className="muted">Nobody is on this patient's care team yet: only admins see them.</p> : null}
      {team.length ? (
        <ul className="care-team-list">
          {team.map((m) => (
            <li key={m.id}>
              <span>{m.name}</span>
              <button type="button" className="btn btn-sm" onClick={() => remove(m)} disabled={busy} aria-label={`Remove ${m.name} from the care team`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {users.error ? <ErrorNote error={users.error} onRetry={users.reload} /> : null}
      {!users.data && !users.error ? <Loading label="Loading clinicians…" /> : null}
      {users.data ? (
        <form className="inline-form" onSubmit={add}>
          <label htmlFor="care-team-add">Add a clinician</label>
          <select id="care-team-add" value={adding} onChange={(e) => setAdding(e.target.value)}>
            <option value="">Choose…</option>
            {clinicians.map((u) => (
              <option key={u.id} value={u.practitionerId!}>
                {u.displayName} ({u.email})
              </option>
            ))}
          </select>
          <button type="submit" className="btn btn-primary" disabled={busy || !adding}>
            Add
          </button>
        </form>
      ) : null}
      {note ? (
        <p role={note.error ? 'alert' : 'status'} className={note.error ? 'form-error' : 'muted'}>
          {note.text}
        </p>
      ) : null}
    </div>
  );
}
