/**
 * Issue 9, hostile input on the security routes (auth, users, tokens, audit, break the glass, erasure):
 * NUL bytes, wrong types and huge values are a 400 that names the field, never a 500, and change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';

let app: TestApp;
let admin: string;
let patientId: string;

beforeAll(async () => {
  app = await bootApp();
  admin = (await app.tokenFor('admin')).token;
  patientId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Input Checked' })).body.id;
}, 180_000);
afterAll(async () => app?.stop());

const HUGE = 'x'.repeat(20_000);

/** [method, path, body, the field the 400 must name] */
const cases: Array<[string, string, unknown, string]> = [
  ['POST', '/api/v1/auth/login', { email: 'a\u0000b@x', password: 'p' }, 'body.email'],
  ['POST', '/api/v1/auth/login', { email: 42, password: 'p' }, 'body.email'],
  ['POST', '/api/v1/auth/login', { email: 'a@x', password: HUGE }, 'body.password'],
  ['POST', '/api/v1/auth/login', { email: ['a@x'], password: { $ne: 1 } }, 'body.email'],
  ['POST', '/api/v1/auth/mfa', { code: 123456 }, 'body.code'],
  ['POST', '/api/v1/auth/password', { current: 'x', next: null }, 'body.next'],
  ['POST', '/api/v1/auth/logout-everywhere', { keepThis: 'yes' }, 'body.keepThis'],
  ['POST', '/api/v1/users', { email: 'n\u0000@x.test', role: 'clinician' }, 'body.email'],
  ['POST', '/api/v1/users', { email: 'a@x.test', role: 'root' }, 'body.role'],
  ['POST', '/api/v1/users', { email: 'a@x.test', role: 'clinician', displayName: HUGE }, 'body.displayName'],
  ['POST', '/api/v1/tokens', { ttlDays: 1e300 }, 'body.ttlDays'],
  ['POST', '/api/v1/tokens', { ttlDays: '7' }, 'body.ttlDays'],
  ['POST', '/api/v1/tokens', { scope: 'admin' }, 'body.scope'],
  ['POST', '/api/v1/tokens', { patientIds: 'all' }, 'body.patientIds'],
  ['POST', '/api/v1/tokens', { patientIds: ['a\u0000'] }, 'body.patientIds.0'],
  ['GET', '/api/v1/tokens?all=maybe', undefined, 'querystring.all'],
  ['DELETE', '/api/v1/tokens/a%00b', undefined, 'params.id'],
  ['POST', '/api/v1/users/a%00b/disable', {}, 'params.id'],
  ['POST', `/api/v1/users/${'u'.repeat(99)}%00/mfa/reset`, {}, 'params.id'],
  ['POST', '/api/v1/patients/PATIENT/care-team', { practitionerId: 7 }, 'body.practitionerId'],
  ['POST', '/api/v1/patients/PATIENT/care-team', { practitionerId: 'p\u0000' }, 'body.practitionerId'],
  ['GET', '/api/v1/audit?from=2026-99-99', undefined, 'querystring.from'],
  ['GET', '/api/v1/audit?to=+275760-09-14T00:00:00Z', undefined, 'querystring.to'],
  ['GET', '/api/v1/audit?limit=abc', undefined, 'querystring.limit'],
  ['GET', '/api/v1/audit?limit=1e9', undefined, 'querystring.limit'],
  ['GET', '/api/v1/audit?actor=a%00b', undefined, 'querystring.actor'],
  ['GET', '/api/v1/audit?outcome=maybe', undefined, 'querystring.outcome'],
  ['GET', '/api/v1/patients/PATIENT/access-log?before=1;DROP', undefined, 'querystring.before'],
  ['GET', '/api/v1/patients/PATIENT/access-log?limit=-1', undefined, 'querystring.limit'],
  ['GET', '/api/v1/emergency-access?unreviewed=%00', undefined, 'querystring.unreviewed'],
  ['POST', '/api/v1/emergency-access/x/review', { note: HUGE }, 'body.note'],
  ['POST', '/api/v1/emergency-access/x/review', { note: 5 }, 'body.note'],
  ['POST', '/api/v1/patients/PATIENT/erase', { confirm: ['PATIENT'] }, 'body.confirm'],
  ['POST', '/api/v1/patients/PATIENT/erase', {}, 'body.confirm'],
];

describe('malformed input on the security routes: 400 naming the field, never a 500', () => {
  const short = (v: unknown) =>
    JSON.stringify(v)
      ?.replace(/x{20,}/g, (m) => `x…(${m.length})`)
      .slice(0, 120);
  it.each(cases.map(([m, p, b, f]) => [`${m} ${p.slice(0, 80)} ${short(b) ?? ''}`, m, p, b, f] as const))(
    '%s → 400 naming the field',
    async (_label, method, path, body, field) => {
      const res = await app.api<{ error: { code: string; message: string } }>(
        admin,
        method,
        path.replace('PATIENT', patientId),
        body === undefined ? undefined : JSON.parse(JSON.stringify(body).replaceAll('PATIENT', patientId)),
      );
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.message).toContain(field);
    },
  );

  it('a path parameter longer than the router takes is a 414 in the API error shape', async () => {
    const res = await app.api<{ error: { code: string; message: string } }>(admin, 'POST', `/api/v1/users/${'u'.repeat(300)}/mfa/reset`, {});
    expect(res.status).toBe(414);
    expect(res.body.error.message).toMatch(/too long/);
  });

  it('a clinician breaking the glass with no reason, or a NUL in it, is told why (400)', async () => {
    const clin = (await app.tokenFor('clinician')).token;
    for (const body of [{}, { reason: 'abc' }, { reason: 'unconscious\u0000 in the ED' }, { reason: 12345678901 }]) {
      const res = await app.api<{ error: { message: string } }>(clin, 'POST', `/api/v1/patients/${patientId}/emergency-access`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toContain('body.reason');
    }
  });

  it('refused input changed nothing: the patient, the accounts and the tokens are as before', async () => {
    const patient = await app.api<{ name: string }>(admin, 'GET', `/api/v1/patients/${patientId}`);
    expect(patient.status).toBe(200);
    expect(patient.body.name).toBe('Input Checked');
    const users = await app.api<Array<{ email: string }>>(admin, 'GET', '/api/v1/users');
    expect(users.body.some((u) => u.email.includes('x.test'))).toBe(false);
    const tokens = await app.api<Array<{ id: string }>>(admin, 'GET', '/api/v1/tokens?all=1');
    expect(tokens.status).toBe(200);
    expect(tokens.body).toHaveLength(2); // the admin's and the clinician's test tokens only
    const verify = await app.services.audit.verify();
    expect(verify.bad).toEqual([]);
  });

  it('well-formed requests still work: login refuses a wrong password with 401, a token is minted and listed', async () => {
    expect((await app.api('', 'POST', '/api/v1/auth/login', { email: 'nobody@x.test', password: 'wrong password here' })).status).toBe(401);
    const t = await app.api<{ id: string; scope: string; expiresAt: string }>(admin, 'POST', '/api/v1/tokens', { name: 'ci', scope: 'read', ttlDays: 7 });
    expect(t.status).toBe(201);
    expect(t.body.scope).toBe('read');
    const list = await app.api<Array<{ id: string }>>(admin, 'GET', '/api/v1/tokens');
    expect(list.body.map((x) => x.id)).toContain(t.body.id);
    expect((await app.api(admin, 'DELETE', `/api/v1/tokens/${t.body.id}`)).status).toBe(200);
  });
});
