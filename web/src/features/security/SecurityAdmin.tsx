import { useState, type FormEvent } from 'react';
import { request } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useAsync } from '../../lib/useAsync.ts';

const enc = encodeURIComponent;
type Grant = { id: string; userId: string; patientId: string; reason: string; createdAt: string; expiresAt: string; reviewedAt: string | null };
const when = (iso: string) => new Date(iso).toLocaleString([], { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

/** Admins: the emergency-access review queue ((d)(6)) and patient erasure (GDPR art. 17). */
export function SecurityAdmin() {
  return (
    <>
      <EmergencyReview />
      <Erasure />
    </>
  );
}

function EmergencyReview() {
  const list = useAsync((signal) => request<Grant[]>('GET', '/emergency-access?unreviewed=1', undefined, signal), []);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const review = async (g: Grant) => {
    try {
      await request('POST', `/emergency-access/${enc(g.id)}/review`, { note: notes[g.id] || undefined });
      setNotice(`Emergency access ${g.id} marked reviewed.`);
      list.reload();
    } catch (err) {
      setNotice((err as Error).message);
    }
  };
  return (
    <section className="section" aria-labelledby="review-h">
      <header className="section-head">
        <h2 id="review-h">Emergency access to review</h2>
        <button type="button" className="btn btn-sm" onClick={list.reload}>
          Refresh
        </button>
      </header>
      {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
      {!list.data && !list.error ? <Loading label="Loading…" /> : null}
      {list.data && list.data.length === 0 ? <p className="muted">Nothing to review.</p> : null}
      {list.data && list.data.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Opened</th>
              <th scope="col">By</th>
              <th scope="col">Patient</th>
              <th scope="col">Reason</th>
              <th scope="col">Review</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((g) => (
              <tr key={g.id}>
                <td>
                  {when(g.createdAt)}
                  <br />
                  <span className="muted small">until {when(g.expiresAt)}</span>
                </td>
                <td>{g.userId}</td>
                <td>
                  <a href={`#/patients/${enc(g.patientId)}`}>{g.patientId}</a>
                </td>
                <td>{g.reason}</td>
                <td>
                  <label className="sr-only" htmlFor={`note-${g.id}`}>
                    Review note for {g.id}
                  </label>
                  <input
                    id={`note-${g.id}`}
                    type="text"
                    placeholder="Note (optional)"
                    maxLength={1000}
                    value={notes[g.id] ?? ''}
                    onChange={(e) => setNotes({ ...notes, [g.id]: e.target.value })}
                  />{' '}
                  <button type="button" className="btn btn-sm" onClick={() => void review(g)}>
                    Mark reviewed
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {notice ? (
        <p role="status" className="muted">
          {notice}
        </p>
      ) : null}
    </section>
  );
}

function Erasure() {
  const [patientId, setPatientId] = useState('');
  const [confirm, setConfirm] = useState('');
  const [result, setResult] = useState<{ text: string; error?: boolean } | null>(null);
  const ready = patientId.trim() !== '' && confirm.trim() === patientId.trim();
  const erase = async (e: FormEvent) => {
    e.preventDefault();
    if (!ready) return;
    try {
      const r = await request<{ deleted: Record<string, number>; retained: string[] }>('POST', `/patients/${enc(patientId.trim())}/erase`, {
        confirm: confirm.trim(),
      });
      const counts = Object.entries(r.deleted)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
      setResult({
        text: `Patient ${patientId.trim()} erased: keys shredded; deleted ${counts || 'nothing else'}${r.retained.length ? `; kept under the retention rule: ${r.retained.join(', ')}` : ''}.`,
      });
      setPatientId('');
      setConfirm('');
    } catch (err) {
      setResult({ text: (err as Error).message, error: true });
    }
  };
  return (
    <section className="section" aria-labelledby="erase-h">
      <header className="section-head">
        <h2 id="erase-h">Erase a patient (GDPR art. 17)</h2>
      </header>
      <div className="card">
        <p>
          Erasing shreds the patient’s encryption keys (their messages and attachments become unreadable everywhere, backups included) and deletes their record,
          login, devices and data, except what the clinic keeps under its retention rule. <strong>This cannot be undone.</strong> The audit trail keeps a record
          that it happened.
        </p>
        <form className="erase-form" onSubmit={(e) => void erase(e)}>
          <label htmlFor="erase-id">Patient id</label>
          <input id="erase-id" type="text" autoComplete="off" value={patientId} onChange={(e) => setPatientId(e.target.value)} />
          <label htmlFor="erase-confirm">Type the patient id again to confirm</label>
          <input id="erase-confirm" type="text" autoComplete="off" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
          <button type="submit" className="btn btn-danger" disabled={!ready}>
            Erase this patient
          </button>
        </form>
        {result ? (
          <p role={result.error ? 'alert' : 'status'} className={result.error ? 'visit-error' : ''}>
            {result.text}
          </p>
        ) : null}
      </div>
    </section>
  );
}
