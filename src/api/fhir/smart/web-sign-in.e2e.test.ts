/**
 * Signing in through the web app for a SMART request (issue 10), over real HTTP: the authorize screen and its
 * second step link to GET /oauth/web-sign-in with the request as `return`; signed out or half signed in, that
 * goes to the web app's sign-in (#/sign-in?return=…), fully signed in, back to the request. The return path is
 * the attack surface: only a relative /oauth/authorize path may be a target (no open redirect).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { smartReturnPath } from '../../contracts/index.ts';

const REDIRECT = 'http://127.0.0.1:9/cb';
const PASSWORD = 'a long patient passphrase';

/** Attacker-chosen `return` values: other sites, other schemes, other paths, header injection, tricks browsers normalise. */
const ATTACKS = [
  '//evil.com',
  '///evil.com',
  '////evil.com/oauth/authorize',
  'https://evil.com',
  'https://evil.com/oauth/authorize?x=1',
  'http:evil.com',
  'https:/evil.com',
  '/\\evil.com',
  '\\/evil.com',
  '/\\/evil.com/oauth/authorize',
  '/oauth/authorize\\..\\..\\evil.com',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(document.cookie)',
  ' javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'vbscript:msgbox(1)',
  '%2F%2Fevil.com',
  '/%2F%2Fevil.com',
  '/%5Cevil.com',
  '/oauth/authorize/../../evil.com',
  '/oauth/authorize/..%2F..%2Fevil.com',
  '/oauth/authorize%2F..%2F..%2Fevil.com',
  '/oauth/authorize@evil.com',
  '/oauth/authorizeevil',
  '/oauth/authorize/',
  '/oauth/token',
  '/api/v1/me',
  '/',
  '',
  ' /oauth/authorize',
  '/oauth/authorize ',
  '\t//evil.com',
  '/oauth/authorize?x=1\r\nLocation: https://evil.com',
  '/oauth/authorize?x=1\nSet-Cookie: vigil_session=x',
  '/oauth/authorize#@evil.com',
  '/oauth/authorize?x=1#//evil.com',
  '/oauth/authorize?\u0000//evil.com',
  'https://evil.com\\@localhost/oauth/authorize',
  `/oauth/authorize?${'a'.repeat(9000)}`,
];

