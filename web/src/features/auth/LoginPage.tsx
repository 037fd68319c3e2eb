import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from '../../api/client.ts';
import type { DemoInfo, Me } from '@contracts';
import { Logo } from '../../components/Logo.tsx';
import { passkeyProblem, passkeysSupported, signInWithPasskey } from './passkeys.ts';
import { FormError } from '../../components/FormError.tsx';
import { href } from '../../app/router.ts';

/**
 * `returnTo`: signing in for a SMART app's request (issue 10); the app comes back once signed in, and a forgotten
 * password keeps the request (the reset page's "Back to sign in" returns here with it).
 */
export function LoginPage({ onSignedIn, returnTo = null }: { onSignedIn: (me: Me) => void; returnTo?: string | null }) {
  const forApp = !!returnTo;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [demo, setDemo] = useState<DemoInfo | null>(null);
  const passwordInput = useRef<HTMLInputElement>(null);
  // The Sign in button is disabled while checking, which drops focus to the page: after a failure it goes
  // back to the password, selected, ready to retype (found by review: keyboard users had to start over).
  useEffect(() => {
    if (error) passwordInput.current?.select();
  }, [error]);

  useEffect(() => {
    let live = true;
    void api.demo().then((d) => live && setDemo(d && Array.isArray(d.logins) && d.logins.length ? d : null));
    return () => {
      live = false;
    };
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user, stage } = await api.login(email.trim(), password);
      onSignedIn({ ...user, stage: stage ?? 'full' });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 400))
        setError('That email and password don’t match an account. Check them and try again.');
      else if (err instanceof ApiError && err.status === 429) setError('Too many attempts. Wait a minute and try again.');
      else setError(err instanceof Error ? err.message : 'Sign-in failed');
      setBusy(false);
    }
  };

  // A discoverable passkey signs in without a password (it verifies the person: PIN or biometric).
  const passkey = async () => {
    setBusy(true);
    setError(null);
    try {
      const { user } = await signInWithPasskey();
      onSignedIn({ ...user, stage: 'full' });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That passkey was not accepted. Sign in with your password instead.' : passkeyProblem(err));
      setBusy(false);
    }
  };

  const fill = (l: { email: string; password: string }) => {
    setEmail(l.email);
    setPassword(l.password);
    setError(null);
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} noValidate aria-describedby={forApp ? 'for-app' : undefined}>
        <Logo size={36} />
        <h1>Sign in</h1>
        {forApp ? (
          <p className="muted" id="for-app">
            An app asked to use your Vigil account. Sign in any way you usually do; then you go back to the app’s request.
          </p>
        ) : (
          <p className="muted">Remote patient monitoring</p>
        )}
        <label className="field">
          <span>Email</span>
          <input type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus aria-invalid={!!error} />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            ref={passwordInput}
            type="password"
            aria-describedby={error ? 'login-error' : undefined}
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            aria-invalid={!!error}
          />
        </label>
        <FormError message={error} id="login-error" />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy || !email || !password}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {passkeysSupported() ? (
          <button type="button" className="btn btn-block passkey-btn" onClick={() => void passkey()} disabled={busy}>
            Sign in with a passkey
          </button>
        ) : null}
        <a className="link-btn mfa-cancel" href={href({ name: 'forgot-password', returnTo })}>
          Forgot your password?
        </a>
        {demo ? (
          <div className="demo-hint">
            <span className="muted">Demo logins (click to fill in):</span>
            <ul>
              {demo.logins.map((l) => (
                <li key={l.email}>
                  <button type="button" className="link-btn" onClick={() => fill(l)}>
                    {l.email}
                  </button>
                  <span className="muted"> / </span>
                  <code>{l.password}</code>
                  {l.role ? <span className="muted small"> · {l.role}</span> : null}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </form>
    </main>
  );
}
