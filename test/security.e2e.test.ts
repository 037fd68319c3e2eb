/**
 * Issue 9: the attacks of the security review, re-run against a real server (HTTP, WebSocket, database).
 * Each block names its finding; each failed before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import net from 'node:net';
import os from 'node:os';
import { generate } from 'otplib';
import { bootApp, type TestApp } from './support/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { createRecipientsRepository } from '../src/alerts/recipients.repository.ts';

let app: TestApp;
let admin: { token: string; email: string };
let patientA: string;
let patientB: string;

beforeAll(async () => {
  app = await bootApp({ env: { VIGIL_SESSION_IDLE_MIN: '5' } });
  admin = await app.tokenFor('admin');
  patientA = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Alice Secure' })).body.id;
  patientB = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Bob Secure' })).body.id;
});
afterAll(async () => app?.stop());

const raw = (path: string, init: RequestInit = {}) => fetch(app.httpUrl + path, init);

async function login(email: string, password = 'correct horse battery', headers: Record<string, string> = {}) {
  const res = await raw('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, password }),
  });
  const cookie = res.headers.get('set-cookie')?.split(';')[0] ?? '';
  return { status: res.status, body: (await res.json().catch(() => null)) as { stage?: string; error?: { message: string } } | null, cookie };
}
const withCookie = (cookie: string, path: string, init: RequestInit = {}) =>
  raw(path, { ...init, headers: { ...(init.headers as Record<string, string>), cookie } });

describe('sign-in guesses sent in parallel are not all checked (found by review: they all passed the throttle at once)', () => {
  it('answers one of 12 simultaneous wrong passwords for an account with 401 and the others with 429', async () => {
    const c = await app.tokenFor('clinician');
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => login(c.email, `wrong guess ${i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(2); // before: 12
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
    const failures = await app.services.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.login' AND outcome = 'failure' AND entity_id = (SELECT id FROM users WHERE email = $1)",
      [c.email],
    );
    expect(failures[0].n).toBe(statuses.filter((s) => s === 401).length);
  });
});

describe('F12: the login check sees the decoded path', () => {
  it('/%61pi/v1/patients without credentials is 401, not the patient list', async () => {
    for (const p of ['/%61pi/v1/patients', '/%61%70%69/v1/patients', `/api/v1/%70atients/${patientA}`]) {
      const res = await raw(p);
      expect(res.status, p).toBe(401);
      expect(await res.text()).not.toContain('Alice');
    }
  });
});

describe('F3: the demo stays on this machine', () => {
  it('binds to 127.0.0.1 unless configured', () => {
    expect(loadConfig({}).httpHost).toBe('127.0.0.1');
  });
  it('the embedded MQTT broker listens where HTTP does, not on every interface (found by review)', async () => {
    expect(loadConfig({}).mqttHost).toBe('127.0.0.1');
    expect(loadConfig({ VIGIL_HTTP_HOST: '0.0.0.0' }).mqttHost).toBe('0.0.0.0');
    expect(loadConfig({ VIGIL_MQTT_HOST: '0.0.0.0' }).mqttHost).toBe('0.0.0.0');
    const reach = (host: string) =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(app.mqttPort!, host);
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
    expect(await reach('127.0.0.1')).toBe(true);
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (external) expect(await reach(external)).toBe(false);
  });
  it('GET /api/v1/demo relayed by a proxy (X-Forwarded-For) reveals nothing', async () => {
    app.demo.logins = [{ email: 'admin@vigil.demo', password: 'secret-demo-pass', role: 'admin' }];
    try {
      const relayed = await raw('/api/v1/demo', { headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(relayed.status).toBe(404);
      expect(await relayed.text()).not.toContain('secret-demo-pass');
      expect((await raw('/api/v1/demo')).status).toBe(200); // a browser on this machine
    } finally {
      app.demo.logins = [];
    }
  });
});

describe('F6: cross-site requests', () => {
  it('refuses a text/plain body on a JSON route (415) and changes nothing', async () => {
    const res = await raw('/api/v1/patients', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${admin.token}` },
      body: '{"name":"Mallory"}',
    });
    expect(res.status).toBe(415);
    const list = await app.api<Array<{ name: string }>>(admin.token, 'GET', '/api/v1/patients');
    expect(list.body.map((p) => p.name)).not.toContain('Mallory');
  });
  it('refuses a cookie-authenticated write from another origin or a sibling site, and the session is untouched', async () => {
    const u = await app.tokenFor('patient', { patientId: patientA });
    const s = await login(u.email);
    expect(s.body?.stage).toBe('full');
    const post = (headers: Record<string, string>) =>
      withCookie(s.cookie, '/api/v1/auth/logout-everywhere', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    expect((await post({ origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await post({ origin: 'null' })).status).toBe(403);
    expect((await withCookie(s.cookie, '/api/v1/me')).status).toBe(200);
    expect((await post({ origin: app.httpUrl, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await withCookie(s.cookie, '/api/v1/me')).status).toBe(401);
  });
});

describe('security headers (F13–F18, (d)(7))', () => {
  it('sends CSP with frame-ancestors, nosniff, no-referrer, and no-store on patient data', async () => {
    const res = await raw('/api/v1/patients', { headers: { authorization: `Bearer ${admin.token}` } });
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('strict-transport-security')).toBeNull(); // plain http: no HSTS
  });
});

describe('F4: tokens are scoped, expiring, listed and revocable', () => {
  it('revoking a token answers 401 at once', async () => {
    const t = await app.api<{ id: string; token: string; expiresAt: string }>(admin.token, 'POST', '/api/v1/tokens', { name: 'to revoke' });
    expect(t.status).toBe(201);
    expect(new Date(t.body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 80 * 86_400_000);
    expect((await app.api(t.body.token, 'GET', '/api/v1/patients')).status).toBe(200);
    const listed = await app.api<Array<{ id: string }>>(admin.token, 'GET', '/api/v1/tokens');
    expect(listed.body.map((x) => x.id)).toContain(t.body.id);
    expect(JSON.stringify(listed.body)).not.toContain(t.body.token);
    expect((await app.api(admin.token, 'DELETE', `/api/v1/tokens/${t.body.id}`)).status).toBe(200);
    expect((await app.api(t.body.token, 'GET', '/api/v1/patients')).status).toBe(401);
  });
  it('a read-only token cannot write; a patient-limited token sees only its patients', async () => {
    const ro = await app.api<{ token: string }>(admin.token, 'POST', '/api/v1/tokens', { scope: 'read', patientIds: [patientA] });
    expect((await app.api(ro.body.token, 'POST', '/api/v1/patients', { name: 'Nope' })).status).toBe(403);
    const seen = await app.api<Array<{ id: string }>>(ro.body.token, 'GET', '/api/v1/patients');
    expect(seen.body.map((p) => p.id)).toEqual([patientA]);
    expect((await app.api(ro.body.token, 'GET', `/api/v1/patients/${patientB}`)).status).toBe(404);
  });
  it('an expired token answers 401; a patient cannot mint a permanent one', async () => {
    const t = await app.api<{ id: string; token: string }>(admin.token, 'POST', '/api/v1/tokens', {});
    await app.services.db.query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [t.body.id]);
    expect((await app.api(t.body.token, 'GET', '/api/v1/patients')).status).toBe(401);
    const pat = await app.tokenFor('patient', { patientId: patientA });
    const own = await app.api<{ expiresAt: string | null }>(pat.token, 'POST', '/api/v1/tokens', { ttlDays: 0 });
    expect(own.status).toBe(201);
    expect(own.body.expiresAt).not.toBeNull();
    expect(new Date(own.body.expiresAt!).getTime()).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000 + 60_000);
  });
  it('a disabled account is refused at once, token and session alike, and re-enabling it revives neither', async () => {
    const u = await app.tokenFor('patient', { patientId: patientB });
    const s = await login(u.email);
    expect(s.status).toBe(200);
    const id = (await app.services.repos.users.byEmail(u.email))!.userId;
    expect((await app.api(admin.token, 'POST', `/api/v1/users/${id}/disable`, {})).status).toBe(200);
    expect((await app.api(u.token, 'GET', `/api/v1/patients/${patientB}`)).status).toBe(401);
    expect((await withCookie(s.cookie, '/api/v1/me')).status).toBe(401);
    expect((await login(u.email)).status).toBe(401);
    // Re-enabled, the account signs in afresh, but its old token and session stay dead (found by review: they came back).
    expect((await app.api(admin.token, 'POST', `/api/v1/users/${id}/enable`, {})).status).toBe(200);
    expect((await app.api(u.token, 'GET', `/api/v1/patients/${patientB}`)).status).toBe(401);
    expect((await withCookie(s.cookie, '/api/v1/me')).status).toBe(401);
    expect((await login(u.email)).status).toBe(200);
    const [entry] = await app.services.db.query<{ details: { tokensRevoked: number; sessionsEnded: number } }>(
      "SELECT details FROM audit_log WHERE action = 'user.disable' AND entity_id = $1",
      [id],
    );
    expect(entry.details).toMatchObject({ tokensRevoked: 1, sessionsEnded: 1 });
    // The built-in CLI account cannot be disabled: every later `vigil start` failed (found by review).
    const cli = await app.services.auth.ensureSystemAdmin();
    const refused = await app.api<{ error: { message: string } }>(admin.token, 'POST', `/api/v1/users/${cli.userId}/disable`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/built-in CLI account cannot be disabled/);
  });
  it('a token limited to some patients neither mints a wider token nor acts as an admin (found by review)', async () => {
    const narrow = (await app.services.auth.createToken(admin.email, 'narrow', 'system', { patientIds: [patientA] })).token;
    const wider = await app.api<{ error: { message: string } }>(narrow, 'POST', '/api/v1/tokens', {});
    expect(wider.status).toBe(403);
    expect(wider.body.error.message).toMatch(/limited to some patients can create only tokens limited to them/);
    expect((await app.api(narrow, 'POST', '/api/v1/tokens', { patientIds: [patientA] })).status).toBe(201);
    expect((await app.api(narrow, 'POST', `/api/v1/patients/${patientB}/erase`, { confirm: patientB })).status).toBe(403);
    expect((await app.api(admin.token, 'GET', `/api/v1/patients/${patientB}`)).status).toBe(200);
  });
  it('a password change ends the other sessions; the new password follows NIST 800-63B', async () => {
    const u = await app.tokenFor('patient', { patientId: patientA });
    const a = await login(u.email);
    const b = await login(u.email);
    const weak = await withCookie(a.cookie, '/api/v1/auth/password', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ current: 'correct horse battery', next: '1234567890' }),
    });
    expect(weak.status).toBe(400);
    const ok = await withCookie(a.cookie, '/api/v1/auth/password', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ current: 'correct horse battery', next: 'a much better passphrase' }),
    });
    expect(ok.status).toBe(204);
    expect((await withCookie(a.cookie, '/api/v1/me')).status).toBe(200);
    expect((await withCookie(b.cookie, '/api/v1/me')).status).toBe(401);
    expect((await login(u.email)).status).toBe(401);
    expect((await login(u.email, 'a much better passphrase')).status).toBe(200);
    // Not with an API token, and not as an unlimited guess at the current password (found by review).
    expect((await app.api(u.token, 'POST', '/api/v1/auth/password', { current: 'x', next: 'another long passphrase' })).status).toBe(403);
    const guesses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await withCookie(a.cookie, '/api/v1/auth/password', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ current: `guess ${i}`, next: 'another long passphrase' }),
      });
      guesses.push(res.status);
    }
    expect(guesses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(guesses.at(-1)).toBe(429);
  });
});

describe('(d)(5): session time-outs', () => {
  it('a session idle longer than VIGIL_SESSION_IDLE_MIN, or past its absolute lifetime, is over', async () => {
    const u = await app.tokenFor('patient', { patientId: patientA });
    const a = await login(u.email);
    const b = await login(u.email);
    expect((await withCookie(a.cookie, '/api/v1/me')).status).toBe(200);
    const uid = (await app.services.repos.users.byEmail(u.email))!.userId;
    const [sa, sb] = await app.services.db.query<{ id: string }>('SELECT id FROM sessions WHERE user_id = $1 ORDER BY created_at', [uid]);
    await app.services.db.query("UPDATE sessions SET last_seen_at = now() - interval '6 minutes' WHERE id = $1", [sa.id]);
    await app.services.db.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1", [sb.id]);
    expect((await withCookie(a.cookie, '/api/v1/me')).status).toBe(401);
    expect((await withCookie(b.cookie, '/api/v1/me')).status).toBe(401);
  });
});

describe('F5: the live WebSocket', () => {
  const open = (headers: Record<string, string>) =>
    new Promise<{ ws: WebSocket; hello: unknown; closed: Promise<number> }>((resolve, reject) => {
      const ws = new WebSocket(app.httpUrl.replace('http', 'ws') + '/api/v1/stream', { headers });
      const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
      ws.once('message', (m) => resolve({ ws, hello: JSON.parse(String(m)), closed }));
      ws.once('close', (code) => resolve({ ws, hello: null, closed: Promise.resolve(code) }));
      ws.once('error', reject);
    });
  it('closes when its session signs out', async () => {
    const u = await app.tokenFor('patient', { patientId: patientA });
    const s = await login(u.email);
    const { hello, closed } = await open({ cookie: s.cookie });
    expect(hello).toMatchObject({ type: 'hello' });
    await withCookie(s.cookie, '/api/v1/auth/logout', { method: 'POST' });
    expect(await closed).toBe(4401);
  });
  it('closes when its token is revoked', async () => {
    const t = await app.api<{ id: string; token: string }>(admin.token, 'POST', '/api/v1/tokens', {});
    const { hello, closed } = await open({ authorization: `Bearer ${t.body.token}` });
    expect(hello).toMatchObject({ type: 'hello' });
    await app.api(admin.token, 'DELETE', `/api/v1/tokens/${t.body.id}`);
    expect(await closed).toBe(4401);
  });
  it('refuses a page from another origin riding the cookie', async () => {
    const u = await app.tokenFor('patient', { patientId: patientA });
    const s = await login(u.email);
    const { hello, closed } = await open({ cookie: s.cookie, origin: 'https://evil.example' });
    expect(hello).toBeNull();
    expect(await closed).toBe(4403);
  });
});

describe('F7: login throttling by real address and account, with backoff', () => {
  it('a spoofed X-Forwarded-For does not reset the count (no trusted proxy configured)', async () => {
    const u = await app.tokenFor('patient', { patientId: patientA });
    for (let i = 0; i < 5; i++) expect((await login(u.email, 'wrong password ' + i, { 'x-forwarded-for': `198.51.100.${i}` })).status).toBe(401);
    const sixth = await login(u.email, 'wrong again', { 'x-forwarded-for': '198.51.100.77' });
    expect(sixth.status).toBe(429);
    // Backoff, not a lock: after the wait, the right password works.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await login(u.email)).status).toBe(200);
  });
});

describe('(d)(13): two-step sign-in (TOTP, recovery codes)', () => {
  it('a clinician must enrol, then signs in with a code; a code works once; a recovery code works once', async () => {
    const c = await app.tokenFor('clinician');
    const first = await login(c.email);
    expect(first.body?.stage).toBe('enrol');
    expect((await withCookie(first.cookie, '/api/v1/patients')).status).toBe(401); // nothing before the second factor
    const begin = (await (await withCookie(first.cookie, '/api/v1/auth/mfa/totp', { method: 'POST' })).json()) as { secret: string; uri: string };
    expect(begin.uri).toMatch(/^otpauth:\/\/totp\//);
    const bad = await withCookie(first.cookie, '/api/v1/auth/mfa/totp/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"code":"000000"}',
    });
    expect(bad.status).toBe(400);
    const confirm = await withCookie(first.cookie, '/api/v1/auth/mfa/totp/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: await generate({ secret: begin.secret }) }),
    });
    expect(confirm.status).toBe(200);
    const { recoveryCodes } = (await confirm.json()) as { recoveryCodes: string[] };
    expect(recoveryCodes).toHaveLength(10);
    const full = confirm.headers.get('set-cookie')!.split(';')[0];
    expect((await withCookie(full, '/api/v1/patients')).status).toBe(200);
    expect((await withCookie(first.cookie, '/api/v1/patients')).status).toBe(401); // the pre-MFA session id is gone

    const second = await login(c.email);
    expect(second.body?.stage).toBe('mfa');
    expect((await withCookie(second.cookie, '/api/v1/patients')).status).toBe(401);
    const mfa = (cookie: string, code: string) =>
      withCookie(cookie, '/api/v1/auth/mfa', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    expect((await mfa(second.cookie, '123456')).status).toBe(401);
    // The code used at enrolment cannot be replayed in the same time step; a recovery code works once.
    const rec = await mfa(second.cookie, recoveryCodes[0]);
    expect(rec.status).toBe(200);
    const third = await login(c.email);
    expect((await mfa(third.cookie, recoveryCodes[0])).status).toBe(401);
    const audit = await app.services.db.query<{ action: string; outcome: string }>(
      "SELECT action, outcome FROM audit_log WHERE action LIKE 'auth.%' AND entity_id = (SELECT id FROM users WHERE email = $1) ORDER BY id",
      [c.email],
    );
    expect(audit.map((a) => `${a.action}:${a.outcome}`)).toEqual(
      expect.arrayContaining(['auth.login:success', 'auth.mfa.enrol:success', 'auth.mfa:failure', 'auth.mfa:success']),
    );
  });
});

describe('(d)(13): replacing the authenticator needs the current one (found by review: a signed-in session swapped it freely)', () => {
  it('refuses without a current code or with a wrong one (throttled), then replaces it with a recovery code; the old app stops working', async () => {
    const c = await app.tokenFor('clinician');
    const first = await login(c.email);
    const post = (cookie: string, path: string, body?: unknown) =>
      withCookie(cookie, path, { method: 'POST', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    const old = (await (await post(first.cookie, '/api/v1/auth/mfa/totp')).json()) as { secret: string };
    const enrolled = await post(first.cookie, '/api/v1/auth/mfa/totp/confirm', { code: await generate({ secret: old.secret }) });
    const { recoveryCodes } = (await enrolled.json()) as { recoveryCodes: string[] };
    const full = enrolled.headers.get('set-cookie')!.split(';')[0];
    // The full session (say, left open on a ward PC) starts a replacement.
    const next = (await (await post(full, '/api/v1/auth/mfa/totp')).json()) as { secret: string };
    const nextCode = await generate({ secret: next.secret });
    const without = await post(full, '/api/v1/auth/mfa/totp/confirm', { code: nextCode });
    expect(without.status).toBe(400); // before: 200, and the owner's authenticator was gone
    expect(((await without.json()) as { error: { message: string } }).error.message).toMatch(
      /^current: give a code from your authenticator app or a recovery code/,
    );
    // A wrong new code is refused before the current code is spent.
    const wrongNew = await post(full, '/api/v1/auth/mfa/totp/confirm', { code: '000000', current: recoveryCodes[0] });
    expect(((await wrongNew.json()) as { error: { message: string } }).error.message).toMatch(/new authenticator entry/);
    const guesses: number[] = [];
    for (let i = 0; i < 7; i++) guesses.push((await post(full, '/api/v1/auth/mfa/totp/confirm', { code: nextCode, current: `0000${i}-00000` })).status);
    expect(guesses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
    expect(guesses.at(-1)).toBe(429);
    // The owner, with a recovery code (another account: this one now waits out the throttle).
    const d = await app.tokenFor('clinician');
    const dFirst = await login(d.email);
    const dOld = (await (await post(dFirst.cookie, '/api/v1/auth/mfa/totp')).json()) as { secret: string };
    const dEnrolled = await post(dFirst.cookie, '/api/v1/auth/mfa/totp/confirm', { code: await generate({ secret: dOld.secret }) });
    const dCodes = ((await dEnrolled.json()) as { recoveryCodes: string[] }).recoveryCodes;
    const dFull = dEnrolled.headers.get('set-cookie')!.split(';')[0];
    const dNext = (await (await post(dFull, '/api/v1/auth/mfa/totp')).json()) as { secret: string };
    const replaced = await post(dFull, '/api/v1/auth/mfa/totp/confirm', { code: await generate({ secret: dNext.secret }), current: dCodes[0] });
    expect(replaced.status).toBe(200);
    // Sign-in now takes the new app's codes, not the old one's.
    const again = await login(d.email);
    const oldCode = await generate({ secret: dOld.secret, epoch: Date.now() / 1000 + 30 });
    expect((await post(again.cookie, '/api/v1/auth/mfa', { code: oldCode })).status).toBe(401);
    const newCode = await generate({ secret: dNext.secret, epoch: Date.now() / 1000 + 30 });
    expect((await post(again.cookie, '/api/v1/auth/mfa', { code: newCode })).status).toBe(200);
    const audit = await app.services.db.query<{ outcome: string }>(
      "SELECT outcome FROM audit_log WHERE action = 'auth.mfa.enrol' AND entity_id = (SELECT id FROM users WHERE email = $1) ORDER BY id",
      [c.email],
    );
    expect(audit.map((a) => a.outcome)).toEqual(['success', 'failure', 'failure', 'failure', 'failure', 'failure']);
  });
});

describe('(d)(13): an enrolment session opened before the owner enrolled elsewhere cannot replace that factor (found by review)', () => {
  it('asks the stale enrolment session for a current code', async () => {
    const c = await app.tokenFor('clinician');
    const post = (cookie: string, path: string, body?: unknown) =>
      withCookie(cookie, path, { method: 'POST', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    // Two password sign-ins of an account without a second factor yet: both sessions must enrol one.
    const owner = await login(c.email);
    const stale = await login(c.email);
    const ownerSecret = (await (await post(owner.cookie, '/api/v1/auth/mfa/totp')).json()) as { secret: string };
    expect((await post(owner.cookie, '/api/v1/auth/mfa/totp/confirm', { code: await generate({ secret: ownerSecret.secret }) })).status).toBe(200);
    // The other session, still in its enrolment stage, tries to put its own authenticator in.
    const theirs = (await (await post(stale.cookie, '/api/v1/auth/mfa/totp')).json()) as { secret: string };
    const swapped = await post(stale.cookie, '/api/v1/auth/mfa/totp/confirm', { code: await generate({ secret: theirs.secret }) });
    expect(swapped.status).toBe(400); // before: 200, a full session, and the owner's authenticator gone
    expect(((await swapped.json()) as { error: { message: string } }).error.message).toMatch(/^current: /);
    expect(swapped.headers.get('set-cookie')).toBeNull();
    // The owner's authenticator still signs in.
    const again = await login(c.email);
    const code = await generate({ secret: ownerSecret.secret, epoch: Date.now() / 1000 + 30 });
    expect((await post(again.cookie, '/api/v1/auth/mfa', { code })).status).toBe(200);
  });
});

describe('(d)(13): the first second factor of an account is added with its password (found by review)', () => {
  it('refuses a full session without the password, or with a wrong one; accepts the right one', async () => {
    const admin = (await app.tokenFor('admin')).token;
    const pid = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Petra Phone' })).body.id;
    const pat = await app.tokenFor('patient', { patientId: pid });
    const session = await login(pat.email);
    expect(session.body?.stage).toBe('full'); // patients need no second factor: a full session at once
    const post = (path: string, body?: unknown) =>
      withCookie(session.cookie, path, {
        method: 'POST',
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    const message = async (res: Response) => ((await res.json()) as { error: { message: string } }).error.message;
    // A passkey (someone at the patient's open session, on their own phone): not without the password.
    const bare = await post('/api/v1/auth/passkeys/options');
    expect(bare.status).toBe(400); // before: 200, and the passkey then signed in alone
    expect(await message(bare)).toMatch(/^password: /);
    expect((await post('/api/v1/auth/passkeys/options', { password: 'not it at all' })).status).toBe(400);
    expect((await post('/api/v1/auth/passkeys/options', { password: 'correct horse battery' })).status).toBe(200);
    // An authenticator app likewise.
    const secret = ((await (await post('/api/v1/auth/mfa/totp')).json()) as { secret: string }).secret;
    const without = await post('/api/v1/auth/mfa/totp/confirm', { code: await generate({ secret }) });
    expect(without.status).toBe(400);
    expect(await message(without)).toMatch(/^password: /);
    const wrong = await post('/api/v1/auth/mfa/totp/confirm', { code: await generate({ secret }), password: 'not it at all' });
    expect(await message(wrong)).toMatch(/^password: that is not your password/);
    const right = await post('/api/v1/auth/mfa/totp/confirm', { code: await generate({ secret }), password: 'correct horse battery' });
    expect(right.status).toBe(200);
    const failures = await app.services.db.query<{ action: string }>(
      "SELECT action FROM audit_log WHERE outcome = 'failure' AND details->>'reason' = 'wrong password' AND entity_id = (SELECT id FROM users WHERE email = $1)",
      [pat.email],
    );
    expect(failures.map((f) => f.action).sort()).toEqual(['auth.mfa.enrol', 'auth.passkey.add']);
  });
});

describe('F8 and F1: alerts stay within the care team; acknowledging with {} keeps the audit chain intact', () => {
  it('assigning an alert to a clinician outside the care team is refused; acknowledge accepts {}', async () => {
    const inside = await app.tokenFor('clinician');
    const outside = await app.tokenFor('clinician');
    expect((await app.api(admin.token, 'POST', `/api/v1/patients/${patientA}/care-team`, { practitionerId: inside.practitionerId })).status).toBe(204);
    const d = await app.api<{ id: string; secret: string }>(admin.token, 'POST', '/api/v1/devices', { patientId: patientA, type: 'pulse-oximeter' });
    const now = Date.now();
    for (let i = 0; i <= 6; i++) {
      const res = await raw(`/api/v1/devices/${d.body.id}/telemetry`, {
        method: 'POST',
        headers: { authorization: `Bearer ${d.body.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ts: now - 180_000 + i * 30_000, spo2: 84 }),
      });
      expect(res.status).toBe(202);
    }
    let alerts: Array<{ id: string; patientId: string }> = [];
    for (let i = 0; i < 100 && alerts.length === 0; i++) {
      alerts = (await app.api<Array<{ id: string; patientId: string }>>(admin.token, 'GET', '/api/v1/alerts?status=open')).body.filter(
        (a) => a.patientId === patientA,
      );
      if (!alerts.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(alerts.length).toBeGreaterThan(0);
    const id = alerts[0].id;
    const userId = async (email: string) => (await app.services.repos.users.byEmail(email))!.userId;
    const out = await app.api<{ error: { message: string } }>(admin.token, 'POST', `/api/v1/alerts/${id}/assign`, { userId: await userId(outside.email) });
    expect(out.status).toBe(400);
    expect(out.body.error.message).toMatch(/care team/);
    expect((await app.api(admin.token, 'POST', `/api/v1/alerts/${id}/assign`, { userId: await userId(inside.email) })).status).toBe(200);
    // Escalation to a named person goes through the same check before any email or push is planned.
    const recipients = createRecipientsRepository(app.services.db);
    expect(await recipients.mayReceive(await userId(outside.email), patientA)).toBe(false);
    expect(await recipients.mayReceive(await userId(inside.email), patientA)).toBe(true);
    expect((await app.api(inside.token, 'POST', `/api/v1/alerts/${id}/acknowledge`, {})).status).toBe(200);
  });
});

describe('care team: an admin removes a clinician, who loses the patient at once (found by review: there was no route)', () => {
  it('DELETE /patients/{id}/care-team/{practitionerId} ends access, is audited, and names what is missing', async () => {
    const carer = await app.tokenFor('clinician');
    const patient = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Cara Team' })).body.id;
    expect((await app.api(admin.token, 'POST', `/api/v1/patients/${patient}/care-team`, { practitionerId: carer.practitionerId })).status).toBe(204);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patient}`)).status).toBe(200);
    // Only an admin removes; a clinician cannot take a colleague (or themself) off a team.
    expect((await app.api(carer.token, 'DELETE', `/api/v1/patients/${patient}/care-team/${carer.practitionerId}`)).status).toBe(403);
    expect((await app.api(admin.token, 'DELETE', `/api/v1/patients/${patient}/care-team/${carer.practitionerId}`)).status).toBe(204);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patient}`)).status).toBe(404);
    expect((await app.api<Array<{ id: string }>>(carer.token, 'GET', '/api/v1/patients')).body.map((p) => p.id)).not.toContain(patient);
    const detail = await app.api<{ careTeam: Array<{ id: string }> }>(admin.token, 'GET', `/api/v1/patients/${patient}`);
    expect(detail.body.careTeam.map((c) => c.id)).not.toContain(carer.practitionerId);
    // Removing again, or from a patient that does not exist, is a 404 naming what was not found.
    const again = await app.api<{ error: { message: string } }>(admin.token, 'DELETE', `/api/v1/patients/${patient}/care-team/${carer.practitionerId}`);
    expect(again.status).toBe(404);
    expect(again.body.error.message).toMatch(/care team/);
    expect((await app.api(admin.token, 'DELETE', `/api/v1/patients/nope/care-team/${carer.practitionerId}`)).status).toBe(404);
    const audit = await app.services.db.query<{ action: string; details: { practitionerId: string } }>(
      "SELECT action, details FROM audit_log WHERE patient_id = $1 AND action LIKE 'careteam.%' ORDER BY id",
      [patient],
    );
    expect(audit.map((a) => a.action)).toEqual(['careteam.add', 'careteam.remove']);
    expect(audit[1].details.practitionerId).toBe(carer.practitionerId);
  });
});

describe('F11 and (d)(3): reads and refused access are audited; "who saw my record"', () => {
  it('records a clinician reading a chart and an outsider refused, and shows both to the patient and the admin', async () => {
    const carer = await app.tokenFor('clinician');
    const outsider = await app.tokenFor('clinician');
    await app.api(admin.token, 'POST', `/api/v1/patients/${patientB}/care-team`, { practitionerId: carer.practitionerId });
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientB}`)).status).toBe(200);
    expect((await app.api(outsider.token, 'GET', `/api/v1/patients/${patientB}/readings?code=8867-4&from=0`)).status).toBe(404);
    expect((await raw(`/api/v1/patients/${patientB}`)).status).toBe(401);
    const pat = await app.tokenFor('patient', { patientId: patientB });
    let log: Array<{ action: string; outcome: string; who: { email: string } | null; what: string }> = [];
    for (let i = 0; i < 50; i++) {
      log = (await app.api<typeof log>(pat.token, 'GET', `/api/v1/patients/${patientB}/access-log`)).body;
      if (log.some((e) => e.action === 'access.refused' && e.who?.email === outsider.email)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(log).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'read', outcome: 'success', what: '/api/v1/patients/:id', who: expect.objectContaining({ email: carer.email }) }),
        expect.objectContaining({ action: 'access.refused', outcome: 'failure', who: expect.objectContaining({ email: outsider.email }) }),
      ]),
    );
    // Another patient's log is not theirs to see; an admin searches refused access across the clinic.
    expect((await app.api(pat.token, 'GET', `/api/v1/patients/${patientA}/access-log`)).status).toBe(404);
    const refused = await app.api<Array<{ actor: string; details: { status: number } }>>(
      admin.token,
      'GET',
      `/api/v1/audit?patient=${patientB}&action=access.refused`,
    );
    expect(refused.body.map((r) => r.details.status)).toEqual(expect.arrayContaining([404, 401]));
    expect((await app.api(carer.token, 'GET', '/api/v1/audit')).status).toBe(403);
  });
});

describe('(d)(6): break the glass', () => {
  it('a clinician outside the care team opens a record with a reason, for a limited time, flagged for review', async () => {
    const er = await app.tokenFor('clinician');
    const before = await app.api(er.token, 'GET', `/api/v1/patients/${patientB}`);
    expect(before.status).toBe(404);
    // API tokens cannot break the glass; a signed-in person can (here: a session made directly).
    expect((await app.api(er.token, 'POST', `/api/v1/patients/${patientB}/emergency-access`, { reason: 'unconscious in ED, no carer reachable' })).status).toBe(
      403,
    );
    const principal = (await app.services.auth.listUsers()).find((u) => u.email === er.email)!;
    const sessionPrincipal = {
      ...principal,
      credential: { kind: 'session' as const, id: 'ses_test', scope: 'write' as const, patients: null, stage: 'full' as const },
    };
    await expect(app.services.emergency.open(sessionPrincipal, patientB, 'short')).rejects.toThrow(/reason/);
    const grant = await app.services.emergency.open(sessionPrincipal, patientB, 'unconscious in ED, no carer reachable');
    expect(Date.parse(grant.expiresAt) - Date.now()).toBeGreaterThan(55 * 60_000);
    expect(await app.services.access.canSeePatient(sessionPrincipal, patientB)).toBe(true);
    expect(await app.services.access.canSeePatient({ ...sessionPrincipal, credential: { ...sessionPrincipal.credential, kind: 'token' } }, patientB)).toBe(
      false,
    );
    const pending = await app.api<Array<{ id: string; reason: string }>>(admin.token, 'GET', '/api/v1/emergency-access?unreviewed=1');
    expect(pending.body.map((g) => g.id)).toContain(grant.id);
    expect((await app.api(admin.token, 'POST', `/api/v1/emergency-access/${grant.id}/review`, { note: 'appropriate' })).status).toBe(200);
    expect((await app.api<unknown[]>(admin.token, 'GET', '/api/v1/emergency-access?unreviewed=1')).body.map((g) => (g as { id: string }).id)).not.toContain(
      grant.id,
    );
    // Expired: access ends.
    await app.services.db.query("UPDATE emergency_access SET expires_at = now() - interval '1 second' WHERE id = $1", [grant.id]);
    expect(await app.services.access.canSeePatient(sessionPrincipal, patientB)).toBe(false);
    const audit = await app.services.db.query<{ action: string }>('SELECT action FROM audit_log WHERE entity_id = $1 ORDER BY id', [grant.id]);
    expect(audit.map((a) => a.action)).toEqual(['access.emergency', 'access.emergency.review']);
  });
});

describe('GDPR art. 17: erasure by crypto-shredding', () => {
  it('shreds the keys, deletes identifiable rows, leaves other patients alone, and keeps a surviving audit entry', async () => {
    const victim = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Erase Me' })).body.id;
    const pat = await app.tokenFor('patient', { patientId: victim });
    const thread = await app.api<{ id: string }>(pat.token, 'POST', `/api/v1/patients/${victim}/threads`, { subject: 'Hi', text: 'please forget me' });
    expect(thread.status).toBe(201);
    const sealed = await app.services.db.query<{ body: unknown }>('SELECT * FROM messages WHERE patient_id = $1', [victim]);
    expect(sealed.length).toBe(1);
    const d = await app.api<{ id: string; secret: string }>(admin.token, 'POST', '/api/v1/devices', { patientId: victim, type: 'pulse-oximeter' });
    expect(
      (
        await raw(`/api/v1/devices/${d.body.id}/telemetry`, {
          method: 'POST',
          headers: { authorization: `Bearer ${d.body.secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ hr: 77 }),
        })
      ).status,
    ).toBe(202);
    const othersBefore = (await app.api<unknown[]>(admin.token, 'GET', '/api/v1/patients')).body.length;

    expect((await app.api(admin.token, 'POST', `/api/v1/patients/${victim}/erase`, {})).status).toBe(400); // must confirm
    expect((await app.api(pat.token, 'POST', `/api/v1/patients/${victim}/erase`, { confirm: victim })).status).toBe(403);
    const r = await app.api<{ shredded: boolean; deleted: Record<string, number> }>(admin.token, 'POST', `/api/v1/patients/${victim}/erase`, {
      confirm: victim,
    });
    expect(r.status).toBe(200);
    expect(r.body.shredded).toBe(true);
    expect(r.body.deleted.readings).toBeGreaterThanOrEqual(1);

    expect((await app.api(admin.token, 'GET', `/api/v1/patients/${victim}`)).status).toBe(404);
    expect((await app.api(pat.token, 'GET', `/api/v1/patients/${victim}`)).status).toBe(401); // their login is gone
    for (const [table, col] of [
      ['patients', 'id'],
      ['readings', 'patient_id'],
      ['messages', 'patient_id'],
      ['message_threads', 'patient_id'],
      ['devices', 'patient_id'],
      ['patient_keys', 'patient_id'],
    ]) {
      expect((await app.services.db.query(`SELECT 1 FROM ${table} WHERE ${col} = $1`, [victim])).length, table).toBe(0);
    }
    await expect(app.services.cipher.open(victim, Buffer.from('VGE\x01\x01\x00\x00\x00\x01' + 'x'.repeat(40), 'latin1'))).rejects.toThrow(/erased/);
    expect((await app.api<unknown[]>(admin.token, 'GET', '/api/v1/patients')).body.length).toBe(othersBefore - 1);
    const entry = await app.services.db.query<{ action: string }>("SELECT action FROM audit_log WHERE patient_id = $1 AND action = 'patient.erase'", [victim]);
    expect(entry).toHaveLength(1);
  });
});

describe('F10/F1: the audit trail of this whole run verifies', () => {
  it('vigil audit verify finds nothing wrong', async () => {
    const r = await app.services.audit.verify();
    expect(r.bad).toEqual([]);
    expect(r.checked).toBeGreaterThan(20);
  });
});