describe('SMART sign-in through the web app: return path and redirects', () => {
  let app: TestApp;
  let clientId: string;
  let email: string;
  let patientCookie: string;

  /** An authorization request of this app as the screens get it. */
  const authorizeQuery = () =>
    new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: 'launch/patient openid fhirUser patient/Observation.rs',
      state: 'st8',
      aud: `${app.httpUrl}/fhir/R4`,
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    });
  const get = (url: string, headers: Record<string, string> = {}) => fetch(app.httpUrl + url, { redirect: 'manual', headers });
  const webSignIn = (ret: string, headers: Record<string, string> = {}) => get(`/oauth/web-sign-in?${new URLSearchParams({ return: ret })}`, headers);
  /** The href of the "sign in through the web app" link on a screen. */
  const linkOn = (html: string, label: string) => {
    const m = new RegExp(`<a class="button [a-z]+" href="([^"]+)">${label}</a>`).exec(html);
    return m ? m[1].replace(/&amp;/g, '&') : null;
  };
  const login = async (who: string) => {
    const res = await fetch(`${app.httpUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: who, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    return res.headers.get('set-cookie')!.split(';')[0];
  };

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    const patientId = (await s.patientService.create({ name: 'Wes Web' }, 'system')).id;
    email = `wes-${randomBytes(3).toString('hex')}@test.vigil`;
    await s.auth.createUser({ email, role: 'patient', password: PASSWORD, patientId }, 'system');
    patientCookie = await login(email); // a patient without a second factor: a full session
    const admin = (await app.tokenFor('admin')).token;
    clientId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Web Diary', redirectUris: [REDIRECT] })).body.id;
  });
  afterAll(async () => app && (await app.stop()));

  it('the sign-in screen links to the web app sign-in, which comes back to the same request', async () => {
    const q = authorizeQuery();
    const screen = await get(`/oauth/authorize?${q}`);
    expect(screen.status).toBe(200);
    const html = await screen.text();
    expect(html).toContain('<h2>Other ways to sign in</h2>');
    const href = linkOn(html, 'Sign in with a passkey or your usual Vigil sign-in');
    expect(href).toBe(`/oauth/web-sign-in?${new URLSearchParams({ return: `/oauth/authorize?${q}` })}`);
    // Signed out: to the web app's sign-in, the request carried along.
    const out = await get(href!);
    expect(out.status).toBe(302);
    expect(out.headers.get('cache-control')).toBe('no-store');
    const location = out.headers.get('location')!;
    expect(location.startsWith('/#/sign-in?')).toBe(true);
    expect(new URLSearchParams(location.slice('/#/sign-in?'.length)).get('return')).toBe(`/oauth/authorize?${q}`);
    // Fully signed in (as after the web sign-in): straight back to the request, which shows the consent screen.
    const back = await get(href!, { cookie: patientCookie });
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe(`/oauth/authorize?${q}`);
    const consent = await get(back.headers.get('location')!, { cookie: patientCookie });
    expect(await consent.text()).toContain('<h1>Allow Web Diary?</h1>');
  });

  it('"Not you?" on the consent screen ends that session and asks for a sign-in to the same request (found by review: a shared computer went on as whoever was signed in)', async () => {
    const cookie = await login(email);
    const consent = await (await get(`/oauth/authorize?${authorizeQuery()}`, { cookie })).text();
    expect(consent).toContain('<h1>Allow Web Diary?</h1>');
    expect(consent).toContain('value="switch-account">Sign out and use another account</button>');
    const request = /name="request" value="([^"]+)"/.exec(consent)![1];
    const post = (action: string, headers: Record<string, string> = {}) =>
      fetch(`${app.httpUrl}/oauth/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: app.httpUrl, cookie, ...headers },
        body: new URLSearchParams({ request, action }),
      });
    // Another site cannot sign the user out this way (the form's origin is checked).
    expect((await post('switch-account', { origin: 'https://evil.example' })).status).toBe(403);
    const switched = await post('switch-account');
    expect(switched.status).toBe(200);
    expect(await switched.text()).toContain('<h1>Sign in to Vigil</h1>');
    expect(switched.headers.get('set-cookie')).toMatch(/vigil_session=;/);
    expect((await get('/api/v1/me', { cookie })).status).toBe(401); // that session is over
  });

  it('refuses every return path but a relative /oauth/authorize one, signed in or not (no open redirect)', async () => {
    for (const attack of ATTACKS) {
      expect(smartReturnPath(attack), JSON.stringify(attack)).toBeNull();
      for (const headers of [{}, { cookie: patientCookie }] as Array<Record<string, string>>) {
        const res = await webSignIn(attack, headers);
        expect(res.status, JSON.stringify(attack)).toBe(400);
        expect(res.headers.get('location'), JSON.stringify(attack)).toBeNull();
        const body = await res.text();
        // The screen's own error page, or the request validation's (a NUL character never reaches the route).
        expect(body).toMatch(/This sign-in link is not valid|must not contain NUL/);
        expect(body).not.toMatch(/evil|javascript:|<script>/i);
      }
    }
    // The raw query too (fetch would normalise some of these): backslashes, an encoded CRLF, no return, two returns.
    for (const raw of [
      'return=/%5C/evil.com',
      'return=%2F%2Fevil.com',
      'return=/oauth/authorize%3Fa%0D%0ALocation:%20//evil.com',
      '',
      'return=',
      'return=/oauth/authorize&return=//evil.com',
    ]) {
      for (const headers of [{}, { cookie: patientCookie }] as Array<Record<string, string>>) {
        const res = await get(`/oauth/web-sign-in?${raw}`, headers);
        expect(res.status, raw).toBe(400);
        expect(res.headers.get('location'), raw).toBeNull();
      }
    }
    // What is accepted goes only to this server's /oauth/authorize, signed in or not.
    for (const ok of ['/oauth/authorize', '/oauth/authorize?', '/oauth/authorize?next=//evil.com&x=https://evil.com']) {
      expect(smartReturnPath(ok)).toMatch(/^\/oauth\/authorize(\?|$)/);
      const signedIn = await webSignIn(ok, { cookie: patientCookie });
      expect(signedIn.status).toBe(302);
      expect(signedIn.headers.get('location')).toBe(smartReturnPath(ok));
      expect(new URL(signedIn.headers.get('location')!, app.httpUrl).origin).toBe(app.httpUrl);
      const signedOut = await webSignIn(ok);
      expect(signedOut.headers.get('location')!.startsWith('/#/sign-in?return=%2Foauth%2Fauthorize')).toBe(true);
    }
  });

  it('only a fully signed-in web session goes straight back: a token or a half-finished sign-in goes to the web sign-in', async () => {
    const target = `/oauth/authorize?${authorizeQuery()}`;
    const token = (await app.services.auth.createToken(email, 'diary sync', 'system')).token;
    const withToken = await webSignIn(target, { authorization: `Bearer ${token}` });
    expect(withToken.status).toBe(302);
    expect(withToken.headers.get('location')!.startsWith('/#/sign-in?')).toBe(true);
    // A clinician with a passkey only, after the password: the second step, in the web app (passkeys need script).
    const drEmail = `dr-${randomBytes(3).toString('hex')}@test.vigil`;
    const dr = await app.services.auth.createUser({ email: drEmail, role: 'clinician', password: PASSWORD }, 'system');
    await app.services.db.query(`INSERT INTO webauthn_credentials (id, user_id, public_key, name) VALUES ($1, $2, 'AA', 'Laptop')`, [
      randomBytes(16).toString('base64url'),
      dr.id,
    ]);
    const half = await login(drEmail);
    const second = await webSignIn(target, { cookie: half });
    expect(second.headers.get('location')!.startsWith('/#/sign-in?')).toBe(true);
    // The authorize screen's second step offers the passkey first, and recovery codes (no authenticator app).
    const step = await (await get(target, { cookie: half })).text();
    expect(step).toContain('<h1>Confirm it’s you</h1>');
    expect(linkOn(step, 'Use a passkey')).toBe(`/oauth/web-sign-in?${new URLSearchParams({ return: target })}`);
    expect(step).toContain('One of your recovery codes');
    expect(step).toContain('<label for="code">Code</label>');
    // A clinician who has not set up a second factor: the way to set one up (in the web app), and back.
    const newEmail = `dr-${randomBytes(3).toString('hex')}@test.vigil`;
    await app.services.auth.createUser({ email: newEmail, role: 'clinician', password: PASSWORD }, 'system');
    const enrol = await (await get(target, { cookie: await login(newEmail) })).text();
    expect(enrol).toContain('<h1>Set up two-step sign-in first</h1>');
    expect(linkOn(enrol, 'Set it up in Vigil')).toBe(`/oauth/web-sign-in?${new URLSearchParams({ return: target })}`);
    // Consent stays for the fully signed-in user only: a half-finished sign-in cannot answer it.
    const request = /name="request" value="([^"]+)"/.exec(step)![1];
    const allow = await fetch(`${app.httpUrl}/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: half, origin: app.httpUrl },
      body: new URLSearchParams({ request, action: 'allow' }),
    });
    expect(allow.status).toBe(403);
    expect(allow.headers.get('location')).toBeNull();
  });
});
