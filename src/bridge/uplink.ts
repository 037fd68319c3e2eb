import type { QueuedMessage } from './durable-queue.ts';

/** A command from Vigil as published on the device's commands topic (interfaces.md §3). */
export interface IncomingCommand {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

export interface CommandAnswer {
  status: 'done' | 'failed';
  message: string;
}

/**
 * Where readings go (MQTT or HTTP). `send` resolves 'delivered' once Vigil has stored the message,
 * 'rejected' when Vigil refused it for good (logged, not retried), and throws when Vigil is unreachable
 * (the message stays queued and is retried).
 */
export interface ReadingsUplink {
  readonly describe: string;
  ready(): boolean;
  send(msg: QueuedMessage): Promise<'delivered' | { rejected: string }>;
  /** Called whenever the uplink (re)connects, to restart draining. */
  onReady(listener: () => void): void;
  close(): Promise<void>;
}

/** Where commands come from and answers go (MQTT only: HTTP has no way to push to the bridge). */
export interface CommandChannel {
  onCommand(listener: (cmd: IncomingCommand) => void): void;
  answer(commandId: string, answer: CommandAnswer): Promise<void>;
}

export const telemetryBody = (m: QueuedMessage) => ({ ts: m.ts, seq: m.seq, readings: m.readings, ...(m.command ? { command: m.command } : {}) });
