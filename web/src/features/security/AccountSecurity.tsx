import { useState, type FormEvent } from 'react';
import type { Passkey, SessionInfo } from '@contracts';
import { request } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { addPasskey, confirmWithPasskey, passkeyApi, passkeyProblem, passkeysSupported } from '../auth/passkeys.ts';
import { AuthenticatorApp, RecoveryCodesBox } from './AuthenticatorApp.tsx';

const when = (iso: string | null) =>
  iso ? new Date(iso).toLocaleString([], { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' }) : 'never';
type Note = { text: string; error?: boolean } | null;
const NoteLine = ({ note }: { note: Note }) =>
  note ? (
    <p role={note.error ? 'alert' : 'status'} className={note.error ? 'form-error' : 'muted'}>
      {note.text}
    </p>
  ) : null;

/** My account's security (ONC §170.315(d)(13), NIST SP 800-63B): authenticator app, passkeys, password, where I am signed in. */
export function AccountSecurity() {
  const [factorChanges, setFactorChanges] = useState(0);
  return (
    <main className="page account-page">
      <h1>Account security</h1>
      {/* A passkey added or removed changes the recovery codes the authenticator card counts: it reloads. */}
      <AuthenticatorApp key={factorChanges} />
      <Passkeys onChanged={() => setFactorChanges((n) => n + 1)} />
      <PasswordChange />
      <Sessions />
    </main>
  );
}

function Passkeys({ onChanged }: { onChanged: () => void }) {
  const list = useAsync(() => passkeyApi.list(), []);
  const status = useAsync(() => passkeyApi.status(), []);
  // Adding or removing a passkey asks for a code of the second factor the account already has (the server refuses otherwise).
  const needsCode = !!status.data && (status.data.totp || status.data.passkeys > 0);
  const [current, setCurrent] = useState('');
  /** The first second factor of an account is added with its password (the server refuses otherwise). */
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<Note>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  /** Confirmed with a current passkey (step-up): the next add or remove needs no code. */
  const [confirmed, setConfirmed] = useState(false);
  const proof = () => (current.trim() ? current.trim() : undefined);
  const confirm = async () => {
    setNote(null);
    try {
      const r = await confirmWithPasskey();
      setConfirmed(true);
      setNote({ text: `Confirmed. You can add or remove one passkey in the next ${Math.round(r.validSeconds / 60)} minutes.` });
    } catch (err) {
      setNote({ text: passkeyProblem(err), error: true });
    }
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setNote(null);
    try {
      const r = await addPasskey(name || 'Passkey', needsCode ? { current: proof() } : { password });
      setCurrent('');
      setPassword('');
      setConfirmed(false);
      status.reload();
      setNote({ text: `Passkey “${r.passkey.name}” added. Next time, sign in with it.` });
      setCodes(r.recoveryCodes);
      setName('');
      list.reload();
      onChanged();
    } catch (err) {
      setNote({ text: passkeyProblem(err), error: true });
    } finally {
      setBusy(false);
    }
  };
  const remove = async (k: Passkey) => {
    if (!window.confirm(`Remove the passkey “${k.name}”? It will no longer sign you in.`)) return;
    try {
      await passkeyApi.remove(k.id, needsCode ? proof() : undefined);
      setCurrent('');
      setConfirmed(false);
      setNote({ text: `Passkey “${k.name}” removed.` });
      list.reload();
      onChanged();
    } catch (err) {
      setNote({ text: (err as Error).message, error: true });
    }
  };
  return (
    <section className="section" aria-labelledby="passkeys-h">
      <header className="section-head">
        <h2 id="passkeys-h">Passkeys</h2>
      </header>
      <div className="card">
        <p className="muted">
          A passkey signs you in with this device’s fingerprint, face or screen lock, or a security key — no code to type, and it cannot be phished.
        </p>
        {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
        {!list.data && !list.error ? <Loading label="Loading passkeys…" /> : null}
        {list.data && list.data.length === 0 ? <p>No passkeys yet.</p> : null}
        {list.data && list.data.length > 0 ? (
          <table className="table passkey-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Added</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((k) => (
                <tr key={k.id}>
                  <td>
                    {k.name}
                    {k.backedUp ? <span className="muted small"> · synced</span> : null}
                  </td>
                  <td>{when(k.createdAt)}</td>
                  <td>{when(k.lastUsedAt)}</td>
                  <td>
                    <button type="button" className="btn btn-sm" onClick={() => void remove(k)} aria-label={`Remove passkey ${k.name}`}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {needsCode && status.data!.passkeys > 0 && passkeysSupported() ? (
          <div className="inline-form">
            <span>To add or remove a passkey, first confirm it is you:</span>
            <button type="button" className="btn" onClick={() => void confirm()} disabled={confirmed}>
              {confirmed ? 'Confirmed' : 'Confirm with a passkey'}
            </button>
          </div>
        ) : null}
        {needsCode && !confirmed ? (
          <label className="field">
            <span>{status.data!.passkeys > 0 ? 'Or, instead: ' : 'To add or remove a passkey: '}a code from your authenticator app, or a recovery code</span>
            <input autoComplete="off" value={current} onChange={(e) => setCurrent(e.target.value)} maxLength={20} />
          </label>
        ) : null}
        {status.data && !needsCode && passkeysSupported() ? (
          <label className="field">
            <span>Your password (to add the first passkey)</span>
            <input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} maxLength={1024} />
          </label>
        ) : null}
        {passkeysSupported() ? (
          <form className="inline-form" onSubmit={(e) => void add(e)}>
            <label htmlFor="passkey-name">Name for the new passkey</label>
            <input id="passkey-name" type="text" maxLength={60} placeholder="e.g. Work laptop" value={name} onChange={(e) => setName(e.target.value)} />
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? 'Waiting for the device…' : 'Add a passkey'}
            </button>
          </form>
        ) : (
          <p className="muted">This browser does not support passkeys.</p>
        )}
        <NoteLine note={note} />
        {codes ? <RecoveryCodesBox codes={codes} lost="your passkey" /> : null}
      </div>
    </section>
  );
}

function PasswordChange() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [note, setNote] = useState<Note>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (next !== again) return setNote({ text: 'The two new passwords differ.', error: true });
    setBusy(true);
    setNote(null);
    try {
      await request('POST', '/auth/password', { current, next });
      setNote({ text: 'Password changed. Your other sessions were signed out.' });
      setCurrent('');
      setNext('');
      setAgain('');
    } catch (err) {
      setNote({ text: (err as Error).message, error: true });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="section" aria-labelledby="password-h">
      <header className="section-head">
        <h2 id="password-h">Password</h2>
      </header>
      <form className="card stack-form" onSubmit={(e) => void submit(e)}>
        <label className="field">
          <span>Current password</span>
          <input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        </label>
        <label className="field">
          <span>New password (at least 12 characters; a phrase of several words is easiest)</span>
          <input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required maxLength={128} />
        </label>
        <label className="field">
          <span>New password again</span>
          <input type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} required maxLength={128} />
        </label>
        <button type="submit" className="btn btn-primary" disabled={busy || !current || !next || !again}>
          {busy ? 'Changing…' : 'Change password'}
        </button>
        <NoteLine note={note} />
      </form>
    </section>
  );
}

function Sessions() {
  const list = useAsync((signal) => request<SessionInfo[]>('GET', '/auth/sessions', undefined, signal), []);
  const [note, setNote] = useState<Note>(null);
  const others = async () => {
    try {
      const r = await request<{ ended: number }>('POST', '/auth/logout-everywhere', { keepThis: true });
      setNote({ text: `${r.ended} other session${r.ended === 1 ? '' : 's'} signed out.` });
      list.reload();
    } catch (err) {
      setNote({ text: (err as Error).message, error: true });
    }
  };
  return (
    <section className="section" aria-labelledby="sessions-h">
      <header className="section-head">
        <h2 id="sessions-h">Where you are signed in</h2>
        <button type="button" className="btn btn-sm" onClick={() => void others()}>
          Sign out everywhere else
        </button>
      </header>
      {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
      {list.data ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Signed in</th>
              <th scope="col">Last active</th>
              <th scope="col">Address</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((s) => (
              <tr key={s.id}>
                <td>
                  {when(s.createdAt)}
                  {s.current ? <strong> · this session</strong> : null}
                </td>
                <td>{when(s.lastSeenAt)}</td>
                <td>{s.ip ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <NoteLine note={note} />
    </section>
  );
}
