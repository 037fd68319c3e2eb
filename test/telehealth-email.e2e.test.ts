/**
 * Telehealth emails over real SMTP (the same local mailbox the alert tests use): a message from the care team
 * left unread earns the patient one nudge per thread per period, with nothing of the message in it; a read
 * message earns none; appointment reminders go once (again after a reschedule) with the link and no reason;
 * a relay that refuses keeps the nudge for the next pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { startSmtp } from './alerts.support.ts';
import { expectEventually } from './support/clinic.ts';
import nodemailer from 'nodemailer';
import { createMessageNudges } from '../src/messaging/email-nudges.ts';
import { createAppointmentReminders } from '../src/appointments/reminders.ts';
import { createAppointmentsRepository } from '../src/appointments/appointments.repository.ts';
import { createLogger } from '../src/platform/logger.ts';

const eventually = <T>(check: () => T | Promise<T>) => expectEventually(check, 15_000);

const SECRET = ['potassium', 'spironolactone', 'Kidney results', '6.1'];

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (telehealth emails on PostgreSQL)');

for (const engine of ['pglite', 'postgres'] as const)
  describe.skipIf(engine === 'postgres' && !hasPg)(`telehealth emails on ${engine}`, () => {
    let dropDb: (() => Promise<void>) | null = null;
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
      const pg = engine === 'postgres' ? await createTestDatabase() : null;
      dropDb = pg?.drop ?? null;
      app = await bootApp({
        databaseUrl: pg?.url,
        env: {
          VIGIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
          VIGIL_MESSAGE_NUDGE_AFTER_S: '1',
          VIGIL_MESSAGE_NUDGE_PERIOD_S: '3600',
          VIGIL_TELEHEALTH_EMAIL_TICK_S: '1',
          VIGIL_APPOINTMENT_REMINDER_LEAD_S: '7200',
        },
      });
      const s = app.services;
      alice = (await s.patientService.create({ name: 'Alice Ames' }, 'system')).id;
      bob = (await s.patientService.create({ name: 'Bob Brown' }, 'system')).id;
      nurse = await app.tokenFor('clinician');
      await s.patientService.assignClinician(alice, nurse.practitionerId!, 'system');
      await s.patientService.assignClinician(bob, nurse.practitionerId!, 'system');
      await s.repos.patients.updateSettings(alice, { timeZone: 'America/New_York' });
      aliceUser = await app.tokenFor('patient', { patientId: alice });
      bobUser = await app.tokenFor('patient', { patientId: bob });
    }, 120_000);
    afterAll(async () => {
      await app?.stop();
      await smtp?.close();
      await dropDb?.();
    });

    it('nudges a patient once about an unread message, with no health content; not one who has read it', async () => {
      const a = await app.api<{ id: string }>(nurse.token, 'POST', `/api/v1/patients/${alice}/threads`, {
        subject: 'Kidney results',
        text: 'Your potassium is 6.1: please stop the spironolactone today.',
      });
      expect(a.status).toBe(201);
      const b = await app.api<{ id: string }>(nurse.token, 'POST', `/api/v1/patients/${bob}/threads`, {
        subject: 'Kidney results',
        text: 'Your potassium is fine.',
      });
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
      const apt = await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', {
        patientId: alice,
        start: start.toISOString(),
        description: 'Discuss the potassium result',
      });
      expect(apt.status).toBe(201);
      const reminder = await eventually(() => {
        const m = to(aliceUser.email).filter((x) => x.subject.startsWith('Reminder'));
        expect(m).toHaveLength(1);
        return m[0];
      });
      expect(reminder.subject).toMatch(/^Reminder: your video visit on /);
      // In the patient's own time zone (found by review: it was UTC).
      const local = start.toLocaleString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'America/New_York' });
      expect(reminder.subject).toContain(local);
      expect(reminder.subject).not.toMatch(/UTC/);
      expect(reminder.text).toContain(`/visits/${apt.body.id}`);
      for (const word of SECRET) expect(reminder.raw, word).not.toContain(word);
      await new Promise((r) => setTimeout(r, 2_500));
      expect(to(aliceUser.email).filter((x) => x.subject.startsWith('Reminder'))).toHaveLength(1);
      // Not for a visit outside the lead time; again for one moved (a new time to remember).
      await app.api(nurse.token, 'POST', '/api/v1/appointments', { patientId: bob, start: new Date(Date.now() + 5 * 86_400_000).toISOString() });
      expect(
        (await app.api(nurse.token, 'POST', `/api/v1/appointments/${apt.body.id}/reschedule`, { start: new Date(start.getTime() + 1_800_000).toISOString() }))
          .status,
      ).toBe(200);
      await eventually(() => expect(to(aliceUser.email).filter((x) => x.subject.startsWith('Reminder'))).toHaveLength(2));
      await new Promise((r) => setTimeout(r, 1_500));
      expect(to(bobUser.email).filter((x) => x.subject.startsWith('Reminder'))).toHaveLength(0);
    });

    it('(d)(2) a nudge or reminder whose audit entry cannot be written is neither claimed nor sent; then both are', async () => {
      const s = app.services;
      const carol = (await s.patientService.create({ name: 'Carol Cole' }, 'system')).id;
      await s.patientService.assignClinician(carol, nurse.practitionerId!, 'system');
      const carolUser = await app.tokenFor('patient', { patientId: carol });
      // The same passes the server runs each tick, over the same SMTP relay, called here so the refusal is observed.
      const transport = nodemailer.createTransport(`smtp://127.0.0.1:${smtp.port}`);
      const send = async (to: string, subject: string, text: string) => void (await transport.sendMail({ from: 'vigil@test', to, subject, text }));
      const logger = createLogger('silent');
      const nudges = createMessageNudges({ db: s.db, audit: s.audit, send, baseUrl: () => app.httpUrl, logger, afterS: 1, periodS: 3600 });
      const reminders = createAppointmentReminders({
        db: s.db,
        repo: createAppointmentsRepository(s.db, s.cipher),
        audit: s.audit,
        send,
        baseUrl: () => app.httpUrl,
        logger,
        leadS: 7200,
      });
      const entries = (action: string) =>
        s.db.query<{ outcome: string }>(`SELECT outcome FROM audit_log WHERE action = $1 AND patient_id = $2`, [action, carol]);

      await s.db.exec(`CREATE FUNCTION test_refuse_email_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.action IN ('message.nudge', 'appointment.remind') THEN RAISE EXCEPTION 'injected audit failure'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER test_refuse_email_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_refuse_email_audit();`);
      let apt = '';
      try {
        const t = await app.api<{ id: string }>(nurse.token, 'POST', `/api/v1/patients/${carol}/threads`, { text: 'See you soon.' });
        expect(t.status).toBe(201);
        apt = (
          await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', {
            patientId: carol,
            start: new Date(Date.now() + 3_600_000).toISOString(),
          })
        ).body.id;
        await new Promise((r) => setTimeout(r, 1_100)); // the message is older than afterS (1 s)
        await expect(nudges.run(Date.now())).rejects.toMatchObject({ status: 503 });
        await expect(reminders.run(Date.now())).rejects.toMatchObject({ status: 503 });
        expect(await s.db.query('SELECT 1 FROM message_nudges WHERE thread_id = $1', [t.body.id])).toEqual([]);
        expect(await s.db.query('SELECT 1 FROM appointments WHERE id = $1 AND reminder_sent_at IS NOT NULL', [apt])).toEqual([]);
        expect(to(carolUser.email)).toHaveLength(0);
        expect(await entries('message.nudge')).toEqual([]);
        expect(await entries('appointment.remind')).toEqual([]);
      } finally {
        await s.db.exec('DROP TRIGGER test_refuse_email_audit ON audit_log; DROP FUNCTION test_refuse_email_audit();');
      }
      // Audit back: each is claimed with its entry and sent (by these passes or the server's own tick).
      await nudges.run(Date.now());
      await reminders.run(Date.now());
      await eventually(() =>
        expect(
          to(carolUser.email)
            .map((m) => m.subject.slice(0, 8))
            .sort(),
        ).toEqual(['Reminder', 'You have']),
      );
      expect(await entries('message.nudge')).toEqual([{ outcome: 'success' }]);
      expect(await entries('appointment.remind')).toEqual([{ outcome: 'success' }]);
      expect(await s.db.query('SELECT 1 FROM appointments WHERE id = $1 AND reminder_sent_at IS NOT NULL', [apt])).toHaveLength(1);
      transport.close();
    });
  });
