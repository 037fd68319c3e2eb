/**
 * SMART App Launch 2.x with the real `fhirclient` library in headless Chromium: a standalone launch from a
 * third-party origin (discovery, PKCE, sign-in, consent, token, FHIR reads with CORS), an EHR launch opened
 * from Vigil by a clinician (sign-in with a second factor, patient context from the launch), then the attacks an
 * app or a thief would try at the token endpoint and with the token.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { launchChromium } from '../../../../test/support/browser.ts';
import { enrolTotp, readConsent } from '../../../../test/support/smart-flow.ts';
import { startFhirclientApp } from '../../../../test/support/fhirclient-app.ts';

describe('SMART on FHIR standalone launch (fhirclient in Chromium)', () => {
  let app: TestApp;
  let browser: Browser;
  let site: Awaited<ReturnType<typeof startFhirclientApp>>;
  let appOrigin: string;
  let clientId: string;
  let patientId: string;
  let otherId: string;
  const password = 'a long patient passphrase';
  let email: string;
  let ehrClientId = '';

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    patientId = (await s.patientService.create({ name: 'Sam Smart', birthDate: '1950-01-01' }, 'system')).id;
    otherId = (await s.patientService.create({ name: 'Olive Other' }, 'system')).id;
    email = `sam-${randomBytes(3).toString('hex')}@test.vigil`;
    await s.auth.createUser({ email, role: 'patient', password, patientId }, 'system');
    const dev = (await s.deviceService.provision({ patientId, type: 'pulse-oximeter' }, 'system')).id;
    const otherDev = (await s.deviceService.provision({ patientId: otherId, type: 'pulse-oximeter' }, 'system')).id;
    for (let i = 0; i < 3; i++) await s.ingest.acceptTelemetry(dev, JSON.stringify({ ts: Date.now() - (3 - i) * 60_000, seq: i + 1, hr: 70 + i }));
    await s.ingest.acceptTelemetry(otherDev, JSON.stringify({ seq: 1, hr: 111 }));

    // The third-party app: its own origin, serving fhirclient and its pages.
    site = await startFhirclientApp(`${app.httpUrl}/fhir/R4`, (url) =>
      // EHR launch: Vigil opens this page with ?iss=…&launch=…, which fhirclient reads from the URL.
      url.pathname === '/ehr.html'
        ? `<!doctype html><script src="/fhir-client.js"></script><script>
        FHIR.oauth2.authorize({ clientId: ${JSON.stringify(ehrClientId)}, scope: 'launch openid fhirUser patient/Observation.rs patient/Patient.r', redirectUri: '/app.html', pkceMode: 'required' });
      </script>`
        : null,
    );
    appOrigin = site.origin;
    const admin = (await app.tokenFor('admin')).token;
    const registered = await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Heart Diary', redirectUris: [`${appOrigin}/app.html`] });
    expect(registered.status).toBe(201);
    clientId = registered.body.id;
    expect((await app.api(admin, 'POST', '/api/v1/smart/apps', { name: 'Evil', redirectUris: ['http://evil.example/cb'] })).status).toBe(400);
    expect((await app.api((await app.tokenFor('clinician')).token, 'POST', '/api/v1/smart/apps', { name: 'X', redirectUris: [`${appOrigin}/x`] })).status).toBe(
      403,
    );
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await app?.stop();
  });

  it('launches, signs in, asks consent, and reads only the chosen patient through scopes', async () => {
    const page = await browser.newPage();
    const scope = 'launch/patient openid fhirUser offline_access patient/Observation.rs patient/Patient.r';
    await page.goto(`${appOrigin}/launch.html?client=${clientId}&scope=${encodeURIComponent(scope)}`);
    await page.waitForURL(/\/oauth\/authorize/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('wrong one');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').textContent()).toBe('Wrong email or password.');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Allow Heart Diary?' }).waitFor();
    expect(await page.getByRole('listitem').allTextContents()).toContain('Read Observation records of the chosen patient patient/Observation.rs');
    await readConsent();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/\/app\.html/);
    await page.waitForFunction(() => document.body.dataset.result || document.body.dataset.error, null, { timeout: 20_000 });
    expect(await page.evaluate(() => document.body.dataset.error)).toBeUndefined();
    const result = JSON.parse((await page.evaluate(() => document.body.dataset.result))!);
    expect(result).toMatchObject({ patient: patientId.replace('_', '-'), name: 'Sam Smart', values: [70, 71, 72], devices: '403', refresh: true });
    expect(result.fhirUser).toBe(`Patient/${patientId.replace('_', '-')}`);
    expect(result.scope.split(' ').sort()).toEqual(scope.split(' ').sort());
    await page.close();
  });

  it('EHR launch: a clinician opens the app on a patient from Vigil; the token carries that patient', async () => {
    const s = app.services;
    const clinEmail = `dr-${randomBytes(3).toString('hex')}@test.vigil`;
    const dr = await s.auth.createUser({ email: clinEmail, role: 'clinician', password }, 'system');
    await s.patientService.assignClinician(patientId, dr.practitionerId!, 'system');
    const drToken = (await s.auth.createToken(clinEmail, 'ehr', 'system')).token;
    // Clinicians sign in with a second factor (issue 9): enrol TOTP, keep a recovery code for the browser.
    const recoveryCodes = await enrolTotp(app, clinEmail, password);
    const admin = (await app.tokenFor('admin')).token;
    const registered = await app.api<{ id: string; launchUrl: string }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Chart Companion',
      redirectUris: [`${appOrigin}/app.html`],
      launchUrl: `${appOrigin}/ehr.html`,
    });
    expect(registered.body.launchUrl).toBe(`${appOrigin}/ehr.html`);
    ehrClientId = registered.body.id;
    // The EHR side: Vigil makes the launch for this user, app and patient, and gives the URL to open.
    const launched = await app.api<{ url: string; iss: string; launch: string }>(drToken, 'POST', '/api/v1/smart/launch', { clientId: ehrClientId, patientId });
    expect(launched.status).toBe(201);
    expect(launched.body.url).toBe(`${appOrigin}/ehr.html?${new URLSearchParams({ iss: `${app.httpUrl}/fhir/R4`, launch: launched.body.launch })}`);
    // Not for a patient the clinician does not see.
    expect((await app.api(drToken, 'POST', '/api/v1/smart/launch', { clientId: ehrClientId, patientId: otherId })).status).toBe(404);

    const page = await browser.newPage();
    await page.goto(launched.body.url);
    await page.waitForURL(/\/oauth\/authorize/);
    await page.getByLabel('Email').fill(clinEmail);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Code').fill(recoveryCodes[0]);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Allow Chart Companion?' }).waitFor();
    expect(await page.getByText('Opened from Vigil for').textContent()).toContain('Sam Smart');
    expect(await page.getByRole('radio').count()).toBe(0); // the EHR chose the patient; no picker
    await readConsent();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/\/app\.html/);
    await page.waitForFunction(() => document.body.dataset.result || document.body.dataset.error, null, { timeout: 20_000 });
    expect(await page.evaluate(() => document.body.dataset.error)).toBeUndefined();
    const result = JSON.parse((await page.evaluate(() => document.body.dataset.result))!);
    expect(result).toMatchObject({ patient: patientId.replace('_', '-'), name: 'Sam Smart', values: [70, 71, 72] });
    expect(result.fhirUser).toBe(`Practitioner/${dr.practitionerId!.replace('_', '-')}`);
    await page.close();

    // Another user cannot ride the clinician's launch: after signing in, the screen refuses.
    const relaunch = await app.api<{ launch: string }>(drToken, 'POST', '/api/v1/smart/launch', { clientId: ehrClientId, patientId });
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: ehrClientId,
      redirect_uri: `${appOrigin}/app.html`,
      scope: 'launch patient/Observation.rs',
      launch: relaunch.body.launch,
      aud: `${app.httpUrl}/fhir/R4`,
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    });
    const request = /name="request" value="([^"]+)"/.exec(await (await fetch(`${app.httpUrl}/oauth/authorize?${q}`)).text())![1];
    const asSam = await fetch(`${app.httpUrl}/oauth/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request, action: 'sign-in', email, password }),
    });
    expect(asSam.status).toBe(403);
    expect(await asSam.text()).toContain('opened by another Vigil user');
    // The launch is bound to its app, and "launch" without launch=… is refused.
    const otherApp = new URLSearchParams({ ...Object.fromEntries(q), client_id: clientId });
    expect(
      new URL((await fetch(`${app.httpUrl}/oauth/authorize?${otherApp}`, { redirect: 'manual' })).headers.get('location')!).searchParams.get('error'),
    ).toBe('invalid_request');
    const noLaunch = new URLSearchParams(Object.fromEntries([...q].filter(([k]) => k !== 'launch')));
    expect(
      new URL((await fetch(`${app.httpUrl}/oauth/authorize?${noLaunch}`, { redirect: 'manual' })).headers.get('location')!).searchParams.get('error'),
    ).toBe('invalid_scope');
  });

  describe('the token endpoint and tokens under attack', () => {
    const pkce = () => {
      const verifier = randomBytes(40).toString('base64url');
      return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
    };
    /** Drives the authorize screen over plain HTTP (sign-in then allow) and returns the code. */
    async function code(scope: string, challenge: string) {
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: `${appOrigin}/app.html`,
        scope,
        state: 's1',
        aud: `${app.httpUrl}/fhir/R4`,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      const first = await fetch(`${app.httpUrl}/oauth/authorize?${q}`);
      const request = /name="request" value="([^"]+)"/.exec(await first.text())![1];
      const signedIn = await fetch(`${app.httpUrl}/oauth/authorize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request, action: 'sign-in', email, password }),
      });
      const cookie = signedIn.headers.get('set-cookie')!.split(';')[0];
      const request2 = /name="request" value="([^"]+)"/.exec(await signedIn.text())![1];
      await readConsent();
      const allowed = await fetch(`${app.httpUrl}/oauth/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request: request2, action: 'allow' }),
      });
      const location = new URL(allowed.headers.get('location')!);
      expect(location.searchParams.get('state')).toBe('s1');
      return location.searchParams.get('code')!;
    }
    const token = (form: Record<string, string>) =>
      fetch(`${app.httpUrl}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

    it('refuses a wrong PKCE verifier, a reused code, and refresh tokens used twice', async () => {
      const { verifier, challenge } = pkce();
      const c = await code('launch/patient patient/Observation.rs offline_access', challenge);
      const base = { grant_type: 'authorization_code', code: c, client_id: clientId, redirect_uri: `${appOrigin}/app.html` };
      // A wrong verifier burns the code (it works once, for the first caller).
      expect((await token({ ...base, code_verifier: pkce().verifier })).body.error).toBe('invalid_grant');
      expect((await token({ ...base, code_verifier: verifier })).body.error).toBe('invalid_grant');
      const { verifier: v2, challenge: c2 } = pkce();
      const good = await token({ ...base, code: await code('launch/patient patient/Observation.rs offline_access', c2), code_verifier: v2 });
      expect(good.status).toBe(200);
      expect(good.body).toMatchObject({
        token_type: 'Bearer',
        patient: patientId.replace('_', '-'),
        scope: 'launch/patient patient/Observation.rs offline_access',
      });
      const refreshed = await token({ grant_type: 'refresh_token', refresh_token: good.body.refresh_token, client_id: clientId });
      expect(refreshed.status).toBe(200);
      expect((await token({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, scope: 'user/*.rs' })).body.error).toBe('invalid_scope');
      // The token reads the patient's Observations, nothing else, and never the REST API.
      const auth = { authorization: `Bearer ${refreshed.body.access_token}` };
      const obs = (await (await fetch(`${app.httpUrl}/fhir/R4/Observation?_summary=count`, { headers: auth })).json()) as any;
      expect(obs.total).toBe(3);
      expect((await fetch(`${app.httpUrl}/fhir/R4/Patient/${patientId}`, { headers: auth })).status).toBe(403);
      expect(
        ((await fetch(`${app.httpUrl}/fhir/R4/Observation?patient=${otherId}&_summary=count`, { headers: auth }).then((r) => r.json())) as any).total,
      ).toBe(0);
      expect((await fetch(`${app.httpUrl}/api/v1/patients/${patientId}`, { headers: auth })).status).toBe(401);
      expect(
        (await fetch(`${app.httpUrl}/fhir/R4/Observation`, { method: 'POST', headers: { ...auth, 'content-type': 'application/fhir+json' }, body: '{}' }))
          .status,
      ).toBe(403);
      // The first refresh token again: refused, and (two parties hold it) the tokens rotated from it end too.
      expect((await token({ grant_type: 'refresh_token', refresh_token: good.body.refresh_token, client_id: clientId })).body.error).toBe('invalid_grant');
      expect((await fetch(`${app.httpUrl}/fhir/R4/Observation?_summary=count`, { headers: auth })).status).toBe(401);
    });

    it('refuses requests without PKCE, with unknown clients or unregistered redirect URIs', async () => {
      const noPkce = await fetch(
        `${app.httpUrl}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: `${appOrigin}/app.html`, scope: 'patient/Observation.rs', state: 'x' })}`,
        { redirect: 'manual' },
      );
      expect(new URL(noPkce.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
      const evil = await fetch(
        `${app.httpUrl}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: 'https://evil.example/cb', scope: 'patient/Observation.rs' })}`,
        { redirect: 'manual' },
      );
      expect(evil.status).toBe(400);
      expect(await evil.text()).toContain('is not registered');
      expect((await fetch(`${app.httpUrl}/oauth/authorize?client_id=nope`)).status).toBe(400);
      expect((await token({ grant_type: 'password', username: email, password })).body.error).toBe('unsupported_grant_type');
    });

    it('publishes discovery without credentials, with CORS for browser apps', async () => {
      for (const url of ['/fhir/R4/.well-known/smart-configuration', '/.well-known/smart-configuration']) {
        const res = await fetch(app.httpUrl + url, { headers: { origin: appOrigin } });
        expect(res.status).toBe(200);
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect((await res.json()) as any).toMatchObject({ code_challenge_methods_supported: ['S256'], token_endpoint: `${app.httpUrl}/oauth/token` });
      }
      const meta = (await (await fetch(`${app.httpUrl}/fhir/R4/metadata`)).json()) as any;
      expect(meta.rest[0].security.extension[0].extension.map((e: any) => e.url)).toEqual(['authorize', 'token']);
      expect(((await (await fetch(`${app.httpUrl}/.well-known/jwks.json`)).json()) as any).keys[0].kty).toBe('RSA');
    });
  });
});
