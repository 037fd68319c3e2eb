import { useState, type FormEvent } from 'react';
import type { CaregiverInvite, Consent, ConsentList } from '@contracts';
import { ApiError, request } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useAsync } from '../../lib/useAsync.ts';

const enc = encodeURIComponent;
const privacyApi = {
  consents: (patientId: string, signal?: AbortSignal) => request<ConsentList>('GET', `/patients/${enc(patientId)}/consents`, undefined, signal),
  addCaregiver: (patientId: string, email: string) => request<Consent>('POST', `/patients/${enc(patientId)}/consents`, { kind: 'caregiver', email }),
  invite: (patientId: string, email: string) => request<CaregiverInvite>('POST', `/patients/${enc(patientId)}/caregiver-invites`, { email }),
  invites: (patientId: string, signal?: AbortSignal) => request<CaregiverInvite[]>('GET', `/patients/${enc(patientId)}/caregiver-invites`, undefined, signal),
  withdrawInvite: (id: string) => request<CaregiverInvite>('POST', `/caregiver-invites/${enc(id)}/revoke`),
  revoke: (consentId: string) => request<Consent>('POST', `/consents/${enc(consentId)}/revoke`),
  revokeApp: (patientId: string, clientId: string) => request<unknown>('DELETE', `/patients/${enc(patientId)}/apps/${enc(clientId)}`),
  accessLog: (patientId: string, signal?: AbortSignal) =>
    request<Array<{ id: string; at: string; action: string; outcome: string; who: { name: string; role: string } | null }>>(
      'GET',
      `/patients/${enc(patientId)}/access-log?limit=10`,
      undefined,
      signal,
    ),
};

const day = (iso: string) => new Date(iso).toLocaleDateString([], { day: 'numeric', month: 'long', year: 'numeric' });
/** Audit actions in plain words ("patient.read" → "opened your record"); unknown ones as recorded. */
function plainAction(action: string): string {
  if (action.startsWith('access.refused')) return 'was refused access';
  if (action.startsWith('access.emergency')) return 'opened your record in an emergency';
  if (action === 'patient.export') return 'downloaded your record';
  if (action.startsWith('consent.')) return 'changed who can see your record';
  if (action.endsWith('.read') || action.endsWith('.search') || action.startsWith('read.') || action === 'read') return 'looked at your record';
  // Plain words for the rest, never an event name ("device.provision", found by review).
  if (action.startsWith('device.') || action.startsWith('command.')) return 'set up or used one of your devices';
  if (action.startsWith('visit.') || action.startsWith('appointment.')) return 'worked on your appointments or video visits';
  if (action.startsWith('message.') || action.startsWith('thread.') || action.startsWith('attachment.')) return 'worked on your messages';
  if (action.startsWith('alert')) return 'dealt with an alert about your readings';
  if (action.startsWith('fhir.export')) return 'exported your record';
  return 'updated your record';
}
type LogEntry = { id: string; at: string; action: string; outcome: string; who: { name: string; role: string } | null };
/**
 * One line per minute, person and kind of access: a page load made several identical lines (found by review).
 * The patient's own entries stay, as "You": a look they did not take is how a stolen login shows.
 */
