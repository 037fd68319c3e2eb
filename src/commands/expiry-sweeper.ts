import type { Logger } from '../platform/logger.ts';

const SWEEP_EVERY_MS = 1_000; // one indexed UPDATE a second; expiry is then at most 1 s late

/** Runs `expireDue` on a timer, one run at a time; `stop()` waits for a run in progress. */
export function startExpirySweeper(expireDue: () => Promise<number>, logger: Logger, everyMs = SWEEP_EVERY_MS) {
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = expireDue()
      .catch((err) => logger.error({ err }, 'command expiry sweep failed'))
      .finally(() => (running = null));
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
