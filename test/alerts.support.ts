/** Helpers for the alerts integration tests: a real local SMTP server, a signed-webhook receiver, a movable clock. */
import { createServer, type Server } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { startMailbox, type ReceivedMail } from '../src/demo/mailbox.ts';
import type { Clock } from '../src/platform/clock.ts';
export { eventually } from './support/eventually.ts';

export type { ReceivedMail } from '../src/demo/mailbox.ts';

/** A real SMTP server on a random port; `accept=false` answers 451 (temporary failure) so jobs stay pending. */
export async function startSmtp(): Promise<{ port: number; mails: ReceivedMail[]; rejected: number; accept: boolean; close(): Promise<void> }> {
  const state = { port: 0, mails: [] as ReceivedMail[], rejected: 0, accept: true, close: async () => undefined as void };
  const box = await startMailbox({ accept: () => state.accept, onReject: () => state.rejected++ });
  state.port = box.port;
  state.mails = box.mails;
  state.close = box.close;
  return state;
}

/** An HTTP server that checks `x-vigil-signature` (HMAC-SHA256 over "t.body") and records what arrived. */
export async function startWebhookReceiver(
  secret: string,
): Promise<{ url: string; received: Array<{ body: Record<string, unknown>; validSignature: boolean; key: string }>; close(): Promise<void> }> {
  const received: Array<{ body: Record<string, unknown>; validSignature: boolean; key: string }> = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const sig = String(req.headers['x-vigil-signature'] ?? '');
      const t = sig.match(/t=(\d+)/)?.[1] ?? '';
      const v1 = Buffer.from(sig.match(/v1=([0-9a-f]+)/)?.[1] ?? '', 'hex');
      const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest();
      const validSignature = v1.length === expected.length && timingSafeEqual(v1, expected);
      received.push({ body: JSON.parse(raw), validSignature, key: String(req.headers['idempotency-key'] ?? '') });
      res.writeHead(validSignature ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/page`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Real time plus an offset that tests move forward (so ingest's own time checks stay consistent). */
export function movableClock(): Clock & { advance(ms: number): void; reset(): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms), reset: () => void (offset = 0) };
}
