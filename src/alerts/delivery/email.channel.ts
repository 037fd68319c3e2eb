import nodemailer from 'nodemailer';
import type { Job } from '../notifications.repository.ts';

/** Sends an outbox job as email over SMTP. The job's idempotency key becomes the Message-ID, so a
 * receiver (or a human) can recognise the one retry that may follow a crash between send and mark-sent. */
export function createEmailChannel(opts: { smtpUrl: string; from: string }) {
  const transport = nodemailer.createTransport(opts.smtpUrl, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as never);
  return {
    async send(job: Job): Promise<void> {
      const p = job.payload as { subject: string; text: string };
      await transport.sendMail({
        from: opts.from,
        to: job.target,
        subject: p.subject,
        text: p.text,
        messageId: `<${job.idempotencyKey.replace(/[^\w.-]/g, '.')}@vigil.alerts>`,
        headers: { 'X-Vigil-Idempotency-Key': job.idempotencyKey },
      });
    },
    close: () => transport.close(),
  };
}
