/**
 * A hostile SMART app (issue 10 re-check): what its token must not reach beyond its scopes, and what a
 * replayed refresh token must end. Real app, real authorization-code + PKCE flow over HTTP.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { authorizeCode, clinicianForSmart, oauthForm, readConsent } from '../../../../test/support/smart-flow.ts';

const REDIRECT = 'http://127.0.0.1:9/cb';

describe('SMART tokens under attack', () => {
  let app: TestApp;
  let clientId: string;
  let email: string;
  let password: string;
  let recovery: string[];
  let a: string;

  const get = async (token: string, url: string) => {
    const res = await fetch(app.httpUrl + url, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  };
  const token = async (form: Record<string, string>) => {
    const res = await fetch(`${app.httpUrl}/oauth/token`, oauthForm(form));
    return { status: res.status, body: (await res.json()) as any };
  };
  /** An authorization request of this app as the screens get it (no aud unless given; a challenge nobody redeems). */
  const authorizeQuery = (extra: Record<string, string>) =>
    new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: 'launch/patient patient/Observation.rs',
      state: 's',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
      ...extra,
    });
  async function authorize(scope: string) {
    const { code, verifier } = await authorizeCode(app, { clientId, redirectUri: REDIRECT, scope, email, password, recovery, patient: a });
    const t = await token({ grant_type: 'authorization_code', code, client_id: clientId, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(t.status).toBe(200);
    return t.body as { access_token: string; refresh_token?: string; scope: string; patient: string };
  }

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    a = (await s.patientService.create({ name: 'Ada Lovelace' }, 'system')).id;
    ({ email, password, recovery } = await clinicianForSmart(app, [a]));
    const admin = (await app.tokenFor('admin')).token;
    const dev = (await s.deviceService.provision({ patientId: a, type: 'pulse-oximeter' }, 'system')).id;
    expect((await s.ingest.acceptTelemetry(dev, JSON.stringify({ ts: Date.now() - 60_000, seq: 1, hr: 61, spo2: 97 }))).ok).toBe(true);
    clientId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Curious App', redirectUris: [REDIRECT] })).body.id;
  });
  afterAll(async () => app && (await app.stop()));

  it('_include brings in only the types the token has a scope for (patient/Observation.rs is not the Patient or the Device)', async () => {
    const obsOnly = await authorize('launch/patient patient/Observation.rs');
    const plain = await get(obsOnly.access_token, '/fhir/R4/Observation');
    expect(plain.status).toBe(200);
    expect(plain.body.entry.length).toBeGreaterThan(0);
    for (const include of ['Observation:patient', 'Observation:subject', 'Observation:device']) {
      const r = await get(obsOnly.access_token, `/fhir/R4/Observation?_include=${include}`);
      expect(r.status, include).toBe(403); // before: 200 with the Patient (or Device) as an "include" entry
      expect(r.body.resourceType).toBe('OperationOutcome');
      expect(r.body.issue[0].diagnostics).toMatch(/no scope for read on (Patient|Device)/);
    }
    // _summary=count includes nothing, so it needs no scope beyond the search.
    expect((await get(obsOnly.access_token, '/fhir/R4/Observation?_include=Observation:patient&_summary=count')).status).toBe(200);
    // With the Patient scope too, the include is served.
    const both = await authorize('launch/patient patient/Observation.rs patient/Patient.rs');
    const r = await get(both.access_token, '/fhir/R4/Observation?_include=Observation:patient');
    expect(r.status).toBe(200);
    const included = r.body.entry.filter((e: any) => e.search.mode === 'include').map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);
    expect(included).toEqual([`Patient/${a.replace('_', '-')}`]);
  });

  it('Bulk export asks a scope for the types it exports: _type=Observation needs only the Observation scope', async () => {
    const obsOnly = await authorize('launch/patient patient/Observation.rs');
    const kick = (query: string) =>
      fetch(`${app.httpUrl}/fhir/R4/Patient/$export${query}`, { headers: { authorization: `Bearer ${obsOnly.access_token}`, prefer: 'respond-async' } });
    expect((await kick('?_type=Observation')).status).toBe(202);
    const all = await kick('');
    expect(all.status).toBe(403); // every type by default: the Patient and Device too
    expect(((await all.json()) as any).issue[0].diagnostics).toMatch(/no scope for search on Patient/);
    expect((await kick('?_type=Observation,Device')).status).toBe(403);
  });

  it('a code presented twice ends the tokens issued from it (RFC 6749 §4.1.2), and a burnt code ends nothing earlier', async () => {
    const earlier = await authorize('launch/patient patient/Observation.rs');
    const { code, verifier } = await authorizeCode(app, {
      clientId,
      redirectUri: REDIRECT,
      scope: 'launch/patient patient/Observation.rs offline_access',
      email,
      password,
      recovery,
      patient: a,
    });
    const form = { grant_type: 'authorization_code', code, client_id: clientId, redirect_uri: REDIRECT, code_verifier: verifier };
    const first = await token(form);
    expect(first.status).toBe(200);
    expect((await get(first.body.access_token, '/fhir/R4/Observation')).status).toBe(200);
    const replay = await token(form); // an intercepted code, tried after the app used it
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect((await get(first.body.access_token, '/fhir/R4/Observation')).status).toBe(401); // before: 200
    expect((await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: clientId })).status).toBe(400);
    // Tokens from an earlier authorization stay: only those issued since the code was spent end.
    expect((await get(earlier.access_token, '/fhir/R4/Observation')).status).toBe(200);
    // A code burnt by a wrong verifier issued nothing, so trying it again ends nothing either.
    const burnt = await authorizeCode(app, {
      clientId,
      redirectUri: REDIRECT,
      scope: 'launch/patient patient/Observation.rs',
      email,
      password,
      recovery,
      patient: a,
    });
    const burn = { grant_type: 'authorization_code', code: burnt.code, client_id: clientId, redirect_uri: REDIRECT };
    expect((await token({ ...burn, code_verifier: 'x'.repeat(43) })).status).toBe(400);
    expect((await token({ ...burn, code_verifier: burnt.verifier })).status).toBe(400);
    expect((await get(earlier.access_token, '/fhir/R4/Observation')).status).toBe(200);
  });

  it('a 401 from the FHIR API names the Bearer scheme (RFC 6750 §3), with error="invalid_token" for a token that did not work', async () => {
    const bare = await fetch(`${app.httpUrl}/fhir/R4/Observation`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toBe('Bearer realm="vigil"'); // before: none
    const t = await authorize('launch/patient patient/Observation.rs');
    const revoked = await fetch(`${app.httpUrl}/oauth/revoke`, oauthForm({ token: t.access_token, client_id: clientId }));
    expect(revoked.status).toBe(200);
    const stale = await fetch(`${app.httpUrl}/fhir/R4/Observation`, { headers: { authorization: `Bearer ${t.access_token}` } });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toBe('Bearer realm="vigil", error="invalid_token"');
    expect((await fetch(`${app.httpUrl}/fhir/R4/metadata`)).headers.get('www-authenticate')).toBeNull(); // public
  });

  it('a refresh token used twice ends every token the user gave the app for that patient (rotation with reuse detection)', async () => {
    const first = await authorize('launch/patient patient/Observation.rs offline_access');
    const rotated = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: clientId });
    expect(rotated.status).toBe(200);
    expect((await get(rotated.body.access_token, '/fhir/R4/Observation')).status).toBe(200);
    // The old refresh token again (a thief, or the app after the thief): refused, and the family ends.
    const replay = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: clientId });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect((await get(rotated.body.access_token, '/fhir/R4/Observation')).status).toBe(401); // before: 200
    expect((await token({ grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token, client_id: clientId })).status).toBe(400); // before: 200
    const [entry] = await app.services.db.query<{ details: { reason: string; revoked: number } }>(
      `SELECT details FROM audit_log WHERE action = 'smart.revoke' ORDER BY id DESC LIMIT 1`,
    );
    expect(entry.details.reason).toBe('refresh token reused');
    expect(entry.details.revoked).toBeGreaterThanOrEqual(2);
    // Presented by another client, a spent token ends nothing (it could not have been used there anyway).
    const other = await authorize('launch/patient patient/Observation.rs offline_access');
    const again = await token({ grant_type: 'refresh_token', refresh_token: other.refresh_token!, client_id: clientId });
    expect(again.status).toBe(200);
    const admin = (await app.tokenFor('admin')).token;
    const stranger = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Stranger', redirectUris: [REDIRECT] })).body.id;
    expect((await token({ grant_type: 'refresh_token', refresh_token: other.refresh_token!, client_id: stranger })).status).toBe(400);
    expect((await get(again.body.access_token, '/fhir/R4/Observation')).status).toBe(200);
  });

  it('refreshing never stretches an approval past 90 days (found by review: each refresh renewed it for 30 days, with no end)', async () => {
    const first = await authorize('launch/patient patient/Observation.rs offline_access');
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const row = async (t: string) =>
      (
        await app.services.db.query<{ expires_at: Date; authorized_at: Date }>('SELECT expires_at, authorized_at FROM smart_grants WHERE hash = $1', [sha(t)])
      )[0];
    // A fresh approval: the refresh token lives its 30 days.
    const fresh = await row(first.refresh_token!);
    expect(new Date(fresh.expires_at).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    // The same approval 89 days and 23.5 hours on (the app refreshed all along): what it gets ends with the approval.
    await app.services.db.query(`UPDATE smart_grants SET authorized_at = now() - interval '89 days 23 hours 30 minutes' WHERE hash = $1`, [
      sha(first.refresh_token!),
    ]);
    const late = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: clientId });
    expect(late.status).toBe(200);
    expect(late.body.expires_in).toBeLessThanOrEqual(1800); // before: 3600
    const end = Date.now() + 30 * 60_000;
    for (const t of [late.body.access_token, late.body.refresh_token]) {
      const r = await row(t);
      expect(Math.abs(new Date(r.expires_at).getTime() - end)).toBeLessThan(60_000); // before: the refresh token, 30 days on
      expect(new Date(r.authorized_at).getTime()).toBe(new Date((await row(first.refresh_token!)).authorized_at).getTime());
    }
  });

  it('a password reset or a second-factor reset ends every app the user approved (found by review: they survived the recovery)', async () => {
    const dr = await clinicianForSmart(app, [a]);
    const approve = async () => {
      const { code, verifier } = await authorizeCode(app, {
        clientId,
        redirectUri: REDIRECT,
        scope: 'launch/patient patient/Observation.rs offline_access',
        ...dr,
        patient: a,
      });
      const t = await token({ grant_type: 'authorization_code', code, client_id: clientId, redirect_uri: REDIRECT, code_verifier: verifier });
      expect(t.status).toBe(200);
      return t.body as { access_token: string; refresh_token: string };
    };
    const before = await approve();
    const other = await approve();
    expect((await get(before.access_token, '/fhir/R4/Observation')).status).toBe(200);
    await app.services.auth.resetMfa(dr.userId, 'cli');
    expect((await get(before.access_token, '/fhir/R4/Observation')).status).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token: before.refresh_token, client_id: clientId })).status).toBe(400);
    expect((await get(other.access_token, '/fhir/R4/Observation')).status).toBe(401);
    const [entry] = await app.services.db.query<{ details: { appGrantsRevoked: number } }>(
      `SELECT details FROM audit_log WHERE action = 'auth.mfa.reset' AND entity_id = $1`,
      [dr.userId],
    );
    expect(entry.details.appGrantsRevoked).toBeGreaterThanOrEqual(4); // two access and two refresh tokens
    // The password reset path: with a grant written as the app would hold it, revoked with the reset.
    const [{ n }] = await app.services.db.query<{ n: number }>(
      `UPDATE smart_grants SET revoked_at = NULL WHERE user_id = $1 AND kind = 'refresh' RETURNING 1 AS n`,
      [dr.userId],
    );
    expect(n).toBe(1);
    await app.services.auth.resetPassword(dr.userId, 'a brand new passphrase 42', { via: 'test' });
    const [reset] = await app.services.db.query<{ details: { appGrantsRevoked: number } }>(
      `SELECT details FROM audit_log WHERE action = 'auth.password.reset' AND entity_id = $1`,
      [dr.userId],
    );
    expect(reset.details.appGrantsRevoked).toBeGreaterThanOrEqual(1);
  });

  it('keeps a redirect URI’s own query, and lets a browser app revoke its token from its own origin (found by review)', async () => {
    const admin = (await app.tokenFor('admin')).token;
    const redirect = 'http://127.0.0.1:9/cb?tenant=1';
    const app2 = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Tenant App', redirectUris: [redirect] })).body.id;
    const dr = await clinicianForSmart(app, [a]);
    const { code, verifier } = await authorizeCode(app, {
      clientId: app2,
      redirectUri: redirect,
      scope: 'launch/patient patient/Observation.rs',
      ...dr,
      patient: a,
    });
    const t = await token({ grant_type: 'authorization_code', code, client_id: app2, redirect_uri: redirect, code_verifier: verifier });
    expect(t.status).toBe(200);
    // What a browser sends from the app's origin: a cross-site POST with no cookie.
    const revoked = await fetch(
      `${app.httpUrl}/oauth/revoke`,
      oauthForm({ token: t.body.access_token, client_id: app2 }, { origin: 'https://app.example', 'sec-fetch-site': 'cross-site' }),
    );
    expect(revoked.status).toBe(200);
    expect((await get(t.body.access_token, '/fhir/R4/Observation')).status).toBe(401);
  });

  it('an authorization request must name this server (aud), and an OpenID nonce comes back in the id_token (found by review)', async () => {
    const ask = async (extra: Record<string, string>) => {
      const res = await fetch(`${app.httpUrl}/oauth/authorize?${authorizeQuery(extra)}`, { redirect: 'manual' });
      return res.status === 302 ? new URL(res.headers.get('location')!).searchParams : null;
    };
    // SMART App Launch 2.x: aud is REQUIRED. Before, a request without it went on to the sign-in screen.
    const noAud = await ask({});
    expect(noAud?.get('error')).toBe('invalid_request');
    expect(noAud?.get('error_description')).toMatch(/aud is required/);
    expect(noAud?.get('state')).toBe('s');
    expect((await ask({ aud: 'https://other.example/fhir' }))?.get('error_description')).toMatch(/aud must be/);
    expect((await ask({ aud: `${app.httpUrl}/fhir/R4`, nonce: 'n'.repeat(256) }))?.get('error_description')).toMatch(/nonce/);
    // The nonce the app sent is in the id_token of that code (OIDC Core §3.1.3.6), so the app can refuse a replayed one.
    const nonce = 'n-0S6_WzA2Mj';
    const dr = await clinicianForSmart(app, [a]);
    const { code, verifier } = await authorizeCode(app, {
      clientId,
      redirectUri: REDIRECT,
      scope: 'launch/patient patient/Observation.rs openid fhirUser',
      email: dr.email,
      password: dr.password,
      recovery: dr.recovery,
      patient: a,
      extra: { nonce },
    });
    const t = await token({ grant_type: 'authorization_code', code, client_id: clientId, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(t.status).toBe(200);
    const claims = JSON.parse(Buffer.from(t.body.id_token.split('.')[1], 'base64url').toString());
    expect(claims.nonce).toBe(nonce); // before: absent
    expect(claims.aud).toBe(clientId);
  });

  it('throttles password guessing on the authorize screen like the app’s own sign-in (found by review: no limit there)', async () => {
    const dr = await clinicianForSmart(app, [a]);
    const q = authorizeQuery({ aud: `${app.httpUrl}/fhir/R4` });
    const requestId = (html: string) => /name="request" value="([^"]+)"/.exec(html)![1];
    let page = await (await fetch(`${app.httpUrl}/oauth/authorize?${q}`)).text();
    const answers: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await fetch(
        `${app.httpUrl}/oauth/authorize`,
        oauthForm({ request: requestId(page), action: 'sign-in', email: dr.email, password: `guess ${i}` }),
      );
      page = await res.text();
      answers.push(/Too many failed attempts/.test(page) ? 'throttled' : /Wrong email or password/.test(page) ? 'wrong' : 'other');
    }
    expect(answers.slice(0, 5)).toEqual(Array(5).fill('wrong'));
    expect(answers.at(-1)).toBe('throttled');
    // The right password is refused too while the wait lasts (the count is shared with /api/v1/auth/login).
    const login = await fetch(`${app.httpUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: dr.email, password: dr.password }),
    });
    expect(login.status).toBe(429);
  });

  it('an Allow pressed as the consent screen appears (a double-click) asks again; no patient is ticked in advance (found by review)', async () => {
    const b = (await app.services.patientService.create({ name: 'Bea Second' }, 'system')).id;
    const dr = await clinicianForSmart(app, [a, b]);
    const requestId = (html: string) => /name="request" value="([^"]+)"/.exec(html)![1];
    const url = `${app.httpUrl}/oauth/authorize`;
    const first = await (await fetch(`${url}?${authorizeQuery({ aud: `${app.httpUrl}/fhir/R4` })}`)).text();
    // The sign-in screen's "Forgot your password?" goes to the web app with this request to come back to.
    const forgot = /<a href="([^"]+)">Forgot your password\?<\/a>/.exec(first)![1].replaceAll('&amp;', '&');
    expect(new URLSearchParams(forgot.split('?')[1]).get('return')).toMatch(/^\/oauth\/authorize\?response_type=code&client_id=/);
    const signedIn = await fetch(url, oauthForm({ request: requestId(first), action: 'sign-in', email: dr.email, password: dr.password }));
    const half = signedIn.headers.get('set-cookie')!.split(';')[0];
    const mfa = await fetch(url, oauthForm({ request: requestId(await signedIn.text()), action: 'mfa', code: dr.recovery[0] }, { cookie: half }));
    const cookie = mfa.headers.get('set-cookie')!.split(';')[0];
    const consent = await mfa.text();
    expect(consent).toContain('Allow Curious App?');
    expect(consent.match(/type="radio"/g)).toHaveLength(2);
    expect(consent).not.toContain('checked'); // nobody is ticked in advance
    expect(consent).toContain('value="deny" formnovalidate'); // Deny needs no choice
    const authorized = async () =>
      (await app.services.db.query(`SELECT 1 FROM audit_log WHERE action = 'smart.authorize' AND actor = $1`, [`user:${dr.userId}`])).length;
    // The second click of a double-click, as the screen arrives (the screen's age set to "just served", so that a
    // slow machine cannot make this request look like a reader's): no code, the screen again with a reason.
    await app.services.db.query('UPDATE smart_pending SET created_at = clock_timestamp() WHERE id = $1', [requestId(consent)]);
    const tooSoon = await fetch(url, oauthForm({ request: requestId(consent), action: 'allow', patient: b }, { cookie }));
    expect(tooSoon.status).toBe(200);
    expect(tooSoon.headers.get('location')).toBeNull();
    const again = await tooSoon.text();
    expect(again).toContain('Allow was pressed as this screen appeared');
    expect(again).toContain(`value="${b}" checked required>`); // the choice is kept
    expect(again.match(/checked/g)).toHaveLength(1);
    expect(await authorized()).toBe(0);
    // A person who reads the list first gets the code.
    await readConsent();
    const allowed = await fetch(url, oauthForm({ request: requestId(again), action: 'allow', patient: b }, { cookie }));
    expect(allowed.status).toBe(302);
    expect(new URL(allowed.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    expect(await authorized()).toBe(1);
  });
});
