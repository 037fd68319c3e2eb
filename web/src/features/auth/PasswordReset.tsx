import { useState, type FormEvent } from 'react';
import { ApiError, request } from '../../api/client.ts';
import { Logo } from '../../components/Logo.tsx';
import { NewPasswordFields } from '../../components/NewPasswordFields.tsx';
import { FormError } from '../../components/FormError.tsx';
import { href } from '../../app/router.ts';

/**
 * "Forgot your password?": asks for a one-time link by email. The answer is the same for any address.
 * `returnTo`: a SMART app's pending request (issue 10): the link opens in another tab, and this one goes back
 * to signing in for the app.
 */
export function ForgotPasswordPage({ returnTo = null }: { returnTo?: string | null }) {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await request<{ message: string }>('POST', '/auth/password-reset', { email: email.trim() });
      setSent(r.message);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 429 ? 'Too many requests for this address. Wait a little and try again.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <form className="login-card" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="forgot-title">
        <Logo size={36} />
        <h1 id="forgot-title">Forgot your password?</h1>
        {sent ? (
          <>
            <div role="status" className="sent-note">
              <p>{sent}</p>
              {returnTo ? <p>The app’s request waits here: once you have chosen a new password, come back to this tab and sign in.</p> : null}
            </div>
            <p className="muted small">Nothing after a few minutes? Check the spam folder, or ask your clinic’s administrator.</p>
          </>
        ) : (
          <>
            <p className="muted">Enter the email address of your account. We’ll send a link to choose a new password.</p>
            <label className="field">
              <span>Email</span>
              <input type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus />
            </label>
            <FormError message={error} />
            <button type="submit" className="btn btn-primary btn-block" disabled={busy || !email.trim()}>
              {busy ? 'Sending…' : 'Send the link'}
            </button>
          </>
        )}
        <a className="link-btn mfa-cancel" href={returnTo ? href({ name: 'sign-in', returnTo }) : '#/'}>
          Back to sign in
        </a>
      </form>
    </main>
  );
}

/** The emailed link: choose a new password (NIST SP 800-63B: 12–128 characters, not a common one). */
export function ResetPasswordPage({ token }: { token: string }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password !== again) return setError('The two passwords differ.');
    setBusy(true);
    setError(null);
    try {
      await request('POST', '/auth/password-reset/confirm', { token, password });
      setDone(true);
      // The link is spent: keep it out of the history.
      window.history.replaceState(null, '', '#/password-changed');
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <form className="login-card" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="reset-title">
        <Logo size={36} />
        <h1 id="reset-title">{done ? 'Password changed' : 'Choose a new password'}</h1>
        {done ? (
          <>
            <p role="status">Your password is changed. Every device that was signed in has been signed out.</p>
            <a className="btn btn-primary btn-block" href="#/">
              Sign in
            </a>
          </>
        ) : (
          <>
            <p className="muted">At least 12 characters. A phrase of several unrelated words is easy to remember and hard to guess.</p>
            <NewPasswordFields
              password={password}
              again={again}
              onPassword={setPassword}
              onAgain={setAgain}
              labels={{ password: 'New password', again: 'New password again' }}
              invalid={!!error}
              autoFocus
            />
            <FormError message={error} />
            <button type="submit" className="btn btn-primary btn-block" disabled={busy || !password || !again}>
              {busy ? 'Saving…' : 'Set the new password'}
            </button>
          </>
        )}
      </form>
    </main>
  );
}
