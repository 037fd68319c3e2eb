import type { Db } from '../platform/db.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Logger } from '../platform/logger.ts';

/** Sends one plain-text email (nodemailer over the configured SMTP relay, or the demo mailbox). */
export type SendMail = (to: string, subject: string, text: string) => Promise<void>;

const iso = (t: number) => new Date(t).toISOString();

/**
 * Email nudges for messages left unread: a patient (or a caregiver their consent names) who has not read a
 * message from the care team for `afterS` gets one email per thread per `periodS` saying that there is a
 * message, and nothing of it: no text, no sender, no subject line, no diagnosis (HIPAA minimum necessary;
 * email is not a secure channel). The claim is a conditional upsert, so two instances never both send.
 */
export function createMessageNudges(deps: {
  db: Db;
  audit: AuditService;
  send: SendMail;
  baseUrl: () => string;
  logger: Logger;
  afterS: number;
  periodS: number;
}) {
  const log = deps.logger.child({ module: 'message-nudges' });
  return {
    /** One pass: finds who is due a nudge, claims and sends; returns how many were sent. */
    async run(now: number): Promise<number> {
      const due = await deps.db.query<{ thread_id: string; patient_id: string; user_id: string; email: string; display_name: string; last: Date | null }>(
        `SELECT DISTINCT t.id AS thread_id, t.patient_id, u.id AS user_id, u.email, u.display_name, n.sent_at AS last
         FROM message_threads t
         JOIN messages m ON m.thread_id = t.id AND m.sender_kind IN ('staff', 'system') AND m.sent_at <= $2
         JOIN users u ON u.disabled_at IS NULL AND (
              u.patient_id = t.patient_id
           OR EXISTS (SELECT 1 FROM consents c WHERE c.kind = 'caregiver' AND c.grantee_user_id = u.id AND c.patient_id = t.patient_id
                      AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > $1)))
         LEFT JOIN message_nudges n ON n.thread_id = t.id AND n.user_id = u.id
         WHERE m.sender_user_id IS DISTINCT FROM u.id
           AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.message_id = m.id AND r.user_id = u.id)
           AND (n.sent_at IS NULL OR n.sent_at <= $3)
         LIMIT 500`,
        [iso(now), iso(now - deps.afterS * 1000), iso(now - deps.periodS * 1000)],
      );
      let sent = 0;
      for (const d of due) {
        // The claim and its message.nudge entry commit together ((d)(2)), before the email leaves: an email is
        // never sent without its entry (a crash between commit and send leaves an entry for an unsent nudge).
        const claimed = await deps.audit.change(async (tx, audit) => {
          const rows = await tx.query(
            `INSERT INTO message_nudges (thread_id, user_id, sent_at) VALUES ($1, $2, $3)
             ON CONFLICT (thread_id, user_id) DO UPDATE SET sent_at = EXCLUDED.sent_at WHERE message_nudges.sent_at <= $4
             RETURNING thread_id`,
            [d.thread_id, d.user_id, iso(now), iso(now - deps.periodS * 1000)],
          );
          if (rows.length)
            audit({
              actor: 'system',
              action: 'message.nudge',
              entityType: 'Thread',
              entityId: d.thread_id,
              patientId: d.patient_id,
              details: { userId: d.user_id },
            });
          return rows.length > 0;
        });
        if (!claimed) continue; // another instance took it
        try {
          await deps.send(
            d.email,
            'You have a new message from your care team',
            `Hello ${d.display_name},\n\nThere is a new message for you in Vigil from your care team. For your privacy it is not in this email.\n\nTo read it, sign in: ${deps.baseUrl()}/#/portal\n\nIf you did not expect this email, you can ignore it.\n`,
          );
          sent++;
        } catch (err) {
          // Not sent: give the claim back (to its previous time), so the next pass tries again; the failure is an
          // entry of its own, in the same transaction.
          await deps.audit.change(async (tx, audit) => {
            if (d.last)
              await tx.query('UPDATE message_nudges SET sent_at = $3 WHERE thread_id = $1 AND user_id = $2', [
                d.thread_id,
                d.user_id,
                new Date(d.last).toISOString(),
              ]);
            else await tx.query('DELETE FROM message_nudges WHERE thread_id = $1 AND user_id = $2', [d.thread_id, d.user_id]);
            audit({
              actor: 'system',
              action: 'message.nudge',
              entityType: 'Thread',
              entityId: d.thread_id,
              patientId: d.patient_id,
              outcome: 'failure',
              details: { userId: d.user_id, error: (err as Error).message.slice(0, 200) },
            });
          });
          log.warn({ err: (err as Error).message, threadId: d.thread_id }, 'message nudge not sent; will retry');
        }
      }
      return sent;
    },
  };
}
