import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs (pino); modules take a child logger carrying their name. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { app: 'vigil' }, timestamp: pino.stdTimeFunctions.isoTime });
}
