import net from 'node:net';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { startMailbox } from './mailbox.ts';

describe('demo mailbox', () => {
  it('survives a sender that resets its connection mid-session, and still takes mail', async () => {
    const box = await startMailbox();
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const sock = net.connect(box.port, '127.0.0.1');
      await new Promise<void>((resolve) => sock.once('data', () => resolve())); // the 220 greeting
      sock.write('EHLO killed.example\r\nMAIL FROM:<a@example.org>\r\n');
      await new Promise((r) => setTimeout(r, 50));
      sock.resetAndDestroy(); // RST, as when the sending process is killed -9
      await new Promise((r) => setTimeout(r, 200));
      expect(uncaught).toEqual([]);

      const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: box.port, secure: false, ignoreTLS: true });
      await mailer.sendMail({ from: 'vigil@example.org', to: 'nurse@example.org', subject: 'after the reset', text: 'ok' });
      expect(box.mails.map((m) => m.subject)).toEqual(['after the reset']);
    } finally {
      process.off('uncaughtException', onUncaught);
      await box.close();
    }
  });
});
