/** Plain shapes of device commands (interfaces.md §3 and §4). */

export const COMMAND_NAMES = ['MEASURE', 'SET_INTERVAL', 'SYNC_TIME', 'IDENTIFY'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export const COMMAND_STATUSES = ['queued', 'sent', 'done', 'failed', 'expired'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** Statuses a command can still leave; the others are final. */
export const OPEN_STATUSES: CommandStatus[] = ['queued', 'sent'];

export interface DeviceCommand {
  id: string;
  deviceId: string;
  patientId: string | null;
  name: CommandName;
  args: Record<string, unknown>;
  status: CommandStatus;
  requestedBy: string;
  message: string | null;
  attempts: number;
  ackTimeoutMs: number;
  createdAt: number;
  sentAt: number | null;
  completedAt: number | null;
  expiresAt: number;
}

/** A measurement a device published with `"command": id`. */
export interface LinkedReading {
  id: string;
  code: string;
  value: number;
  unit: string;
  ts: number;
}

export interface CommandView {
  id: string;
  deviceId: string;
  patientId: string | null;
  name: CommandName;
  args: Record<string, unknown>;
  status: CommandStatus;
  createdAt: string;
  sentAt: string | null;
  completedAt: string | null;
  expiresAt: string;
  message: string | null;
  readings: LinkedReading[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The API and live shape: ISO times, internal bookkeeping left out. */
export function toView(c: DeviceCommand, readings: LinkedReading[]): CommandView {
  return {
    id: c.id,
    deviceId: c.deviceId,
    patientId: c.patientId,
    name: c.name,
    args: c.args,
    status: c.status,
    createdAt: iso(c.createdAt)!,
    sentAt: iso(c.sentAt),
    completedAt: iso(c.completedAt),
    expiresAt: iso(c.expiresAt)!,
    message: c.message,
    readings,
  };
}
