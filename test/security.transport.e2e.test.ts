/**
 * ONC §170.315(d)(9) trusted connection, HIPAA §164.312(e)(1): behind HTTPS (VIGIL_PUBLIC_URL=https://…) every
 * answer carries HSTS for a year and the session cookie is Secure (never sent over plain http), httpOnly and
 * SameSite=Strict. TLS itself is the reverse proxy's; this checks what Vigil adds.
 * ONC §170.315(d)(12) encrypt authentication credentials: after a password, a session, an API token and a
 * device secret exist, none of them is anywhere in the database in clear (every row of every table, as text).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';

let app: TestApp;
let email: string;
/** The address it listens on (httpUrl is the public https one, served by the proxy). */
const local = () => `http://127.0.0.1:${app.httpPort}`;
beforeAll(async () => {
  app = await bootApp({ env: { VIGIL_PUBLIC_URL: 'https://vigil.clinic.example', VIGIL_REQUIRE_MFA: '0' } });
  email = (await app.tokenFor('patient', { patientId: (await app.services.patientService.create({ name: 'Tls Patient' }, 'system')).id })).email;
}, 180_000);
afterAll(async () => app?.stop());

describe('(d)(9) behind HTTPS', () => {
  it('sends HSTS (1 year, subdomains) and a Secure, httpOnly, SameSite=Strict session cookie', async () => {
    const res = await fetch(`${local()}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'correct horse battery' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/;\s*Secure/i);
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    const health = await fetch(`${local()}/health`);
    expect(health.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });
});

describe('(d)(12) credentials are stored only hashed', () => {
  it('no table holds a password, session cookie, API token or device secret in clear; passwords are scrypt', async () => {
    const password = 'unique passphrase 7f3a9c2e';
    const created = await app.services.auth.createUser({ email: `cred-${Date.now()}@test.vigil`, role: 'admin', password }, 'system');
    const login = await fetch(`${local()}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: created.email, password }),
    });
    expect(login.status).toBe(200);
    const session = decodeURIComponent((login.headers.get('set-cookie') ?? '').split(';')[0].split('=').slice(1).join('='));
    expect(session.length).toBeGreaterThan(20);
    const { token } = await app.services.auth.createToken(created.email, 'scan', 'system');
    const device = await app.services.deviceService.provision({ patientId: null, type: 'pulse-oximeter' }, 'system');
    const tables = await app.services.db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'`);
    expect(tables.length).toBeGreaterThan(20);
    const secrets = { password, session, token, 'device secret': device.secret };
    let emailSeen = false;
    for (const { t } of tables) {
      const rows = await app.services.db.query<{ j: string }>(`SELECT to_jsonb(x)::text AS j FROM "${t}" x`);
      const text = rows.map((r) => r.j).join('\n');
      emailSeen ||= text.includes(created.email);
      for (const [what, value] of Object.entries(secrets)) expect(text.includes(value), `${what} in clear in table ${t}`).toBe(false);
    }
    expect(emailSeen).toBe(true); // the scan does see what is stored in clear (the email), so it would catch a secret
    const [u] = await app.services.db.query<{ h: string }>('SELECT password_hash AS h FROM users WHERE id = $1', [created.id]);
    expect(u.h).toMatch(/^scrypt\$/);
  });
});
