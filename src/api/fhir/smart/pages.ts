import type { Principal } from '../../../domain/types.ts';
import type { Patient } from '../../../store/patients.repository.ts';
import { parseScope } from '../../../auth/smart-scopes.ts';

/**
 * The SMART sign-in and consent screens: plain, accessible HTML forms (labels, headings, no script). Passkeys
 * (WebAuthn needs script) and setting up a second factor go through the web app's sign-in, which returns here.
 */

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b2530}
main{max-width:30rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 2px 12px #0002}
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=email],input[type=password],input#code{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #8a97a6;border-radius:6px;font:inherit}
button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #1f5fa8;margin:1rem .5rem 0 0;cursor:pointer}
.primary{background:#1f5fa8;color:#fff}.secondary{background:#fff;color:#1f5fa8}.error{color:#a4001d;font-weight:600}
fieldset{border:1px solid #c9d2dc;border-radius:6px;margin-top:1rem}button.link{border:0;background:none;padding:0;margin:0;color:#1f5fa8;text-decoration:underline}ul{padding-left:1.2rem}
h2{font-size:1.05rem;margin:1.8rem 0 .4rem;padding-top:1.2rem;border-top:1px solid #dde3ea}
a.button{display:inline-block;text-decoration:none;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #1f5fa8}
a{color:#1f5fa8}.web-sign-in{margin:.8rem 0 .3rem}.note{color:#4a5866;font-size:.9rem;margin:.2rem 0}`;

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)} · Vigil</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;

const alert = (message?: string) => (message ? `<p class="error" role="alert">${esc(message)}</p>` : '');

/**
 * The way to the web app's own sign-in (passkeys alone or after the password, the second step, setting one up),
 * which brings the browser back to this authorization request: `GET /oauth/web-sign-in?return=…` (smart.routes.ts).
 */
const webSignIn = (href: string, label: string, note: string, primary = false) =>
  `<p class="web-sign-in"><a class="button ${primary ? 'primary' : 'secondary'}" href="${esc(href)}">${esc(label)}</a></p><p class="note">${esc(note)}</p>`;

/** `webSignInHref`: the link to the web app's sign-in that returns to this request. */
/** `forgotHref`: the web app's "Forgot your password?", which keeps this request (its "Back to sign in" returns to it). */
export function signInPage(o: { app: string; requestId: string; webSignInHref: string; forgotHref: string; message?: string }) {
  return page(
    'Sign in',
    `<h1>Sign in to Vigil</h1><p><strong>${esc(o.app)}</strong> wants to use your Vigil account.</p>${alert(o.message)}
<form method="post" action="/oauth/authorize"><input type="hidden" name="request" value="${esc(o.requestId)}"><input type="hidden" name="action" value="sign-in">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="primary" type="submit">Sign in</button></form>
<p class="note"><a href="${esc(o.forgotHref)}">Forgot your password?</a></p>
<h2>Other ways to sign in</h2>
${webSignIn(o.webSignInHref, 'Sign in with a passkey or your usual Vigil sign-in', `Opens the Vigil sign-in, then brings you back here to answer ${o.app}.`)}`,
  );
}

/**
 * The second step after the password. `factors`: what the account has; with passkeys, the way to use one (in
 * the web app's sign-in, which returns here) comes first, and the code form stays for the authenticator app
 * and recovery codes.
 */
export function mfaPage(o: { app: string; requestId: string; webSignInHref: string; factors: { totp: boolean; passkeys: number }; message?: string }) {
  const form = `<form method="post" action="/oauth/authorize"><input type="hidden" name="request" value="${esc(o.requestId)}"><input type="hidden" name="action" value="mfa">
<label for="code">Code</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
<button class="${o.factors.passkeys ? 'secondary' : 'primary'}" type="submit">Continue</button></form>`;
  if (o.factors.passkeys > 0)
    return page(
      'Two-step sign-in',
      `<h1>Confirm it’s you</h1><p>Your account signs in with a passkey. Use it to continue to <strong>${esc(o.app)}</strong>.</p>${alert(o.message)}
${webSignIn(o.webSignInHref, 'Use a passkey', 'Opens the Vigil sign-in to use your passkey, then brings you back here.', true)}
<h2>Or enter a code</h2><p>${o.factors.totp ? 'The code from your authenticator app for Vigil, or one of your recovery codes.' : 'One of your recovery codes (each works once).'}</p>
${form}`,
    );
  return page(
    'Two-step sign-in',
    `<h1>Enter your sign-in code</h1><p>Open your authenticator app and enter the code for Vigil (or a recovery code) to continue to <strong>${esc(o.app)}</strong>.</p>${alert(o.message)}
${form}
<p class="note"><a href="${esc(o.webSignInHref)}">Use the Vigil sign-in instead</a> (it brings you back here).</p>`,
  );
}

/** Signed in with a password, but the account must set up a second factor first: in the web app, which returns here. */
export function enrolPage(o: { app: string; webSignInHref: string }) {
  return page(
    'Set up two-step sign-in',
    `<h1>Set up two-step sign-in first</h1><p>Your account needs a second sign-in factor (a passkey or an authenticator app) before <strong>${esc(o.app)}</strong> can use it.</p>
${webSignIn(o.webSignInHref, 'Set it up in Vigil', 'Opens Vigil to set up a passkey or an authenticator app, then brings you back here.', true)}`,
  );
}

function describe(scope: string): string {
  if (scope === 'openid' || scope === 'fhirUser') return 'Know who you are (your name and Vigil identity)';
  if (scope === 'launch/patient' || scope === 'launch') return 'Know which patient record it is opened for';
  if (scope === 'offline_access') return 'Keep access after you close it (until you revoke it)';
  if (scope === 'online_access') return 'Keep access while you use it';
  const g = parseScope(scope);
  if (!g) return scope;
  const what = g.type === '*' ? 'all records' : `${g.type} records`;
  const verbs = [g.read || g.search ? 'read' : '', g.create ? 'add' : '', g.update ? 'change' : ''].filter(Boolean);
  const said = verbs.length ? verbs.slice(0, -1).join(', ') + (verbs.length > 1 ? ' and ' : '') + verbs.at(-1) : 'use';
  return `${said[0].toUpperCase()}${said.slice(1)} ${what} ${g.context === 'patient' ? 'of the chosen patient' : 'you can see'}`;
}

/**
 * `choosesPatient`: staff pick the patient to share (auth/access.ts decides); a patient's app opens on themself.
 * No patient is ticked in advance (a hurried Allow must not share whoever is first); Deny needs no choice.
 */
export function consentPage(o: {
  app: string;
  scopes: string[];
  requestId: string;
  user: Principal;
  choosesPatient: boolean;
  patients: Patient[];
  /** Kept when the screen is shown again (only if it is one of `patients`). */
  chosen?: string;
  launchPatient?: Patient;
  message?: string;
}) {
  const needsPatient = o.choosesPatient && (o.scopes.includes('launch/patient') || o.scopes.some((s) => s.startsWith('patient/')));
  const picker = needsPatient
    ? `<fieldset><legend>Patient to share</legend>${o.patients.length ? o.patients.map((p) => `<label><input type="radio" name="patient" value="${esc(p.id)}"${p.id === o.chosen ? ' checked' : ''} required> ${esc(p.name)}${p.birthDate ? ` (born ${esc(p.birthDate)})` : ''}</label>`).join('') : '<p>You have no patients to share.</p>'}</fieldset>`
    : '';
  const launched = o.launchPatient
    ? `<p>Opened from Vigil for <strong>${esc(o.launchPatient.name)}</strong>${o.launchPatient.birthDate ? ` (born ${esc(o.launchPatient.birthDate)})` : ''}.</p>`
    : '';
  return page(
    'Allow access',
    `<h1>Allow ${esc(o.app)}?</h1><p>Signed in as ${esc(o.user.displayName)} (${esc(o.user.email)}).</p>${launched}${alert(o.message)}
<p>${esc(o.app)} will be able to:</p><ul>${o.scopes.map((s) => `<li>${esc(describe(s))} <code>${esc(s)}</code></li>`).join('')}</ul>
<form method="post" action="/oauth/authorize"><input type="hidden" name="request" value="${esc(o.requestId)}">${picker}
<button class="primary" type="submit" name="action" value="allow">Allow</button><button class="secondary" type="submit" name="action" value="deny" formnovalidate>Deny</button></form>
<form method="post" action="/oauth/authorize" class="note"><input type="hidden" name="request" value="${esc(o.requestId)}"><p>Not ${esc(o.user.displayName)}? <button class="link" type="submit" name="action" value="switch-account">Sign out and use another account</button></p></form>`,
  );
}

export function errorPage(message: string) {
  return page('Cannot continue', `<h1>Cannot continue</h1><p class="error" role="alert">${esc(message)}</p>`);
}
