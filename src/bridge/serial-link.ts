import { existsSync, realpathSync } from 'node:fs';
import { SerialPort, ReadlineParser } from 'serialport';
import type { StatusLog } from './status-log.ts';

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5_000; // a re-plugged cable is picked up within 5 s
// USB-serial adapters vanish from /dev without the driver always reporting it; look every second.
const PRESENCE_CHECK_MS = 1_000;

export interface SerialLink {
  isOpen(): boolean;
  /** Writes one line; false when the port is not open (the caller answers the command as failed). */
  writeLine(text: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The serial port, kept open: it opens when the device appears, reports each line, and when the cable is
 * pulled (close, error, or the device node gone or replaced) it reopens with backoff until it is back.
 */
export function openSerialLink(opts: {
  path: string;
  baudRate: number;
  framing?: { dataBits: 5 | 6 | 7 | 8; parity: 'none' | 'even' | 'odd' | 'mark' | 'space'; stopBits: 1 | 1.5 | 2 };
  lineEnding: string;
  onLine(line: string): void;
  onOpen?(): void;
  onLost?(why: string): void;
  status: StatusLog;
}): SerialLink {
  let port: SerialPort | null = null;
  let openedTarget: string | null = null;
  let retryMs = RETRY_FIRST_MS;
  let retryTimer: NodeJS.Timeout | null = null;
  let stopped = false;
  let announcedMissing = false;

  const target = () => {
    try {
      return realpathSync(opts.path);
    } catch {
      return null;
    }
  };

  function scheduleRetry() {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      tryOpen();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function lost(why: string) {
    const p = port;
    if (!p) return;
    port = null;
    openedTarget = null;
    p.removeAllListeners();
    p.on('error', () => undefined);
    if (p.isOpen) p.close(() => undefined);
    if (!stopped) opts.status(`serial ${opts.path} lost (${why}); waiting for it to come back`);
    opts.onLost?.(why);
    retryMs = RETRY_FIRST_MS;
    scheduleRetry();
  }

  function tryOpen() {
    if (stopped || port) return;
    if (!existsSync(opts.path)) {
      if (!announcedMissing) opts.status(`serial ${opts.path} not present (cable unplugged or device off?); retrying every ${RETRY_MAX_MS / 1000} s at most`);
      announcedMissing = true;
      return scheduleRetry();
    }
    const p = new SerialPort({ path: opts.path, baudRate: opts.baudRate, ...opts.framing, autoOpen: false });
    p.open((err) => {
      if (stopped) return void (p.isOpen && p.close(() => undefined));
      if (err) {
        opts.status(`cannot open serial ${opts.path}: ${err.message}; retrying in ${retryMs / 1000} s`);
        return scheduleRetry();
      }
      port = p;
      openedTarget = target();
      announcedMissing = false;
      retryMs = RETRY_FIRST_MS;
      opts.status(`serial ${opts.path} open at ${opts.baudRate} baud`);
      p.pipe(new ReadlineParser({ delimiter: '\n' })).on('data', (line: string) => opts.onLine(line.replace(/\r$/, '')));
      p.on('close', () => lost('port closed; cable pulled?'));
      p.on('error', (e) => lost(e.message));
      opts.onOpen?.();
    });
  }

  const presence = setInterval(() => {
    if (port && target() !== openedTarget) lost('device node gone or replaced');
  }, PRESENCE_CHECK_MS);
  presence.unref();
  tryOpen();

  return {
    isOpen: () => port?.isOpen ?? false,
    writeLine(text) {
      const p = port;
      if (!p?.isOpen) return Promise.resolve(false);
      return new Promise((resolve) => p.write(text + opts.lineEnding, (err) => (err ? resolve(false) : p.drain(() => resolve(true)))));
    },
    async close() {
      stopped = true;
      clearInterval(presence);
      if (retryTimer) clearTimeout(retryTimer);
      const p = port;
      port = null;
      if (p?.isOpen) await new Promise<void>((resolve) => p.close(() => resolve()));
    },
  };
}
