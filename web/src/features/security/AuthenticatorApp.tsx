import { useState, type FormEvent } from 'react';
import QRCode from 'qrcode';
import type { MfaStatus } from '@contracts';
import { request } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { RecoveryCodeAdvice, RecoveryCodeList } from '../auth/RecoveryCodeList.tsx';
import { confirmWithPasskey, passkeyProblem, passkeysSupported } from '../auth/passkeys.ts';

const day = (iso: string | null) => (iso ? new Date(iso).toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' }) : '');

/** The recovery codes of a new second factor, shown once. */
export function RecoveryCodesBox({ codes, lost }: { codes: string[]; lost: string }) {
  return (
    <div className="recovery-box" role="region" aria-labelledby="recovery-h" tabIndex={-1} ref={(el) => el?.focus()}>
      <h3 id="recovery-h">Keep your recovery codes</h3>
      <RecoveryCodeAdvice lost={lost} />
      <RecoveryCodeList codes={codes} />
    </div>
  );
}

/**
 * The authenticator app (TOTP, RFC 6238) on the account page: when it was set up, recovery codes left, and
 * setting up a new phone. Replacing it asks for a code of the current app or a recovery code (the server
 * refuses otherwise), so a session left open on a shared PC cannot swap in someone else's phone.
 */
export function AuthenticatorApp() {
  const status = useAsync((signal) => request<MfaStatus>('GET', '/auth/mfa', undefined, signal), []);
  const [setup, setSetup] = useState<{ secret: string; qr: string } | null>(null);
  const [code, setCode] = useState('');
  const [current, setCurrent] = useState('');
  /** The first second factor of an account is added with its password (the server refuses otherwise). */
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [codes, setCodes] = useState<string[] | null>(null);
  const hasFactor = !!status.data && (status.data.totp || status.data.passkeys > 0);
  /** Confirmed with one of the account's passkeys (step-up): no current code needed. */
  const [confirmed, setConfirmed] = useState(false);
  const needsCode = hasFactor && !confirmed;
  const confirmPasskey = async () => {
    setError(null);
    try {
      await confirmWithPasskey();
      setConfirmed(true);
    } catch (err) {
      setError(passkeyProblem(err));
    }
  };

  const begin = async () => {
    setError(null);
    setCodes(null);
    try {
      const s = await request<{ secret: string; uri: string }>('POST', '/auth/mfa/totp');
      const svg = await QRCode.toString(s.uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
      setSetup({ secret: s.secret, qr: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}` });
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const confirm = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await request<{ recoveryCodes: string[] }>('POST', '/auth/mfa/totp/confirm', {
        code: code.trim(),
        ...(needsCode ? { current: current.trim() } : {}),
        ...(hasFactor ? {} : { password }),
      });
      setCodes(r.recoveryCodes);
      setSetup(null);
      setCode('');
      setCurrent('');
      setPassword('');
      setConfirmed(false);
      status.reload();
    } catch (err) {
      // The server names the field: "current: …" is about the code of the app being replaced.
      setError((err as Error).message.replace(/^current: /, 'Current code: '));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="section" aria-labelledby="totp-h">
      <header className="section-head">
        <h2 id="totp-h">Authenticator app</h2>
      </header>
      <div className="card">
        {status.error ? <ErrorNote error={status.error} onRetry={status.reload} /> : null}
        {!status.data && !status.error ? <Loading label="Loading…" /> : null}
        {status.data ? (
          <p>
            {status.data.totp ? `Set up on ${day(status.data.enrolledAt)}.` : 'No authenticator app is set up.'}{' '}
            <span className="muted">
              {status.data.recoveryCodesLeft} recovery code{status.data.recoveryCodesLeft === 1 ? '' : 's'} left.
            </span>
          </p>
        ) : null}
        {status.data && !setup ? (
          <button type="button" className="btn" onClick={() => void begin()}>
            {status.data.totp ? 'Move to a new phone' : 'Set up an authenticator app'}
          </button>
        ) : null}
        {setup ? (
          <form className="stack-form" onSubmit={(e) => void confirm(e)} aria-label="Set up the new authenticator app">
            <div className="mfa-setup">
              <img src={setup.qr} width={180} height={180} alt="QR code for your new authenticator app" />
              <p className="small muted">
                Can’t scan? Enter this key: <code className="mfa-secret">{setup.secret.replace(/(.{4})/g, '$1 ').trim()}</code>
              </p>
            </div>
            <label className="field">
              <span>Code from the new app</span>
              <input inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required maxLength={6} autoFocus />
            </label>
            {hasFactor && status.data!.passkeys > 0 && passkeysSupported() ? (
              <div className="inline-form">
                <span>{confirmed ? 'Confirmed with your passkey.' : 'Confirm it is you with one of your passkeys,'}</span>
                {confirmed ? null : (
                  <button type="button" className="btn" onClick={() => void confirmPasskey()}>
                    Confirm with a passkey
                  </button>
                )}
              </div>
            ) : null}
            {hasFactor ? null : (
              <label className="field">
                <span>Your password</span>
                <input
                  type="password"
                  autoComplete="current-password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  required
                  maxLength={1024}
                />
              </label>
            )}
            {needsCode ? (
              <label className="field">
                <span>
                  {status.data!.passkeys > 0
                    ? 'Or, instead: a code from your current app, or a recovery code'
                    : 'Code from your current app, or a recovery code'}
                </span>
                <input autoComplete="off" value={current} onChange={(e) => setCurrent(e.target.value)} required maxLength={20} />
              </label>
            ) : null}
            <div className="form-actions">
              <button
                type="submit"
                className="btn btn-primary"
                disabled={busy || code.trim().length !== 6 || (needsCode && current.trim().length < 6) || (!hasFactor && !password)}
              >
                {busy ? 'Checking…' : 'Use the new app'}
              </button>
              <button type="button" className="btn" onClick={() => setSetup(null)}>
                Cancel
              </button>
            </div>
          </form>
        ) : null}
        {error ? (
          <p role="alert" className="form-error">
            {error}
          </p>
        ) : null}
        {codes ? (
          <>
            <p role="status">The new authenticator app is in use; the old one no longer signs you in.</p>
            <RecoveryCodesBox codes={codes} lost="your phone" />
          </>
        ) : null}
      </div>
    </section>
  );
}
