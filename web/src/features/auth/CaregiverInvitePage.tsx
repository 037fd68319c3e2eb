import { useEffect, useState, type FormEvent } from 'react';
import type { InvitePreview, Me } from '@contracts';
import { api, ApiError, request } from '../../api/client.ts';
import { Logo } from '../../components/Logo.tsx';
import { LoginPage } from './LoginPage.tsx';
import { NewPasswordFields } from '../../components/NewPasswordFields.tsx';
import { FormError } from '../../components/FormError.tsx';

type Accepted = { email: string; accountCreated: boolean };

/**
 * The link from a patient's invitation email: the family member creates a carer account for the invited
 * address (or signs in to theirs) and accepts; they then see that patient's record, read only.
 */
export function CaregiverInvitePage({ token }: { token: string }) {
  const [preview, setPreview] = useState<InvitePreview | null>(null);
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<Accepted | null>(null);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    request<InvitePreview>('POST', '/caregiver-invites/preview', { token }).then(
      (p) => live && setPreview(p),
      (err: unknown) => live && setError((err as Error).message),
    );
    api.me().then(
      (m) => live && setMe(m),
      () => live && setMe(null),
    );
    return () => {
      live = false;
    };
  }, [token]);

  const accept = async (body: Record<string, string>) => {
    setBusy(true);
    setError(null);
    try {
      const r = await request<Accepted>('POST', '/caregiver-invites/accept', { token, ...body });
      setDone(r);
      window.history.replaceState(null, '', '#/'); // the link is spent
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'That did not work; try again.');
    } finally {
      setBusy(false);
    }
  };
  const create = (e: FormEvent) => {
    e.preventDefault();
    if (password !== again) return setError('The two passwords differ.');
    void accept({ displayName: name.trim(), password });
  };

  if (preview?.hasAccount && me === null && !done) {
    return <LoginPage onSignedIn={(m) => setMe(m)} />;
  }
  return (
    <main className="login">
      <section className="login-card" aria-labelledby="invite-title">
        <Logo size={36} />
        <h1 id="invite-title">{done ? 'Invitation accepted' : 'You are invited'}</h1>
        {done ? (
          <>
            <p role="status">
              {done.accountCreated ? `Your carer account for ${done.email} is ready.` : 'Done.'} You can now see {preview?.invitedBy ?? 'the patient'}’s
              readings and messages. They can stop sharing at any time.
            </p>
            {done.accountCreated && !me ? (
              <a className="btn btn-primary btn-block" href="#/" onClick={() => window.location.reload()}>
                Sign in
              </a>
            ) : (
              <a className="btn btn-primary btn-block" href="#/" onClick={() => window.location.reload()}>
                Continue
              </a>
            )}
          </>
        ) : !preview ? (
          error ? (
            <FormError message={error} />
          ) : (
            <p className="muted" role="status">
              Checking the invitation…
            </p>
          )
        ) : preview.hasAccount ? (
          me && me.email.toLowerCase() === preview.email ? (
            <>
              <p>
                {preview.invitedBy} invited you ({preview.email}) to see their readings and messages from their care team.
              </p>
              <FormError message={error} />
              <button type="button" className="btn btn-primary btn-block" disabled={busy} onClick={() => void accept({})}>
                Accept
              </button>
            </>
          ) : (
            <>
              <p>
                This invitation is for {preview.email}, but you are signed in as {me?.email}.
              </p>
              <button type="button" className="btn btn-block" onClick={() => void api.logout().then(() => setMe(null))}>
                Sign out and use {preview.email}
              </button>
            </>
          )
        ) : (
          <form onSubmit={create} noValidate>
            <p>
              {preview.invitedBy} invited you to see their readings and messages from their care team. Create your carer account for{' '}
              <strong>{preview.email}</strong>:
            </p>
            <label className="field">
              <span>Your name</span>
              <input type="text" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} autoFocus />
            </label>
            <NewPasswordFields
              password={password}
              again={again}
              onPassword={setPassword}
              onAgain={setAgain}
              labels={{ password: 'Choose a password (at least 12 characters)', again: 'Password again' }}
              invalid={!!error}
            />
            <FormError message={error} />
            <button type="submit" className="btn btn-primary btn-block" disabled={busy || !name.trim() || !password || !again}>
              {busy ? 'Creating…' : 'Create my account and accept'}
            </button>
            <p className="muted small">The invitation works until {new Date(preview.expiresAt).toLocaleDateString([], { day: 'numeric', month: 'long' })}.</p>
          </form>
        )}
      </section>
    </main>
  );
}
