import { useState, type FormEvent } from 'react';
import { Logo } from '../../components/Logo.tsx';
import { guestProtocols, signalUrl, tele } from '../messages/teleApi.ts';
import { useVisitCall } from './VisitPage.tsx';
import { VisitView } from './VisitView.tsx';
import { FormError } from '../../components/FormError.tsx';

const passKey = (id: string) => `vigil-guest-pass:${id}`;

/**
 * `#/join/:appointmentId/:token`: a guest (interpreter, family member) with a one-time link and no account.
 * The link is exchanged once for a pass kept in this tab (so a reload rejoins), then the visit's lobby.
 */
export function GuestVisitPage({ appointmentId, token }: { appointmentId: string; token: string }) {
  const [pass, setPass] = useState<string | null>(() => sessionStorage.getItem(passKey(appointmentId)));
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const call = useVisitCall(pass ? signalUrl(appointmentId) : null, false, pass ? guestProtocols(pass) : undefined);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await tele.guestPass(appointmentId, token, name.trim());
      sessionStorage.setItem(passKey(appointmentId), r.pass);
      setPass(r.pass);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  if (pass && call) return <VisitView call={call} title="Video visit (guest)" />;
  return (
    <main className="page self guest-join">
      <Logo />
      <h1>Join a video visit</h1>
      <p>You have been invited to a video visit. Type your name so the care team knows who you are.</p>
      <form onSubmit={submit} className="card">
        <label htmlFor="guest-name">Your name</label>
        <input id="guest-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={80} autoComplete="name" required />
        <button type="submit" className="btn btn-primary btn-xl" disabled={busy || !name.trim()}>
          Continue
        </button>
        <FormError message={error} tone="inline" />
      </form>
    </main>
  );
}
