import { useEffect, useRef, useState, type FormEvent } from 'react';
import QRCode from 'qrcode';
import { api, ApiError } from '../../api/client.ts';
import type { Me } from '@contracts';
import { Logo } from '../../components/Logo.tsx';
import { addPasskey, passkeyApi, passkeyProblem, passkeysSupported, signInWithPasskey } from './passkeys.ts';
import { FormError } from '../../components/FormError.tsx';
import { RecoveryCodeAdvice, RecoveryCodeList } from './RecoveryCodeList.tsx';

/**
 * The second step of signing in (ONC §170.315(d)(13)): the 6-digit code from an authenticator app, or one of
 * the recovery codes. Shown after a correct password when the account has a second factor.
 */
/** `forApp`: signing in for a SMART app's request (issue 10), which the browser goes back to once done. */
export function CodeStep({ me, onDone, onCancel, forApp = false }: { me: Me; onDone: (me: Me) => void; onCancel: () => void; forApp?: boolean }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [factors, setFactors] = useState<{ totp: boolean; passkeys: number } | null>(null);
  const codeInput = useRef<HTMLInputElement>(null);
  // Verify is disabled while checking (focus drops to the page): after a failure, back to the code, selected.
  useEffect(() => {
    if (error) codeInput.current?.select();
  }, [error]);
  useEffect(() => {
    let live = true;
    passkeyApi.status().then(
      (s) => live && setFactors(s),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);
  const passkey = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await signInWithPasskey();
      onDone({ ...r.user, stage: 'full' });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401 && /password first/.test(err.message) ? 'This sign-in took too long. Start again.' : passkeyProblem(err),
      );
      setBusy(false);
    }
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.mfaCode(code.trim());
      onDone({ ...r.user, stage: 'full' });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 429
          ? err.message
          : err instanceof ApiError && err.status === 401 && /password first/.test(err.message)
            ? 'This sign-in took too long. Start again.'
            : 'That code did not work. Codes change every 30 seconds and work once.',
      );
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} noValidate aria-labelledby="mfa-title">
        <Logo size={36} />
        <h1 id="mfa-title">Two-step sign-in</h1>
        {forApp ? <p className="muted">An app asked to use your Vigil account: once you are signed in, you go back to its request.</p> : null}
        {factors && factors.passkeys > 0 && passkeysSupported() ? (
          <>
            <p className="muted">Confirm it’s you, {me.email}, with your passkey.</p>
            <button type="button" className="btn btn-primary btn-block" onClick={() => void passkey()} disabled={busy} autoFocus>
              Use a passkey
            </button>
            <p className="muted small">Or enter {factors.totp ? 'the 6-digit code from your authenticator app or ' : ''}one of your recovery codes:</p>
          </>
        ) : (
          <p className="muted">Enter the 6-digit code from your authenticator app for {me.email}, or one of your recovery codes.</p>
        )}
        <label className="field">
          <span>Code</span>
          <input
            ref={codeInput}
            inputMode="numeric"
            autoComplete="one-time-code"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            required
            autoFocus
            aria-invalid={!!error}
            aria-describedby={error ? 'mfa-error' : undefined}
            maxLength={20}
          />
        </label>
        <FormError message={error} id="mfa-error" />
        <button type="submit" className={`btn btn-block ${factors?.passkeys ? '' : 'btn-primary'}`} disabled={busy || code.trim().length < 6}>
          {busy ? 'Checking…' : 'Verify'}
        </button>
        <button type="button" className="link-btn mfa-cancel" onClick={onCancel}>
          Use another account
        </button>
      </form>
    </main>
  );
}

/**
 * Setting up an authenticator app (required for clinicians and admins): scan the QR code (or type the key),
 * confirm with a first code, then keep the ten recovery codes shown once.
 */
export function EnrolStep({ me, onDone, onCancel, forApp = false }: { me: Me; onDone: (me: Me) => void; onCancel: () => void; forApp?: boolean }) {
  const [setup, setSetup] = useState<{ secret: string; uri: string; qr: string } | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const codeInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (error) codeInput.current?.select();
  }, [error]);

  useEffect(() => {
    let live = true;
    api.mfaBeginTotp().then(
      async (s) => {
        const svg = await QRCode.toString(s.uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
        if (live) setSetup({ ...s, qr: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}` });
      },
      (err: unknown) => live && setError(err instanceof Error ? err.message : 'Could not start the set-up'),
    );
    return () => {
      live = false;
    };
  }, []);

  const passkey = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await addPasskey('Passkey');
      if (r.recoveryCodes) setRecovery(r.recoveryCodes);
      else onDone({ ...me, stage: 'full' });
    } catch (err) {
      setError(passkeyProblem(err));
    } finally {
      setBusy(false);
    }
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.mfaConfirmTotp(code.trim());
      setRecovery(r.recoveryCodes);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'That code did not work');
    } finally {
      setBusy(false);
    }
  };

  if (recovery) {
    return (
      <main className="login">
        <section className="login-card" aria-labelledby="rec-title">
          <Logo size={36} />
          <h1 id="rec-title">Keep your recovery codes</h1>
          <RecoveryCodeAdvice lost="your phone" />
          <RecoveryCodeList codes={recovery} />
          <button type="button" className="btn btn-primary btn-block" onClick={() => onDone({ ...me, stage: 'full' })} autoFocus>
            I have saved them — continue
          </button>
        </section>
      </main>
    );
  }

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} noValidate aria-labelledby="enrol-title">
        <Logo size={36} />
        <h1 id="enrol-title">Set up two-step sign-in</h1>
        {forApp ? <p className="muted">An app asked to use your Vigil account: once this is set up, you go back to its request.</p> : null}
        <p className="muted">
          Clinic accounts need a second step. Scan this code with an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, FreeOTP…),
          then enter the 6-digit code it shows.
        </p>
        {setup ? (
          <div className="mfa-setup">
            <img src={setup.qr} width={180} height={180} alt="QR code for your authenticator app" />
            <p className="small muted">
              Can’t scan? Enter this key: <code className="mfa-secret">{setup.secret.replace(/(.{4})/g, '$1 ').trim()}</code>
            </p>
          </div>
        ) : !error ? (
          <p className="muted" role="status">
            Preparing…
          </p>
        ) : null}
        <label className="field">
          <span>Code from the app</span>
          <input
            ref={codeInput}
            inputMode="numeric"
            autoComplete="one-time-code"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            required
            aria-invalid={!!error}
            aria-describedby={error ? 'enrol-error' : undefined}
            maxLength={6}
          />
        </label>
        <FormError message={error} id="enrol-error" />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy || !setup || code.trim().length !== 6}>
          {busy ? 'Checking…' : 'Turn on two-step sign-in'}
        </button>
        {passkeysSupported() ? (
          <>
            <p className="muted small">Or use this device’s fingerprint, face or screen lock, or a security key:</p>
            <button type="button" className="btn btn-block" onClick={() => void passkey()} disabled={busy}>
              Use a passkey instead
            </button>
          </>
        ) : null}
        <button type="button" className="link-btn mfa-cancel" onClick={onCancel}>
          Sign out
        </button>
      </form>
    </main>
  );
}
