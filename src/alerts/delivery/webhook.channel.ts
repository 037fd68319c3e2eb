import { createHmac } from 'node:crypto';
import type { Job } from '../notifications.repository.ts';

export const SIGNATURE_HEADER = 'x-vigil-signature';
const WEBHOOK_TIMEOUT_MS = 10_000; // a paging system that takes longer is retried with backoff

/**
 * `t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` — the timestamp is signed too so a captured
 * request cannot be replayed later (receivers should reject t older than a few minutes).
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export function createWebhookChannel(opts: { secret: string; now: () => number }) {
  return {
    async send(job: Job): Promise<void> {
      const body = JSON.stringify(job.payload);
      const res = await fetch(job.target, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(opts.secret, body, Math.floor(opts.now() / 1000)),
          'idempotency-key': job.idempotencyKey,
        },
        body,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`webhook answered ${res.status}`);
      await res.body?.cancel();
    },
  };
}
