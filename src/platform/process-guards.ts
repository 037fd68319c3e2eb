import type { Logger } from './logger.ts';

const SHUTDOWN_GRACE_MS = 10_000; // a close that hangs must not keep a broken process alive

/**
 * Process-level last resort for a long-running server: an unhandled promise rejection or an uncaught
 * exception is logged (fatal, with the error), the server is closed as far as it can be within the grace
 * period (ingest drains what it acknowledged), and the process exits with code 1 so that a supervisor
 * (systemd, Docker, Kubernetes) restarts it. Listener errors never get here: the event bus isolates them.
 */
export function installProcessGuards(deps: { logger: Pick<Logger, 'fatal'>; shutdown: () => Promise<void>; exit?: (code: number) => void }): () => void {
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  let failing = false;
  const fail = (kind: string) => (err: unknown) => {
    deps.logger.fatal({ err, kind }, `${kind}: the server stops so that its supervisor restarts it`);
    if (failing) return;
    failing = true;
    const timer = setTimeout(() => exit(1), SHUTDOWN_GRACE_MS);
    timer.unref();
    deps.shutdown().then(
      () => exit(1),
      () => exit(1),
    );
  };
  const onRejection = fail('unhandledRejection');
  const onException = fail('uncaughtException');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
