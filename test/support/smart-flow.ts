/**
 * The SMART App Launch authorization-code flow over real HTTP, as an app and its user go through it: the
 * authorize screen, sign-in with a password, the second factor (a TOTP recovery code), consent, and the
 * code at the app's redirect URI. Shared by the SMART end-to-end tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import type { TestApp } from './app.ts';
import { CONSENT_MIN_AGE_MS } from '../../src/api/fhir/smart/smart.service.ts';

/** A person reads the consent screen before pressing Allow: sooner is taken for a double-click and asked again. */
export const readConsent = () => new Promise((resolve) => setTimeout(resolve, CONSENT_MIN_AGE_MS + 50));

const JSON_HEADERS = { 'content-type': 'application/json' };

/** An OAuth form POST (application/x-www-form-urlencoded), redirects not followed. */
export const oauthForm = (body: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: 'POST',
  redirect: 'manual' as const,
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(body),
});

/** Enrols TOTP for a user who has a password (clinicians must have a second factor); returns the recovery codes. */
export async function enrolTotp(app: TestApp, email: string, password: string): Promise<string[]> {
  const first = await fetch(`${app.httpUrl}/api/v1/auth/login`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ email, password }) });
  const enrol = first.headers.get('set-cookie')!.split(';')[0];
  const totp = (await (await fetch(`${app.httpUrl}/api/v1/auth/mfa/totp`, { method: 'POST', headers: { cookie: enrol } })).json()) as { secret: string };
  const confirmed = await fetch(`${app.httpUrl}/api/v1/auth/mfa/totp/confirm`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, cookie: enrol },
    body: JSON.stringify({ code: await generate({ secret: totp.secret }) }),
  });
  return ((await confirmed.json()) as { recoveryCodes: string[] }).recoveryCodes;
}

/**
 * The user signs in on the authorize screen (password, then one of `recovery`, which is spent) and allows
 * the app; returns the one-time code and the PKCE verifier the app kept.
 */
export async function authorizeCode(
  app: TestApp,
  o: {
    clientId: string;
    redirectUri: string;
    scope: string;
    email: string;
    password: string;
    recovery: string[];
    patient?: string;
    /** More authorization-request parameters (e.g. an OpenID `nonce`). */
    extra?: Record<string, string>;
  },
): Promise<{ code: string; verifier: string }> {
  const requestId = async (res: Response) => /name="request" value="([^"]+)"/.exec(await res.text())![1];
  const verifier = randomBytes(40).toString('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: o.redirectUri,
    scope: o.scope,
    state: 's',
    aud: `${app.httpUrl}/fhir/R4`,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...o.extra,
  });
  const url = `${app.httpUrl}/oauth/authorize`;
  const screen = await fetch(`${url}?${q}`);
  const signedIn = await fetch(url, oauthForm({ request: await requestId(screen), action: 'sign-in', email: o.email, password: o.password }));
  const cookie1 = signedIn.headers.get('set-cookie')!.split(';')[0];
  const mfa = await fetch(url, oauthForm({ request: await requestId(signedIn), action: 'mfa', code: o.recovery.shift()! }, { cookie: cookie1 }));
  const cookie = mfa.headers.get('set-cookie')!.split(';')[0];
  const consent = await requestId(mfa);
  await readConsent();
  const allowed = await fetch(url, oauthForm({ request: consent, action: 'allow', ...(o.patient ? { patient: o.patient } : {}) }, { cookie }));
  if (allowed.status !== 302) throw new Error(`consent answered ${allowed.status}: ${await allowed.text()}`);
  const at = new URL(allowed.headers.get('location')!);
  for (const [k, v] of new URL(o.redirectUri).searchParams) if (at.searchParams.get(k) !== v) throw new Error(`the redirect lost ${k}=${v}: ${at}`);
  const code = at.searchParams.get('code');
  if (!code) throw new Error(`no code at the redirect: ${allowed.headers.get('location')}`);
  return { code, verifier };
}

/**
 * A clinician who can go through the authorize screens: a password, TOTP enrolled (clinicians must have a
 * second factor; the recovery codes answer it), and `patients` on their care team.
 */
export async function clinicianForSmart(app: TestApp, patients: string[]): Promise<{ email: string; password: string; recovery: string[]; userId: string }> {
  const email = `dr-${randomBytes(3).toString('hex')}@test.vigil`;
  const password = 'correct horse battery';
  const dr = await app.services.auth.createUser({ email, role: 'clinician', password }, 'system');
  for (const p of patients) await app.services.patientService.assignClinician(p, dr.practitionerId!, 'system');
  return { email, password, recovery: await enrolTotp(app, email, password), userId: dr.id };
}
