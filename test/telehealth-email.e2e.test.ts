/**
 * Telehealth emails over real SMTP (the same local mailbox the alert tests use): a message from the care team
 * left unread earns the patient one nudge per thread per period, with nothing of the message in it; a read
 * message earns none; appointment reminders go once (again after a reschedule) with the link and no reason;
 * a relay that refuses keeps the nudge for the next pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { startSmtp } from './alerts.support.ts';
import { expectEventually } from './support/clinic.ts';

const eventually = <T>(check: () => T | Promise<T>) => expectEventually(check, 15_000);

const SECRET = ['potassium', 'spironolactone', 'Kidney results', '6.1'];

describe('telehealth emails', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let alice: string;
  let bob: string;
  let aliceUser: { token: string; email: string };
  let bobUser: { token: string; email: string };
  let nurse: { token: string; practitionerId: string | null };
  const to = (email: string) => smtp.mails.filter((m) => m.to.includes(email));

  beforeAll(async () => {
    smtp = await startSmtp();
    app = await bootApp({
      env: { VIGIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, VIGIL_MESSAGE_NUDGE_AFTER_S: '1', VIGIL_MESSAGE_NUDGE_PERIOD_S: '3600', VIGIL_TELEHEALTH_EMAIL_TICK_S: '1', VIGIL_APPOINTMENT_REMINDER_LEAD_S: '7200' },
    });
    const s = app.services;
    alice = (await s.patientService.create({ name: 'Alice Ames' }, 'system')).id;
    bob = (await s.patientService.create({ name: 'Bob Brown' }, 'system')).id;
    nurse = await app.tokenFor('clinician');
    await s.patientService.assignClinician(alice, nurse.practitionerId!, 'system');
    await s.patientService.assignClinician(bob, nurse.practitionerId!, 'system');
    aliceUser = await app.tokenFor('patient', { patientId: alice });
    bobUser = await app.tokenFor('patient', { patientId: bob });
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await smtp?.close();
  });

  it('nudges a patient once about an unread message, with no health content; not one who has read it', async () => {
    const a = await app.api<{ id: string }>(nurse.token, 'POST', `/api/v1/patients/${alice}/threads`, { subject: 'Kidney results', text: 'Your potassium is 6.1: please stop the spironolactone today.' });
    expect(a.status).toBe(201);
    const b = await app.api<{ id: string }>(nurse.token, 'POST', `/api/v1/patients/${bob}/threads`, { subject: 'Kidney results', text: 'Your potassium is fine.' });
    expect((await app.api(bobUser.token, 'POST', `/api/v1/threads/${b.body.id}/read`, {})).status).toBe(200);
    const mail = await eventually(() => {
      const m = to(aliceUser.email);
      expect(m).toHaveLength(1);
      return m[0];
    });
    expect(mail.subject).toBe('You have a new message from your care team');
    for (const word of SECRET) {
      expect(mail.subject + mail.text, word).not.toContain(word);
      expect(mail.raw, word).not.toContain(word);
    }
    expect(mail.text).toContain('/#/portal');
    // Several more passes inside the period: still one nudge for that thread; Bob (who read his) none.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(to(aliceUser.email)).toHaveLength(1);
    expect(to(bobUser.email)).toHaveLength(0);
    const audit = await app.services.db.query<{ entity_id: string }>(`SELECT entity_id FROM audit_log WHERE action = 'message.nudge'`);
    expect(audit.map((r) => r.entity_id)).toEqual([a.body.id]);
  });

  it('keeps a nudge the relay refused and sends it on a later pass', async () => {
    smtp.accept = false;
    const t = await app.api<{ id: string }>(nurse.token, 'POST', `/api/v1/patients/${bob}/threads`, { text: 'Please book a blood test.' });
    expect(t.status).toBe(201);
    await eventually(() => expect(smtp.rejected).toBeGreaterThan(0));
    expect(to(bobUser.email)).toHaveLength(0);
    smtp.accept = true;
    await eventually(() => expect(to(bobUser.email)).toHaveLength(1));
    expect(to(bobUser.email)[0].text).not.toContain('blood');
  });

  it('reminds the patient of a visit once, with its link and without its reason; again after it moves', async () => {
    const start = new Date(Date.now() + 3_600_000);
    const apt = await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', { patientId: alice, start: start.toISOString(), description: 'Discuss the potassium result' });
    expect(apt.status).toBe(201);
    const reminder = await eventually(() => {
      const m = to(aliceUser.email).filter((x) => x.subject.startsWith('Reminder'));
      expect(m).toHaveLength(1);
      return m[0];
    });
    expect(reminder.subject).toMatch(/^Reminder: your video visit on /);
    expect(reminder.text).toContain(`/visits/${apt.body.id}`);
    for (const word of SECRET) expect(reminder.raw, word).not.toContain(word);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(to(aliceUser.email).filter((x) => x.subject.startsWith('Reminder'))).toHaveLength(1);
    // Not for a visit outside the lead time; again for one moved (a new time to remember).
    await app.api(nurse.token, 'POST', '/api/v1/appointments', { patientId: bob, start: new Date(Date.now() + 5 * 86_400_000).toISOString() });
    expect((await app.api(nurse.token, 'POST', `/api/v1/appointments/${apt.body.id}/reschedule`, { start: new Date(start.getTime() + 1_800_000).toISOString() })).status).toBe(200);
    await eventually(() => expect(to(aliceUser.email).filter((x) => x.subject.startsWith('Reminder'))).toHaveLength(2));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(to(bobUser.email).filter((x) => x.subject.startsWith('Reminder'))).toHaveLength(0);
  });
});
