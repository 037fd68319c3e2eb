import type { Db } from '../platform/db.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Logger } from '../platform/logger.ts';
import type { Appointment, AppointmentsRepository } from './appointments.repository.ts';
import type { SendMail } from '../messaging/email-nudges.ts';
import { isTimeZone } from '../platform/time-zone.ts';

/**
 * Appointment reminders by email: every booked visit starting within `leadS` is claimed once (repository
 * `claimReminders`, one UPDATE … RETURNING, so instances never both send) and its patient (and caregivers
 * their consent names) get its day, time and link; no reason for the visit, no clinician's name. A visit
 * moved later is reminded again (rescheduling clears the mark); a failed send gives the claim back.
 */
export function createAppointmentReminders(deps: {
  db: Db;
  repo: AppointmentsRepository;
  audit: AuditService;
  send: SendMail;
  baseUrl: () => string;
  logger: Logger;
  leadS: number;
  /** The clinic's IANA zone (VIGIL_TIME_ZONE), for patients without their own. */
  timeZone?: string;
}) {
  const log = deps.logger.child({ module: 'appointment-reminders' });
  // The patient's clock (found by review: a New York patient's 9:00 visit was emailed as "14:00 UTC").
  const when = (t: number, timeZone: string) =>
    new Date(t).toLocaleString('en-GB', {
      weekday: 'long',
      day: 'numeric',
      month: 'long',
      hour: '2-digit',
      minute: '2-digit',
      timeZone,
      timeZoneName: 'short',
    });
  return {
    async run(now: number): Promise<number> {
      // The claims, their recipients and one appointment.remind entry each commit together ((d)(2)), before any
      // email leaves: a reminder is never sent without its entry.
      const claimed = await deps.audit.change(async (tx, audit) => {
        const out: Array<{ a: Appointment; to: Array<{ email: string; display_name: string }>; zone: string }> = [];
        for (const a of await deps.repo.claimReminders(now, now + deps.leadS * 1000, tx)) {
          const to = await tx.query<{ email: string; display_name: string }>(
            `SELECT u.email, u.display_name FROM users u WHERE u.disabled_at IS NULL AND (u.patient_id = $1
               OR EXISTS (SELECT 1 FROM consents c WHERE c.kind = 'caregiver' AND c.grantee_user_id = u.id AND c.patient_id = $1 AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > $2)))`,
            [a.patientId, new Date(now).toISOString()],
          );
          const [own] = await tx.query<{ zone: string | null }>(`SELECT settings->>'timeZone' AS zone FROM patients WHERE id = $1`, [a.patientId]);
          const zone = own?.zone && isTimeZone(own.zone) ? own.zone : (deps.timeZone ?? 'UTC');
          audit({
            actor: 'system',
            action: 'appointment.remind',
            entityType: 'Appointment',
            entityId: a.id,
            patientId: a.patientId,
            details: { recipients: to.length },
          });
          out.push({ a, to, zone });
        }
        return out;
      });
      let sent = 0;
      for (const { a, to, zone } of claimed) {
        try {
          for (const u of to) {
            const kind = a.mode === 'audio' ? 'phone (audio) visit' : 'video visit';
            await deps.send(
              u.email,
              `Reminder: your ${kind} on ${when(a.start, zone)}`,
              `Hello ${u.display_name},\n\nThis is a reminder of your ${kind} with your care team on ${when(a.start, zone)}.\n\nA few minutes before, open this link and press Join: ${deps.baseUrl()}/visits/${a.id}\n\nTo cancel or change the time, sign in to Vigil and open My appointments.\n`,
            );
          }
          sent += to.length;
        } catch (err) {
          // Given back for the next pass, with a failure entry in the same transaction.
          await deps.audit.change(async (tx, audit) => {
            await deps.repo.unclaimReminder(a.id, tx);
            audit({
              actor: 'system',
              action: 'appointment.remind',
              entityType: 'Appointment',
              entityId: a.id,
              patientId: a.patientId,
              outcome: 'failure',
              details: { recipients: to.length, error: (err as Error).message.slice(0, 200) },
            });
          });
          log.warn({ err: (err as Error).message, appointmentId: a.id }, 'appointment reminder not sent; will retry');
        }
      }
      return sent;
    },
  };
}
