import type { NotificationsRepository, Job, JobChannel } from '../notifications.repository.ts';
import type { AlertsConfig } from '../alerts.config.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/logger.ts';
import { SubscriptionGoneError } from './webpush.channel.ts';

export interface ChannelSender {
  send(job: Job): Promise<void>;
}

const CLAIM_BATCH = 20; // jobs per claim; sent concurrently

/** Exponential backoff with ±20 % jitter so that many failed jobs do not retry in lockstep, ms. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/**
 * Drains the notifications outbox: claim due rows (lease + SKIP LOCKED), send, mark sent or schedule a
 * retry. A job is marked sent right after its channel accepted it; only a crash in between can repeat
 * it, and then it carries the same idempotency key.
 */
export function createDeliveryWorker(deps: {
  outbox: NotificationsRepository;
  channels: Partial<Record<JobChannel, ChannelSender>>;
  config: AlertsConfig;
  clock: Clock;
  logger: Logger;
}) {
  const log = deps.logger.child({ module: 'alert-delivery' });
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;

  async function drain(): Promise<void> {
    for (;;) {
      const jobs = await deps.outbox.claim(deps.clock.now(), deps.config.deliveryLeaseMs, CLAIM_BATCH);
      if (jobs.length === 0 || closed) return;
      await Promise.all(jobs.map(deliver));
      if (jobs.length < CLAIM_BATCH) return;
    }
  }

  async function deliver(job: Job): Promise<void> {
    const channel = deps.channels[job.channel];
    try {
      if (!channel) throw new Error(`channel ${job.channel} is not configured`);
      await channel.send(job);
      await deps.outbox.markSent(job.id, deps.clock.now());
      log.info({ job: job.id, channel: job.channel, alert: job.alertId }, 'notification sent');
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      if (job.attempts >= deps.config.deliveryMaxAttempts || err instanceof SubscriptionGoneError) {
        await deps.outbox.markFailed(job.id, message);
        log.error({ job: job.id, channel: job.channel, err: message }, 'notification failed for good');
      } else {
        const delay = backoffMs(job.attempts, deps.config.deliveryBackoffMs, deps.config.deliveryMaxBackoffMs);
        await deps.outbox.markRetry(job.id, message, deps.clock.now() + delay);
        log.warn({ job: job.id, channel: job.channel, attempt: job.attempts, retryInMs: delay, err: message }, 'notification failed; will retry');
      }
    }
  }

  /** Runs a drain now (or right after the current one). */
  function nudge(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .catch((err) => log.error({ err }, 'outbox drain failed'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          nudge();
        }
      });
  }

  return {
    start() {
      timer = setInterval(nudge, deps.config.deliveryPollMs);
      timer.unref();
      nudge();
    },
    nudge,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
