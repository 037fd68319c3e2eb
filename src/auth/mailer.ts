import nodemailer from 'nodemailer';
import type { Logger } from '../platform/logger.ts';

/**
 * Account emails (password reset links, caregiver invites) over the same SMTP relay as alert emails
 * (VIGIL_SMTP_URL, or the demo clinic's local mailbox). Null when no relay is configured: the features that
 * need email then say so instead of pretending to send.
 */
export type SendMail = (to: string, subject: string, text: string) => Promise<void>;

export function createAuthMailer(smtp: { url: string | null; from: string }, logger: Logger): { send: SendMail; close(): void } | null {
  if (!smtp.url) return null;
  const transport = nodemailer.createTransport(smtp.url, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as never);
  const log = logger.child({ module: 'auth-mail' });
  return {
    async send(to, subject, text) {
      try {
        await transport.sendMail({ from: smtp.from, to, subject, text });
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'account email not sent');
        throw err;
      }
    },
    close: () => transport.close(),
  };
}
