/**
 * Password reset by an emailed one-time link, through a real SMTP mailbox (issue 9, NIST SP 800-63B,
 * OWASP Forgot Password): the same answer for an address with no account; the link is hashed at rest,
 * expires, works once, and a newer one replaces it; a reset signs out every session, revokes every API
 * token and closes the live stream; requests are throttled the same way whether or not the account exists.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bootApp, type TestApp } from './support/app.ts';
import { startSmtp } from './alerts.support.ts';
import { expectEventually } from './support/clinic.ts';

const OLD = 'correct horse battery';
const NEW = 'lantern orbit pebble rain';

describe('password reset by email', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let user: { token: string; email: string };
  let patientId: string;

  const raw = (path: string, init: RequestInit = {}) => fetch(app.httpUrl + path, init);
  const postJson = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await raw(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text(), cookie: res.headers.get('set-cookie')?.split(';')[0] ?? '', headers: res.headers };
  };
  const login = (email: string, password: string) => postJson('/api/v1/auth/login', { email, password });
  const mailsTo = (email: string) => smtp.mails.filter((m) => m.to.includes(email));
  const linkIn = (text: string) => /\/#\/reset-password\/([A-Za-z0-9_-]+)/.exec(text)?.[1];
  let client = 0;
  // Behind a trusted proxy (VIGIL_TRUSTED_PROXIES), each request from its own client address: the per-address
  // throttle (3 a day per address and email) is tested on its own below.
  const requestLink = async (email: string) => {
    const before = mailsTo(email).length;
    const r = await postJson('/api/v1/auth/password-reset', { email }, { 'x-forwarded-for': `203.0.113.${++client}` });
    expect(r.status).toBe(202);
    const mail = await expectEventually(() => {
      const m = mailsTo(email);
      expect(m.length).toBe(before + 1);
      return m.at(-1)!;
    }, 20_000);
    return linkIn(mail.text)!;
  };
  const userId = async (email: string) => (await app.services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [email]))[0].id;

  beforeAll(async () => {
    smtp = await startSmtp();
    app = await bootApp({ env: { VIGIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, VIGIL_TRUSTED_PROXIES: '127.0.0.1' } });
    const admin = await app.tokenFor('admin');
    patientId = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Rosa Reset' })).body.id;
    user = await app.tokenFor('patient', { patientId });
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await smtp?.close();
  });

  it('answers an unknown address exactly as a known one, and emails only the account', async () => {
    const known = await postJson('/api/v1/auth/password-reset', { email: user.email });
    const unknown = await postJson('/api/v1/auth/password-reset', { email: 'nobody-here@test.vigil' });
    expect(unknown.status).toBe(known.status);
    expect(unknown.status).toBe(202);
    expect(unknown.text).toBe(known.text);
    await expectEventually(() => expect(mailsTo(user.email)).toHaveLength(1), 20_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsTo('nobody-here@test.vigil')).toHaveLength(0);
    const mail = mailsTo(user.email)[0];
    expect(mail.subject).toBe('Reset your Vigil password');
    const token = linkIn(mail.text);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // At rest only the SHA-256 of the link's secret.
    const rows = await app.services.db.query<{ token_hash: string }>('SELECT token_hash FROM password_resets WHERE user_id = $1', [await userId(user.email)]);
    expect(rows.map((r) => r.token_hash)).toEqual([createHash('sha256').update(token!).digest('hex')]);
    const dump = JSON.stringify(await app.services.db.query('SELECT * FROM password_resets'));
    expect(dump).not.toContain(token);
    const audit = await app.services.db.query<{ outcome: string; details: { email?: string } }>(
      "SELECT outcome, details FROM audit_log WHERE action = 'auth.password.reset.request' ORDER BY id",
    );
    expect(audit.map((a) => a.outcome).sort()).toEqual(['failure', 'success']);
  });

  it('a reset signs out every session, revokes API tokens and closes the live stream; the link works once', async () => {
    const token = await requestLink(user.email);
    const s1 = await login(user.email, OLD);
    const s2 = await login(user.email, OLD);
    expect(s1.status).toBe(200);
    const ws = new WebSocket(app.httpUrl.replace('http', 'ws') + '/api/v1/stream', { headers: { cookie: s1.cookie } });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.once('message', r));
    expect((await app.api(user.token, 'GET', `/api/v1/patients/${patientId}`)).status).toBe(200);

    // A password the policy refuses leaves the link usable.
    const weak = await postJson('/api/v1/auth/password-reset/confirm', { token, password: '1234567890' });
    expect(weak.status).toBe(400);
    expect((await login(user.email, OLD)).status).toBe(200);

    const ok = await postJson('/api/v1/auth/password-reset/confirm', { token, password: NEW });
    expect(ok.status).toBe(204);
    expect(await closed).toBe(4401);
    for (const s of [s1, s2]) expect((await raw('/api/v1/me', { headers: { cookie: s.cookie } })).status).toBe(401);
    expect((await app.api(user.token, 'GET', `/api/v1/patients/${patientId}`)).status).toBe(401);
    expect((await login(user.email, OLD)).status).toBe(401);
    expect((await login(user.email, NEW)).status).toBe(200);

    const again = await postJson('/api/v1/auth/password-reset/confirm', { token, password: 'another fine passphrase' });
    expect(again.status).toBe(400);
    expect(again.text).toMatch(/expired or was already used/);
    expect((await login(user.email, NEW)).status).toBe(200);
    const [entry] = await app.services.db.query<{ details: { sessionsEnded: number; tokensRevoked: number } }>(
      "SELECT details FROM audit_log WHERE action = 'auth.password.reset' AND outcome = 'success'",
    );
    expect(entry.details.sessionsEnded).toBeGreaterThanOrEqual(3);
    expect(entry.details.tokensRevoked).toBeGreaterThanOrEqual(1);
  });

  it('an expired link and one replaced by a newer request are refused', async () => {
    const first = await requestLink(user.email);
    const second = await requestLink(user.email);
    expect(second).not.toBe(first);
    const replaced = await postJson('/api/v1/auth/password-reset/confirm', { token: first, password: 'yet another passphrase' });
    expect(replaced.status).toBe(400);
    // Expire the live one (30 minutes is the lifetime): it is refused too.
    await app.services.db.query("UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [
      createHash('sha256').update(second).digest('hex'),
    ]);
    const expired = await postJson('/api/v1/auth/password-reset/confirm', { token: second, password: 'yet another passphrase' });
    expect(expired.status).toBe(400);
    expect((await login(user.email, NEW)).status).toBe(200);
    const failures = await app.services.db.query<{ details: { reason: string } }>(
      "SELECT details FROM audit_log WHERE action = 'auth.password.reset' AND outcome = 'failure' ORDER BY id",
    );
    expect(failures.map((f) => f.details.reason)).toEqual(expect.arrayContaining(['used', 'expired', 'unknown link']));
  });

  it('throttles requests per address and email, the same for an address with no account', async () => {
    const answers = async (email: string) => {
      const out: number[] = [];
      for (let i = 0; i < 5; i++) out.push((await postJson('/api/v1/auth/password-reset', { email }, { 'x-forwarded-for': '198.51.100.50' })).status);
      return out;
    };
    const fresh = await app.tokenFor('patient', { patientId });
    const known = await answers(fresh.email);
    const unknown = await answers('nobody-else@test.vigil');
    expect(known).toEqual([202, 202, 202, 429, 429]);
    expect(unknown).toEqual(known);
    await expectEventually(() => expect(mailsTo(fresh.email).length).toBe(3), 20_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsTo(fresh.email).length).toBe(3);
  });

  it('wrong links sent at once from one address: five are checked, the rest wait (found by review: all passed the check together)', async () => {
    const wrong = (i: number) =>
      postJson(
        '/api/v1/auth/password-reset/confirm',
        { token: `${'B'.repeat(40)}${100 + i}`, password: 'quite a good passphrase' },
        { 'x-forwarded-for': '198.51.100.77' },
      );
    const statuses = (await Promise.all(Array.from({ length: 20 }, (_, i) => wrong(i)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 400)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    const refused = await wrong(99);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another address is not held up, and a right link still works there (its success gives its count back).
    const token = await requestLink(user.email);
    const ok = await postJson('/api/v1/auth/password-reset/confirm', { token, password: NEW }, { 'x-forwarded-for': '198.51.100.78' });
    expect(ok.status).toBe(204);
    expect((await login(user.email, NEW)).status).toBe(200);
  });

  it('answers malformed input with a 400 naming the field, and changes nothing', async () => {
    for (const [path, body, field] of [
      ['/api/v1/auth/password-reset', {}, 'email'],
      ['/api/v1/auth/password-reset', { email: 'x'.repeat(400) }, 'email'],
      ['/api/v1/auth/password-reset/confirm', { token: '../../etc', password: NEW }, 'token'],
      ['/api/v1/auth/password-reset/confirm', { token: 'abc', password: 7 }, 'password'],
    ] as const) {
      const r = await postJson(path, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.text).toContain(field);
    }
    const unknown = await postJson('/api/v1/auth/password-reset/confirm', { token: 'A'.repeat(43), password: 'quite a good passphrase' });
    expect(unknown.status).toBe(400);
    expect((await login(user.email, NEW)).status).toBe(200);
  });
});
