import { SMTPServer } from 'smtp-server';

/**
 * A local SMTP mailbox (the `smtp-server` package): the demo clinic's alert emails land here so that a
 * newcomer sees them without configuring a mail relay; tests use it as their real SMTP server.
 */
export interface ReceivedMail {
  to: string[];
  from: string;
  messageId: string;
  subject: string;
  receivedAt: string;
  text: string;
  raw: string;
}

const KEEP = 200; // messages kept in memory, newest last

export async function startMailbox(opts: { port?: number; accept?: () => boolean; onReject?: () => void } = {}) {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_addr, _session, cb) {
      if (!opts.accept || opts.accept()) return cb();
      opts.onReject?.();
      const err = new Error('try again later') as Error & { responseCode: number };
      err.responseCode = 451; // temporary failure: the sender keeps the job and retries
      cb(err);
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString()));
      stream.on('end', () => {
        const [head, ...body] = raw.split(/\r?\n\r?\n/);
        const unfolded = head.replace(/\r?\n[ \t]+/g, ' '); // RFC 5322 §2.2.3: long headers are folded
        const header = (name: string) => decodeWords(unfolded.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1]?.trim() ?? '');
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          from: header('From'),
          messageId: header('Message-ID'),
          subject: header('Subject'),
          receivedAt: new Date().toISOString(),
          text: decodeQuotedPrintable(body.join('\n\n')).slice(0, 4000),
          raw,
        });
        if (mails.length > KEEP) mails.shift();
        cb();
      });
    },
  });
  // smtp-server emits 'error' when a client vanishes mid-session (ECONNRESET from a killed sender); unhandled,
  // that would take the whole process down with it. A dropped client is the client's problem, not the mailbox's.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type Mailbox = Awaited<ReturnType<typeof startMailbox>>;

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=` / `?B?`), as nodemailer writes non-ASCII subjects. */
export function decodeWords(v: string): string {
  return v.replace(/=\?UTF-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, enc: string, text: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(
          text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  );
}

/** Quoted-printable bodies (RFC 2045 §6.7), enough to read a plain-text alert email. */
function decodeQuotedPrintable(s: string): string {
  return Buffer.from(
    s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}
