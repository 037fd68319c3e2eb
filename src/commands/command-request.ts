import { z } from 'zod';
import { AppError } from '../platform/errors.ts';
import { COMMAND_NAMES, type CommandName } from './command.types.ts';

const MAX_INTERVAL_S = 24 * 3600; // SET_INTERVAL: at least once a day
const MAX_IDENTIFY_S = 300; // IDENTIFY: blink/beep for at most 5 min
const MAX_ANSWER_TIMEOUT_S = 3600;
const MAX_QUEUE_S = 7 * 24 * 3600; // an offline device gets a week at most

/** Arguments per command name (interfaces.md §3); unknown keys are refused so typos do not pass silently. */
const ARGS: Record<CommandName, z.ZodType<Record<string, unknown>>> = {
  MEASURE: z.object({}).strict(),
  SET_INTERVAL: z.object({ seconds: z.number().int().min(1).max(MAX_INTERVAL_S) }).strict(),
  SYNC_TIME: z.object({}).strict(),
  IDENTIFY: z.object({ seconds: z.number().int().min(1).max(MAX_IDENTIFY_S).optional() }).strict(),
};

const BODY = z.object({
  name: z.enum(COMMAND_NAMES),
  args: z.record(z.string(), z.unknown()).default({}),
  /** Override: how long to wait for the device's answer once the command is sent. */
  timeoutSeconds: z.number().int().min(1).max(MAX_ANSWER_TIMEOUT_S).optional(),
  /** Override: how long a command may wait for an offline device to connect. */
  expiresInSeconds: z.number().int().min(1).max(MAX_QUEUE_S).optional(),
});

export interface CommandRequest {
  name: CommandName;
  args: Record<string, unknown>;
  timeoutMs?: number;
  expiresInMs?: number;
}

/** Validates a POST body; throws a VALIDATION error naming the field. */
export function parseCommandRequest(body: unknown): CommandRequest {
  const parsed = BODY.safeParse(body ?? {});
  if (!parsed.success) throw validation(parsed.error.issues[0], '');
  const { name, args, timeoutSeconds, expiresInSeconds } = parsed.data;
  const checked = ARGS[name].safeParse(args);
  if (!checked.success) throw validation(checked.error.issues[0], `${name}: args`);
  return {
    name,
    args: checked.data,
    timeoutMs: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000,
    expiresInMs: expiresInSeconds === undefined ? undefined : expiresInSeconds * 1000,
  };
}

function validation(issue: z.core.$ZodIssue | undefined, prefix: string): AppError {
  const where = [prefix, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.');
  return new AppError('VALIDATION', `${where || 'body'}: ${issue?.message ?? 'invalid'}`);
}
