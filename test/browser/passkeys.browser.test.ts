/**
 * Passkeys (WebAuthn, ONC §170.315(d)(13)) in a real Chromium with a CDP virtual authenticator (CTAP2,
 * internal, resident keys, user verification): a clinician enrols a passkey as the required second factor,
 * signs in with it after the password and then without a password, adds and removes passkeys on the account
 * page. Attacks: a replayed assertion, an assertion signed on another origin, another user's passkey for
 * this user's sign-in, a cloned authenticator with an old signature counter. Screenshots in artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { bootApp, type TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { addVirtualAuthenticator, ARTIFACTS, hasChromium, hasWebBuild, launchChromium, PASSWORD, withPasskeyAuthenticator } from '../support/browser.ts';
import { expectAccessible } from './tele-support.ts';
import { generate } from 'otplib';

const ready = hasChromium && hasWebBuild;
if (!ready) skipNote('Chromium and a built web app (npm run build:web) for the passkey browser test');

type Json = Record<string, unknown>;

/**
 * Runs navigator.credentials.get in the page with the server's options (optionally another allow-list) and
 * returns the answer in WebAuthn's JSON form: what an attacker's script on a page would do by hand.
 */
async function assertIn(page: Page, options: Json, allowIds?: string[]): Promise<Json> {
  return page.evaluate(
    async ({ options, allowIds }) => {
      const fromB64 = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
      const toB64 = (b: ArrayBuffer) =>
        btoa(String.fromCharCode(...new Uint8Array(b)))
          .replace(/\+/g, '-')
          .replace(/\//g, '_')
          .replace(/=+$/, '');
      const o = options as { challenge: string; rpId: string; allowCredentials?: Array<{ id: string }>; userVerification?: UserVerificationRequirement };
      const allow = allowIds ?? o.allowCredentials?.map((c) => c.id) ?? [];
      const cred = (await navigator.credentials.get({
        publicKey: {
          challenge: fromB64(o.challenge),
          rpId: o.rpId,
          userVerification: o.userVerification,
          allowCredentials: allow.map((id) => ({ id: fromB64(id), type: 'public-key' as const })),
        },
      })) as PublicKeyCredential;
      const r = cred.response as AuthenticatorAssertionResponse;
      return {
        id: cred.id,
        rawId: toB64(cred.rawId),
        type: 'public-key',
        response: {
          clientDataJSON: toB64(r.clientDataJSON),
          authenticatorData: toB64(r.authenticatorData),
          signature: toB64(r.signature),
          ...(r.userHandle ? { userHandle: toB64(r.userHandle) } : {}),
        },
        clientExtensionResults: {},
      };
    },
    { options, allowIds },
  );
}

describe.skipIf(!ready)('passkeys in Chromium with a virtual authenticator', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;
  let a: string; // clinician A (email)
  let b: string; // clinician B
  let recovery: string[] = []; // A's recovery codes, shown when the first passkey was added
  let other: http.Server;
  let otherOrigin: string;

  const post = async (url: string, body: unknown, cookie?: string) => {
    const res = await fetch(app.httpUrl + url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: app.httpUrl, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Json, cookie: res.headers.get('set-cookie')?.split(';')[0] };
  };
  const userId = async (email: string) => (await app.services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [email]))[0].id;
  const passkeysOf = async (email: string) =>
    app.services.db.query<{ id: string; counter: string }>('SELECT id, counter FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at', [
      await userId(email),
    ]);
  const audit = async (action: string, email: string) =>
    app.services.db.query<{ outcome: string; details: Json }>('SELECT outcome, details FROM audit_log WHERE action = $1 AND entity_id = $2 ORDER BY id', [
      action,
      await userId(email),
    ]);

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    app = await bootApp(); // VIGIL_REQUIRE_MFA defaults to 1: clinicians must enrol a second factor
    expect(app.httpUrl).toMatch(/^http:\/\/localhost:\d+$/); // the relying party is "localhost"
    a = (await app.tokenFor('clinician')).email;
    b = (await app.tokenFor('clinician')).email;
    // Another origin on the same host name: a page there can ask the same authenticator for a "localhost" passkey.
    other = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherOrigin = `http://localhost:${(other.address() as { port: number }).port}`;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    ({ cdp, authenticatorId } = await withPasskeyAuthenticator(page));
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => other?.close(r));
    await app?.stop();
  });

  const signInWithPassword = async (email: string) => {
    await page.context().clearCookies();
    await page.goto(app.httpUrl);
    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/password/i).fill(PASSWORD);
    await page.getByRole('button', { name: /^sign in$/i }).click();
  };
  /** A second authenticator (a USB security key): one authenticator holds one passkey per account. */
  const addSecurityKey = async () => ({ authenticatorId: await addVirtualAuthenticator(cdp, 'usb') });
  const onPanel = () => page.waitForSelector('text=/\\d+ patients?/', { timeout: 20_000 });
  const cookieHeader = async () => (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

  it('a clinician enrols a passkey as the required second factor and gets recovery codes', async () => {
    await signInWithPassword(a);
    await page.getByRole('heading', { name: /set up two-step sign-in/i }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: /use a passkey instead/i }).click();
    await page.getByRole('heading', { name: /recovery codes/i }).waitFor({ timeout: 20_000 });
    expect(await page.locator('.recovery-codes code').count()).toBe(10);
    recovery = (await page.locator('.recovery-codes code').allInnerTexts()).map((c) => c.trim());
    await page.getByRole('button', { name: /saved them/i }).click();
    await onPanel();
    const keys = await passkeysOf(a);
    expect(keys).toHaveLength(1);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials.map((c) => Buffer.from(c.credentialId, 'base64').toString('base64url'))).toContain(keys[0].id);
    expect((await audit('auth.passkey.add', a)).map((r) => r.outcome)).toEqual(['success']);
  });

  it('signs in with the password, then the passkey; the signature counter moves on', async () => {
    const before = Number((await passkeysOf(a))[0].counter);
    await signInWithPassword(a);
    await page.getByRole('heading', { name: /two-step sign-in/i }).waitFor({ timeout: 20_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'passkey-second-step.png') });
    await expectAccessible(page, 'second step with a passkey');
    await page.getByRole('button', { name: /use a passkey/i }).click();
    await onPanel();
    expect(Number((await passkeysOf(a))[0].counter)).toBeGreaterThan(before);
    const mfa = await audit('auth.mfa', a);
    expect(mfa.at(-1)).toMatchObject({ outcome: 'success', details: { kind: 'passkey', passwordless: false } });
  });

  it('signs in with the passkey alone (discoverable, user verified)', async () => {
    await page.context().clearCookies();
    await page.goto(app.httpUrl);
    await page.getByRole('button', { name: /sign in with a passkey/i }).click();
    await onPanel();
    const me = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.json() as Promise<{ email: string; stage: string }>));
    expect(me).toMatchObject({ email: a, stage: 'full' });
    expect((await audit('auth.login', a)).at(-1)).toMatchObject({ outcome: 'success', details: { kind: 'passkey', passwordless: true, userVerified: true } });
  });

  it('lists, adds and removes passkeys on the account page', async () => {
    await page.goto(app.httpUrl + '/#/account');
    await page.getByRole('heading', { name: /^passkeys$/i }).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('.passkey-table tbody tr').count(), { timeout: 10_000 }).toBe(1);
    // A second authenticator (a security key) for the second passkey: one authenticator holds one per account.
    const key2 = await addSecurityKey();
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: false }).catch(() => undefined);
    // Found by review: a borrowed session could add its own passkey. Without a current code: refused, nothing added.
    const bare = await page.evaluate(() => fetch('/api/v1/auth/passkeys/options', { method: 'POST' }).then((r) => r.status));
    expect(bare).toBe(400);
    const code = page.getByLabel(/a code from your authenticator app, or a recovery code/i);
    await code.fill(recovery[0]);
    await page.getByLabel(/name for the new passkey/i).fill('Security key');
    await page.getByRole('button', { name: /add a passkey/i }).click();
    await expect.poll(() => page.locator('.passkey-table tbody tr').count(), { timeout: 20_000 }).toBe(2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'account-security.png'), fullPage: true });
    await expectAccessible(page, 'account security page');
    // Removing one asks for a code too (the one above is spent).
    const keyId = (await passkeysOf(a)).at(-1)!.id; // the security key, added last
    expect(await page.evaluate((id) => fetch(`/api/v1/auth/passkeys/${id}`, { method: 'DELETE' }).then((r) => r.status), keyId)).toBe(400);
    await code.fill(recovery[1]);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: /remove passkey security key/i }).click();
    await expect.poll(() => page.locator('.passkey-table tbody tr').count(), { timeout: 10_000 }).toBe(1);
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: key2.authenticatorId });
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: true }).catch(() => undefined);
    expect((await audit('auth.passkey.remove', a)).map((r) => r.outcome)).toEqual(['success']);
    // The last second factor of a clinician stays: removing it is refused.
    const [last] = await passkeysOf(a);
    const refused = await page.evaluate((id) => fetch(`/api/v1/auth/passkeys/${id}`, { method: 'DELETE' }).then((r) => r.status), last.id);
    expect(refused).toBe(409);
  });

  it('confirms the session with a current passkey instead of a code: no recovery code spent, and once only', async () => {
    // Found by review: an account with passkeys only had nothing but recovery codes to prove itself with.
    await page.goto(app.httpUrl + '/#/account');
    await expect.poll(() => page.locator('.passkey-table tbody tr').count(), { timeout: 20_000 }).toBe(1);
    const codesLeft = () =>
      page.evaluate(() =>
        fetch('/api/v1/auth/mfa')
          .then((r) => r.json())
          .then((m: { recoveryCodesLeft: number }) => m.recoveryCodesLeft),
      );
    const before = await codesLeft();
    await page.getByRole('button', { name: /confirm with a passkey/i }).click();
    await page.getByText(/^confirmed\. you can add or remove one passkey/i).waitFor({ timeout: 20_000 });
    expect((await audit('auth.stepup', a)).map((r) => r.outcome)).toEqual(['success']);
    await page.screenshot({ path: path.join(ARTIFACTS, 'account-passkey-confirmed.png'), fullPage: true });
    await expectAccessible(page, 'account page after a passkey confirmation');
    // The new passkey on a second authenticator (the first one already holds this account's).
    const key2 = await addSecurityKey();
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: false });
    await page.getByLabel(/name for the new passkey/i).fill('Spare key');
    await page.getByRole('button', { name: /add a passkey/i }).click();
    await expect.poll(() => page.locator('.passkey-table tbody tr').count(), { timeout: 20_000 }).toBe(2);
    expect(await codesLeft()).toBe(before);
    // The confirmation was spent by that change: removing needs a new one.
    const spare = (await passkeysOf(a)).at(-1)!.id;
    expect(await page.evaluate((id) => fetch(`/api/v1/auth/passkeys/${id}`, { method: 'DELETE' }).then((r) => r.status), spare)).toBe(400);
    // The ceremony is for this account's passkeys only (the server refuses any other: passkeys.ts authenticate).
    const opts = await page.evaluate(() => fetch('/api/v1/auth/passkey/step-up/options', { method: 'POST' }).then((r) => r.json()));
    expect(opts.options.allowCredentials.map((c: { id: string }) => c.id).sort()).toEqual((await passkeysOf(a)).map((k) => k.id).sort());
    // Confirm again (with the spare key: the first authenticator is not answering) and remove it.
    await page.getByRole('button', { name: /confirm with a passkey/i }).click();
    await page.getByText(/^confirmed\. you can add or remove one passkey/i).waitFor({ timeout: 20_000 });
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: /remove passkey spare key/i }).click();
    await expect.poll(() => page.locator('.passkey-table tbody tr').count(), { timeout: 20_000 }).toBe(1);
    expect(await codesLeft()).toBe(before);
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: key2.authenticatorId });
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: true });
    // An API token cannot confirm anything (second factors are managed from a signed-in session).
    const token = (await app.tokenFor('clinician')).token;
    const res = await fetch(app.httpUrl + '/api/v1/auth/passkey/step-up/options', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    // Malformed confirmations from the signed-in session: a 400 naming the field, and nothing confirmed.
    const stepUp = (body: unknown) =>
      page.evaluate(
        (b) =>
          fetch('/api/v1/auth/passkey/step-up', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) }).then(
            async (r) => ({
              status: r.status,
              text: await r.text(),
            }),
          ),
        body,
      );
    const flowId = (await page.evaluate(() => fetch('/api/v1/auth/passkey/step-up/options', { method: 'POST' }).then((r) => r.json()))).flowId as string;
    for (const [body, field] of [
      [{}, 'flowId'],
      [{ flowId }, 'response'],
      [{ flowId, response: { id: 'not base64url!', rawId: 'x', type: 'public-key', response: {}, clientExtensionResults: {} } }, 'response'],
      [{ flowId: 'x'.repeat(100_000), response: {} }, 'flowId'],
    ] as const) {
      const r = await stepUp(body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.text).toContain(field);
    }
    const wellFormed = {
      id: 'AAAA',
      rawId: 'AAAA',
      type: 'public-key',
      response: { clientDataJSON: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' },
      clientExtensionResults: {},
    };
    expect((await stepUp({ flowId: 'no-such-flow', response: wellFormed })).status).toBe(401);
    expect((await stepUp({ flowId, response: wellFormed })).status).toBe(401);
    // Audited: the two real confirmations above, and the two refused assertions (the 400s never reached the check).
    expect((await audit('auth.stepup', a)).map((r) => r.outcome)).toEqual(['success', 'success', 'failure', 'failure']);
    const confirmed = await app.services.db.query('SELECT 1 FROM sessions WHERE user_id = $1 AND step_up_at IS NOT NULL', [await userId(a)]);
    expect(confirmed).toHaveLength(0); // nothing left confirmed: the real ones were spent, the refused ones set nothing
  });

  it('refuses a replayed assertion', async () => {
    await page.context().clearCookies();
    const first = await post('/api/v1/auth/passkey/options', {});
    expect(first.status).toBe(200);
    const answer = await assertIn(page, first.body.options as Json);
    const ok = await post('/api/v1/auth/passkey', { flowId: first.body.flowId, response: answer });
    expect(ok.status).toBe(200);
    const again = await post('/api/v1/auth/passkey', { flowId: first.body.flowId, response: answer });
    expect(again.status).toBe(401);
    expect(again.body.error).toMatchObject({ message: expect.stringMatching(/expired or was already used/) });
    // With a fresh ceremony the old answer signs the wrong challenge.
    const fresh = await post('/api/v1/auth/passkey/options', {});
    const replay = await post('/api/v1/auth/passkey', { flowId: fresh.body.flowId, response: answer });
    expect(replay.status).toBe(401);
    expect(replay.body.error).toMatchObject({ message: expect.stringMatching(/challenge/i) });
    expect(replay.cookie).toBeUndefined();
  });

  it('refuses an assertion signed on another origin (same host name, another port)', async () => {
    await page.goto(otherOrigin);
    const opts = await post('/api/v1/auth/passkey/options', {});
    const answer = await assertIn(page, opts.body.options as Json); // the browser signs for rpId "localhost" from otherOrigin
    const clientData = JSON.parse(Buffer.from((answer.response as Json).clientDataJSON as string, 'base64url').toString()) as { origin: string };
    expect(clientData.origin).toBe(otherOrigin);
    const r = await post('/api/v1/auth/passkey', { flowId: opts.body.flowId, response: answer });
    expect(r.status).toBe(401);
    expect(r.body.error).toMatchObject({ message: expect.stringMatching(/origin/i) });
    expect(r.cookie).toBeUndefined();
    expect((await audit('auth.login', a)).length).toBeGreaterThan(0);
    const failures = await app.services.db.query<{ n: string }>(
      "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.login' AND outcome = 'failure' AND details->>'kind' = 'passkey'",
    );
    expect(Number(failures[0].n)).toBeGreaterThanOrEqual(3); // replayed twice, wrong origin once
  });

  it("refuses another user's passkey for this user's second step", async () => {
    // B enrols a passkey in the same authenticator.
    await signInWithPassword(b);
    await page.getByRole('button', { name: /use a passkey instead/i }).click();
    await page.getByRole('button', { name: /saved them/i }).click();
    await onPanel();
    const [bKey] = await passkeysOf(b);
    // A passes the password; the second-step ceremony is bound to A; the answer is made with B's passkey.
    await page.context().clearCookies();
    const login = await page.evaluate(
      (email) =>
        fetch('/api/v1/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password: 'correct horse battery' }),
        }).then((r) => r.json()),
      a,
    );
    expect(login).toMatchObject({ stage: 'mfa' });
    const cookie = await cookieHeader();
    const opts = await post('/api/v1/auth/passkey/options', {}, cookie);
    expect(opts.body.secondStep).toBe(true);
    expect(((opts.body.options as Json).allowCredentials as Json[]).map((c) => c.id)).toEqual([(await passkeysOf(a))[0].id]);
    const answer = await assertIn(page, opts.body.options as Json, [bKey.id]);
    expect(answer.id).toBe(bKey.id);
    const r = await post('/api/v1/auth/passkey', { flowId: opts.body.flowId, response: answer }, cookie);
    expect(r.status).toBe(401);
    expect(r.body.error).toMatchObject({ message: expect.stringMatching(/another account/) });
    // A's session is still waiting for its second factor: nothing else answers.
    const still = await fetch(app.httpUrl + '/api/v1/patients', { headers: { cookie } });
    expect(still.status).toBe(401);
    expect((await audit('auth.mfa', a)).at(-1)).toMatchObject({ outcome: 'failure', details: { kind: 'passkey' } });
  });

  it('refuses a cloned authenticator whose signature counter went backwards', async () => {
    const [aKey] = await passkeysOf(a);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    const original = credentials.find((c) => Buffer.from(c.credentialId, 'base64').toString('base64url') === aKey.id)!;
    expect(Number(aKey.counter)).toBeGreaterThan(1);
    // The clone: the same private key on another authenticator that starts its counter again at 0.
    await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: original.credentialId });
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...original, signCount: 0 } });
    await page.context().clearCookies();
    const opts = await post('/api/v1/auth/passkey/options', {});
    const answer = await assertIn(page, opts.body.options as Json, [aKey.id]);
    const r = await post('/api/v1/auth/passkey', { flowId: opts.body.flowId, response: answer });
    expect(r.status).toBe(401);
    expect(r.body.error).toMatchObject({ message: expect.stringMatching(/counter/i) });
    expect(Number((await passkeysOf(a))[0].counter)).toBe(Number(aKey.counter));
  });

  it('answers malformed passkey bodies with a 400 naming the field', async () => {
    const opts = await post('/api/v1/auth/passkey/options', {});
    const r = await post('/api/v1/auth/passkey', {
      flowId: opts.body.flowId,
      response: { id: 'not base64url!', rawId: 'x', type: 'public-key', response: {}, clientExtensionResults: {} },
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/response/);
    const unknownFlow = await post('/api/v1/auth/passkey', {
      flowId: 'nope',
      response: {
        id: 'AAAA',
        rawId: 'AAAA',
        type: 'public-key',
        response: { clientDataJSON: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' },
        clientExtensionResults: {},
      },
    });
    expect(unknownFlow.status).toBe(401);
  });
  it('sets up an authenticator app on a passkey-only account, confirmed with the passkey instead of a recovery code', async () => {
    // A new clinician on a security key of their own (A's passkey was made a clone above).
    const c = (await app.tokenFor('clinician')).email;
    const own = await addSecurityKey();
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: false });
    await signInWithPassword(c);
    await page.getByRole('heading', { name: /set up two-step sign-in/i }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: /use a passkey instead/i }).click();
    await page.getByRole('button', { name: /saved them/i }).click();
    await onPanel();
    await page.goto(app.httpUrl + '/#/account');
    await page.getByRole('button', { name: /set up an authenticator app/i }).click();
    const key = (await page.locator('.mfa-secret').innerText()).replace(/\s/g, '');
    await page.getByLabel('Code from the new app').fill(await generate({ secret: key }));
    const form = page.getByRole('form', { name: /set up the new authenticator app/i });
    await form.getByRole('button', { name: /confirm with a passkey/i }).click();
    await page.getByText('Confirmed with your passkey.').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: /use the new app/i }).click();
    await page.getByText(/the new authenticator app is in use/i).waitFor({ timeout: 20_000 });
    expect((await audit('auth.stepup', c)).map((r) => r.outcome)).toEqual(['success']);
    expect((await audit('auth.mfa.enrol', c)).at(-1)).toMatchObject({ outcome: 'success', details: { kind: 'totp' } });
    await expectAccessible(page, 'account page after adding an authenticator app');
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: own.authenticatorId });
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: true });
  });
  it('a patient adds their first passkey from the account page with their password', async () => {
    const admin = (await app.tokenFor('admin')).token;
    const pid = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Pia Patient' })).body.id;
    const pat = (await app.tokenFor('patient', { patientId: pid })).email;
    await signInWithPassword(pat);
    await page.goto(app.httpUrl + '/#/account');
    await page.getByRole('heading', { name: /^passkeys$/i }).waitFor({ timeout: 20_000 });
    await page.getByLabel(/name for the new passkey/i).fill('My phone');
    await page.getByRole('button', { name: /add a passkey/i }).click();
    await page.getByText(/password: give your password/i).waitFor({ timeout: 20_000 }); // refused without it
    await page.getByLabel(/your password \(to add the first passkey\)/i).fill(PASSWORD);
    await page.getByRole('button', { name: /add a passkey/i }).click();
    await page.getByRole('heading', { name: /keep your recovery codes/i }).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('.passkey-table tbody tr').count(), { timeout: 20_000 }).toBe(1);
    await page.getByText('10 recovery codes left.').waitFor({ timeout: 20_000 }); // the authenticator card counts the new ones
    await page.screenshot({ path: path.join(ARTIFACTS, 'account-first-passkey.png'), fullPage: true });
    await expectAccessible(page, 'account page after a first passkey');
  });
});