function logLines(entries: LogEntry[]): Array<{ key: string; text: string; times: number }> {
  const out: Array<{ key: string; text: string; times: number }> = [];
  for (const e of entries) {
    const when = new Date(e.at).toLocaleString([], { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
    const who = e.who ? (e.who.role === 'patient' ? 'You' : `${e.who.name} (${e.who.role})`) : 'the system';
    const text = `${when} — ${who} ${plainAction(e.action)}${e.outcome === 'failure' ? ' (refused)' : ''}`;
    const last = out[out.length - 1];
    if (last?.text === text) last.times++;
    else out.push({ key: e.id, text, times: 1 });
  }
  return out;
}
const KIND: Record<string, string> = { 'remote-monitoring': 'Remote monitoring', sharing: 'Sharing with', research: 'Research' };

/**
 * The patient's privacy choices, in plain words (GDPR art. 7, 15, 20; HIPAA §164.524): download their whole
 * record (FHIR file, printable summary), choose who in the family may see it (caregiver consent) and take it
 * back at once, withdraw apps, and see who opened the record lately.
 */
export function PrivacySection({ patientId }: { patientId: string }) {
  const list = useAsync((signal) => privacyApi.consents(patientId, signal), [patientId]);
  const log = useAsync((signal) => privacyApi.accessLog(patientId, signal), [patientId]);
  const invites = useAsync((signal) => privacyApi.invites(patientId, signal), [patientId]);
  const pending = (invites.data ?? []).filter((i) => i.status === 'pending');
  const [email, setEmail] = useState('');
  const [notice, setNotice] = useState<{ text: string; error?: boolean } | null>(null);
  const active = (list.data?.consents ?? []).filter((c) => c.status === 'active');

  // [sec] Someone with a carer account gets access at once; anyone else gets an invitation by email.
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const address = email.trim();
    // Said on the page: the browser's own bubble was easy to miss, and a very long address got no answer at all (found by review).
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address) || address.length > 254)
      return setNotice({ text: 'Please enter an email address, such as name@example.com.', error: true });
    try {
      const c = await privacyApi.addCaregiver(patientId, address);
      setNotice({ text: `${c.grantee?.name ?? c.grantee?.email ?? address} can now see your readings and messages.` });
      setEmail('');
      list.reload();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) return setNotice({ text: (err as Error).message, error: true });
      try {
        await privacyApi.invite(patientId, address);
        setNotice({ text: `We emailed an invitation to ${address}. They can see your record once they accept it.` });
        setEmail('');
        invites.reload();
      } catch (inviteErr) {
        setNotice({ text: `${(err as Error).message}. ${(inviteErr as Error).message}`, error: true });
      }
    }
  };
  const withdraw = async (i: CaregiverInvite) => {
    try {
      await privacyApi.withdrawInvite(i.id);
      setNotice({ text: `The invitation to ${i.email} is withdrawn; its link no longer works.` });
      invites.reload();
    } catch (err) {
      setNotice({ text: (err as Error).message, error: true });
    }
  };
  const revoke = async (c: Consent) => {
    const who = c.grantee?.name ?? c.grantee?.email ?? c.granteeName ?? KIND[c.kind] ?? c.kind;
    if (!confirm(`Stop ${who} seeing your record? This takes effect at once.`)) return;
    try {
      await privacyApi.revoke(c.id);
      setNotice({ text: `${who} can no longer see your record.` });
      list.reload();
    } catch (err) {
      setNotice({ text: (err as Error).message, error: true });
    }
  };
  const revokeApp = async (clientId: string, name: string) => {
    if (!confirm(`Stop the app “${name}” reading your record?`)) return;
    try {
      await privacyApi.revokeApp(patientId, clientId);
      setNotice({ text: `${name} can no longer read your record.` });
      list.reload();
    } catch (err) {
      setNotice({ text: (err as Error).message, error: true });
    }
  };

  return (
    <section aria-labelledby="privacy-h" className="privacy">
      <h2 id="privacy-h" className="self-h2">
        Your record and your privacy
      </h2>
      <div className="card privacy-card">
        <h3>Get a copy of your record</h3>
        <p className="self-note">Everything we hold about you: your details, devices, readings, messages and appointments.</p>
        <p className="privacy-actions">
          <a className="btn btn-primary btn-lg" href={`/api/v1/patients/${enc(patientId)}/export.html`} target="_blank" rel="noopener">
            Open a printable summary
          </a>
          <a className="btn btn-lg" href={`/api/v1/patients/${enc(patientId)}/export.json`} download>
            Download the full record (FHIR file)
          </a>
        </p>
        <p className="self-note">To keep the summary as a PDF, open it and choose Print, then “Save as PDF”.</p>
      </div>

      <div className="card privacy-card">
        <h3>Family and carers who can see your record</h3>
        {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
        {!list.data && !list.error ? <Loading label="Loading…" /> : null}
        {list.data && active.length === 0 ? <p className="self-note">Nobody else can see your record. Your care team always can.</p> : null}
        <ul className="privacy-list">
          {active.map((c) => (
            <li key={c.id}>
              <span>
                {c.kind === 'caregiver' ? (
                  <strong>{c.grantee?.name ?? c.grantee?.email}</strong>
                ) : (
                  <strong>
                    {KIND[c.kind] ?? c.kind}
                    {c.granteeName ? ` ${c.granteeName}` : ''}
                  </strong>
                )}
                {c.kind === 'caregiver' && c.grantee?.email ? ` (${c.grantee.email})` : ''} — since {day(c.createdAt)}
                {c.expiresAt ? `, until ${day(c.expiresAt)}` : ''}
              </span>
              <button type="button" className="btn btn-lg" onClick={() => void revoke(c)}>
                Stop sharing
              </button>
            </li>
          ))}
        </ul>
        {pending.length > 0 ? (
          <ul className="privacy-list" aria-label="Invitations waiting for an answer">
            {pending.map((i) => (
              <li key={i.id}>
                <span>
                  <strong>{i.email}</strong> — invited {day(i.createdAt)}, waiting for an answer until {day(i.expiresAt)}
                </span>
                <button type="button" className="btn btn-lg" onClick={() => void withdraw(i)}>
                  Withdraw invitation
                </button>
              </li>
            ))}
          </ul>
        ) : null}
        <form className="privacy-form" noValidate onSubmit={(e) => void add(e)}>
          <label htmlFor="carer-email">Let a family member or carer see your readings and messages (their email)</label>
          <input id="carer-email" type="email" autoComplete="off" required maxLength={254} value={email} onChange={(e) => setEmail(e.target.value)} />
          <button type="submit" className="btn btn-primary btn-lg">
            Give access
          </button>
        </form>
        <p className="self-note">
          If they have no carer account yet, we email them an invitation (it works once, for 7 days). You can stop sharing at any time; it takes effect at once.
        </p>
        {notice ? (
          <p role={notice.error ? 'alert' : 'status'} className={notice.error ? 'visit-error' : 'self-note'}>
            {notice.text}
          </p>
        ) : null}
      </div>

      {list.data && list.data.apps.length > 0 ? (
        <div className="card privacy-card">
          <h3>Apps you allowed to read your record</h3>
          <ul className="privacy-list">
            {list.data.apps.map((a) => (
              <li key={a.clientId}>
                <span>
                  <strong>{a.name}</strong> — allowed {day(a.lastApprovedAt)}
                </span>
                <button type="button" className="btn btn-lg" onClick={() => void revokeApp(a.clientId, a.name)}>
                  Stop this app
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}

      <div className="card privacy-card">
        <h3>Who looked at your record lately</h3>
        {log.error ? <ErrorNote error={log.error} onRetry={log.reload} /> : null}
        {log.data && log.data.length === 0 ? <p className="self-note">Nobody yet.</p> : null}
        <ul className="privacy-list">
          {logLines(log.data ?? []).map((l) => (
            <li key={l.key}>
              <span>
                {l.text}
                {l.times > 1 ? ` (${l.times} times)` : ''}
              </span>
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}
