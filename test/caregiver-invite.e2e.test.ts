/**
 * A patient invites a family member by email (issue 9), through a real SMTP mailbox: the link is hashed at
 * rest, works once, expires and can be withdrawn; accepting creates a caregiver account for the invited
 * address (or links the one signed in) with read access to that patient only; nobody else can invite for the
 * patient; every step is audited with the patient's id; bad input is a 400 naming the field.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { startSmtp } from './alerts.support.ts';
import { expectEventually } from './support/clinic.ts';

const GOOD = 'kettle meadow thunder seven';

describe('caregiver invitations by email', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let alice: string;
  let bob: string;
  let aliceUser: { token: string; email: string };
  let bobUser: { token: string; email: string };
  let nurse: { token: string };

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(app.httpUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* empty */
    }
    return { status: res.status, text, body: json, cookie: res.headers.get('set-cookie')?.split(';')[0] ?? '', retryAfter: res.headers.get('retry-after') };
  };
  const inviteLink = async (token: string, patientId: string, email: string) => {
    const before = smtp.mails.filter((m) => m.to.includes(email)).length;
    const r = await app.api<{ id: string; status: string }>(token, 'POST', `/api/v1/patients/${patientId}/caregiver-invites`, { email });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const mail = await expectEventually(() => {
      const m = smtp.mails.filter((x) => x.to.includes(email));
      expect(m.length).toBe(before + 1);
      return m.at(-1)!;
    }, 20_000);
    return { id: r.body.id, token: /\/#\/invite\/([A-Za-z0-9_-]+)/.exec(mail.text)![1], mail };
  };
  const login = (email: string, password: string) => post('/api/v1/auth/login', { email, password });
  const getWith = (cookie: string, path: string) => fetch(app.httpUrl + path, { headers: { cookie } }).then((r) => r.status);

  beforeAll(async () => {
    smtp = await startSmtp();
    app = await bootApp({ env: { VIGIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` } });
    const admin = await app.tokenFor('admin');
    alice = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Alice Invites' })).body.id;
    bob = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Bob Other' })).body.id;
    aliceUser = await app.tokenFor('patient', { patientId: alice });
    bobUser = await app.tokenFor('patient', { patientId: bob });
    nurse = await app.tokenFor('clinician');
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await smtp?.close();
  });

  it('the invited family member creates a caregiver account from the link and reads that patient only', async () => {
    const { id, token, mail } = await inviteLink(aliceUser.token, alice, 'daughter@family.example');
    expect(mail.subject).toMatch(/invited you to follow their care/);
    expect(mail.text).not.toContain('Alice Invites'); // the record's name is not in the email; the account's display name is
    const [row] = await app.services.db.query<{ token_hash: string; patient_id: string }>(
      'SELECT token_hash, patient_id FROM caregiver_invites WHERE id = $1',
      [id],
    );
    expect(row).toEqual({ token_hash: createHash('sha256').update(token).digest('hex'), patient_id: alice });
    expect(JSON.stringify(await app.services.db.query('SELECT * FROM caregiver_invites'))).not.toContain(token);

    const preview = await post('/api/v1/caregiver-invites/preview', { token });
    expect(preview.body).toMatchObject({ email: 'daughter@family.example', hasAccount: false });

    const weak = await post('/api/v1/caregiver-invites/accept', { token, displayName: 'Dana', password: 'password1234' });
    expect(weak.status).toBe(400);
    expect(weak.text).toContain('password');
    const ok = await post('/api/v1/caregiver-invites/accept', { token, displayName: 'Dana', password: GOOD });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ email: 'daughter@family.example', accountCreated: true });

    const s = await login('daughter@family.example', GOOD);
    expect(s.status).toBe(200);
    expect(await getWith(s.cookie, `/api/v1/patients/${alice}`)).toBe(200);
    expect(await getWith(s.cookie, `/api/v1/patients/${bob}`)).toBe(404);
    const write = await fetch(app.httpUrl + `/api/v1/patients/${alice}/settings`, {
      method: 'PATCH',
      headers: { cookie: s.cookie, 'content-type': 'application/json', origin: app.httpUrl },
      body: JSON.stringify({ onOxygen: true }),
    });
    expect(write.status).toBe(403); // read access only

    const again = await post('/api/v1/caregiver-invites/accept', { token, displayName: 'Mallory', password: 'another decent passphrase' });
    expect(again.status).toBe(400);
    expect(again.text).toMatch(/expired, was withdrawn or was already used/);
    const listed = await app.api<Array<{ id: string; status: string }>>(aliceUser.token, 'GET', `/api/v1/patients/${alice}/caregiver-invites`);
    expect(listed.body.find((i) => i.id === id)?.status).toBe('accepted');
    const audit = await app.services.db.query<{ action: string; outcome: string; patient_id: string }>(
      "SELECT action, outcome, patient_id FROM audit_log WHERE action LIKE 'caregiver.invite%' OR action = 'consent.grant' ORDER BY id",
    );
    expect(audit.filter((a) => a.outcome === 'success').map((a) => a.action)).toEqual(['caregiver.invite', 'caregiver.invite.accept', 'consent.grant']);
    expect(audit.filter((a) => a.outcome === 'success').every((a) => a.patient_id === alice)).toBe(true);
    // The spent link's second use is refused and recorded (it names no patient: the link no longer leads to one).
    expect(audit.filter((a) => a.outcome === 'failure').map((a) => a.action)).toEqual(['caregiver.invite.accept']);
  });

  it('a withdrawn, replaced or expired invitation is refused', async () => {
    const first = await inviteLink(aliceUser.token, alice, 'son@family.example');
    const revoked = await app.api<{ status: string }>(aliceUser.token, 'POST', `/api/v1/caregiver-invites/${first.id}/revoke`);
    expect(revoked.body.status).toBe('revoked');
    expect((await post('/api/v1/caregiver-invites/accept', { token: first.token, displayName: 'Sam', password: GOOD })).status).toBe(400);

    const second = await inviteLink(aliceUser.token, alice, 'son@family.example');
    const third = await inviteLink(aliceUser.token, alice, 'son@family.example'); // replaces the second
    expect((await post('/api/v1/caregiver-invites/preview', { token: second.token })).status).toBe(400);
    await app.services.db.query("UPDATE caregiver_invites SET expires_at = now() - interval '1 second' WHERE id = $1", [third.id]);
    expect((await post('/api/v1/caregiver-invites/accept', { token: third.token, displayName: 'Sam', password: GOOD })).status).toBe(400);
    expect((await app.services.db.query("SELECT 1 FROM users WHERE email = 'son@family.example'")).length).toBe(0);
  });

  it('only the patient (or an admin) invites and withdraws; others learn nothing', async () => {
    expect((await app.api(bobUser.token, 'POST', `/api/v1/patients/${alice}/caregiver-invites`, { email: 'x@family.example' })).status).toBe(404);
    expect((await app.api(nurse.token, 'POST', `/api/v1/patients/${alice}/caregiver-invites`, { email: 'x@family.example' })).status).toBe(404);
    const pending = await inviteLink(aliceUser.token, alice, 'niece@family.example');
    expect((await app.api(bobUser.token, 'POST', `/api/v1/caregiver-invites/${pending.id}/revoke`)).status).toBe(404);
    expect((await app.api(bobUser.token, 'GET', `/api/v1/patients/${alice}/caregiver-invites`)).status).toBe(404);
    expect((await post('/api/v1/caregiver-invites/preview', { token: pending.token })).status).toBe(200);
  });

  it('an existing caregiver account accepts by signing in as the invited address, not as anyone else', async () => {
    await app.services.auth.createUser({ email: 'uncle@family.example', role: 'caregiver', password: GOOD }, 'system');
    const { token } = await inviteLink(bobUser.token, bob, 'uncle@family.example');
    const anonymous = await post('/api/v1/caregiver-invites/accept', { token });
    expect(anonymous.status).toBe(409);
    expect(anonymous.text).toMatch(/sign in/);
    const dana = await login('daughter@family.example', GOOD);
    const wrong = await post('/api/v1/caregiver-invites/accept', { token }, { cookie: dana.cookie, origin: app.httpUrl });
    expect(wrong.status).toBe(403);
    const uncle = await login('uncle@family.example', GOOD);
    expect(await getWith(uncle.cookie, `/api/v1/patients/${bob}`)).toBe(404);
    const ok = await post('/api/v1/caregiver-invites/accept', { token }, { cookie: uncle.cookie, origin: app.httpUrl });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ accountCreated: false });
    expect(await getWith(uncle.cookie, `/api/v1/patients/${bob}`)).toBe(200);
    // Dana (Alice's carer) still sees Alice only.
    expect(await getWith(dana.cookie, `/api/v1/patients/${bob}`)).toBe(404);
  });

  it('a staff or patient account cannot become a carer through an invitation', async () => {
    const { token } = await inviteLink(aliceUser.token, alice, bobUser.email);
    const bobSession = await login(bobUser.email, 'correct horse battery');
    const r = await post('/api/v1/caregiver-invites/accept', { token }, { cookie: bobSession.cookie, origin: app.httpUrl });
    expect(r.status).toBe(409);
    expect(await getWith(bobSession.cookie, `/api/v1/patients/${alice}`)).toBe(404);
  });

  it('answers malformed input with a 400 naming the field', async () => {
    for (const [body, field] of [
      [{ email: 'not-an-email' }, 'email'],
      [{ email: 'a@b.example', days: 99 }, 'days'],
      [{ email: 'a@b.example', days: 1.5 }, 'days'],
      [{}, 'email'],
    ] as const) {
      const r = await app.api(aliceUser.token, 'POST', `/api/v1/patients/${alice}/caregiver-invites`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(r.body)).toContain(field);
    }
    const badToken = await post('/api/v1/caregiver-invites/accept', { token: '../etc/passwd' });
    expect(badToken.status).toBe(400);
    expect(badToken.text).toContain('token');
    const noName = await post('/api/v1/caregiver-invites/accept', {
      token: (await inviteLink(aliceUser.token, alice, 'cousin@family.example')).token,
      password: GOOD,
    });
    expect(noName.status).toBe(400);
    expect(noName.text).toContain('displayName');
  });

  it("disabling the inviter's account ends its open invitations, and re-enabling brings none back (found by review)", async () => {
    const admin = await app.tokenFor('admin');
    const carl = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Carl Taken' })).body.id;
    const carlUser = await app.tokenFor('patient', { patientId: carl });
    // The earlier tests spent this address's free wrong links: each refusal here waits out the backoff first.
    const acceptPastThrottle = async (body: unknown) => {
      for (;;) {
        const r = await post('/api/v1/caregiver-invites/accept', body);
        if (r.status !== 429) return r;
        expect(Number(r.retryAfter)).toBeGreaterThan(0); // says how long (it did not, found by review)
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };
    const [{ id: carlUserId }] = await app.services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [carlUser.email]);
    // Someone who took Carl's account over invites their own address.
    const taken = await inviteLink(carlUser.token, carl, 'intruder@elsewhere.example');
    const disabled = await app.api<{ disabled: boolean }>(admin.token, 'POST', `/api/v1/users/${carlUserId}/disable`);
    expect(disabled.status).toBe(200);
    const [entry] = await app.services.db.query<{ details: { caregiverInvites: number } }>(
      "SELECT details FROM audit_log WHERE action = 'user.disable' AND entity_id = $1",
      [carlUserId],
    );
    expect(entry.details.caregiverInvites).toBe(1);
    expect((await acceptPastThrottle({ token: taken.token, displayName: 'Ivan', password: GOOD })).status).toBe(400);
    expect((await app.api(admin.token, 'POST', `/api/v1/users/${carlUserId}/enable`)).status).toBe(200);
    expect((await acceptPastThrottle({ token: taken.token, displayName: 'Ivan', password: GOOD })).status).toBe(400);
    expect((await app.services.db.query("SELECT 1 FROM users WHERE email = 'intruder@elsewhere.example'")).length).toBe(0);
    // And an invitation whose inviter is disabled when it is accepted gives nothing, however it survived.
    const again = await app.tokenFor('patient', { patientId: carl }); // (the disable revoked the first account's token)
    const later = await inviteLink(again.token, carl, 'cousin@family.example');
    await app.services.db.query('UPDATE users SET disabled_at = now() WHERE email = $1', [again.email]);
    expect((await acceptPastThrottle({ token: later.token, displayName: 'Cora', password: GOOD })).status).toBe(400);
    expect((await app.services.db.query("SELECT 1 FROM users WHERE email = 'cousin@family.example'")).length).toBe(0);
  });
});
