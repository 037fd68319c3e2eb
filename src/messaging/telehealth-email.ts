import nodemailer from 'nodemailer';
import type { Db } from '../platform/db.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { AppointmentsRepository } from '../appointments/appointments.repository.ts';
import type { VisitsConfig } from '../visits/visits.config.ts';
import { createMessageNudges } from './email-nudges.ts';
import { createAppointmentReminders } from '../appointments/reminders.ts';

/**
 * The telehealth email sweep: every `tickS`, unread-message nudges and appointment reminders, over the same
 * SMTP relay as alert emails (VIGIL_SMTP_URL, or the demo mailbox). Without SMTP nothing runs.
 */
export function startTelehealthEmail(deps: {
  db: Db;
  appointments: AppointmentsRepository;
  audit: AuditService;
  clock: Clock;
  logger: Logger;
  baseUrl: () => string;
  smtp: { url: string | null; from: string };
  config: VisitsConfig['email'];
  /** The clinic's IANA zone: reminders give the time in the patient's zone, else this one. */
  timeZone: string;
}) {
  if (!deps.smtp.url) return { runOnce: async () => ({ nudges: 0, reminders: 0 }), close: async () => undefined };
  const transport = nodemailer.createTransport(deps.smtp.url, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as never);
  const send = async (to: string, subject: string, text: string) => {
    await transport.sendMail({ from: deps.smtp.from, to, subject, text });
  };
  const nudges = createMessageNudges({
    db: deps.db,
    audit: deps.audit,
    send,
    baseUrl: deps.baseUrl,
    logger: deps.logger,
    afterS: deps.config.nudgeAfterS,
    periodS: deps.config.nudgePeriodS,
  });
  const reminders = createAppointmentReminders({
    db: deps.db,
    repo: deps.appointments,
    audit: deps.audit,
    send,
    baseUrl: deps.baseUrl,
    logger: deps.logger,
    leadS: deps.config.reminderLeadS,
    timeZone: deps.timeZone,
  });
  const log = deps.logger.child({ module: 'telehealth-email' });
  let running: Promise<unknown> = Promise.resolve();
  const runOnce = async () => {
    const now = deps.clock.now();
    return { nudges: await nudges.run(now), reminders: await reminders.run(now) };
  };
  const timer = setInterval(() => {
    running = running.then(runOnce).catch((err: Error) => log.warn({ err: err.message }, 'telehealth email pass failed'));
  }, deps.config.tickS * 1000);
  timer.unref();
  return {
    runOnce,
    async close() {
      clearInterval(timer);
      await running;
      transport.close();
    },
  };
}
