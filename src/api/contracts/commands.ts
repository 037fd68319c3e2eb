import { z } from 'zod';

export const CommandName = z.enum(['MEASURE', 'SET_INTERVAL', 'SYNC_TIME', 'IDENTIFY']);
export const CommandStatus = z.enum(['queued', 'sent', 'done', 'failed', 'expired']);

export const LinkedReading = z.object({ id: z.string(), code: z.string(), value: z.number(), unit: z.string(), ts: z.number() });

/** A device command as the API and the live stream show it (commands/command.types.ts → toView). */
export const Command = z
  .object({
    id: z.string(),
    deviceId: z.string(),
    patientId: z.string().nullable(),
    name: CommandName,
    args: z.record(z.string(), z.unknown()),
    status: CommandStatus,
    createdAt: z.string(),
    sentAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    expiresAt: z.string(),
    message: z.string().nullable(),
    readings: z.array(LinkedReading),
  })
  .meta({ id: 'Command' });
export type Command = z.infer<typeof Command>;

/** `args` per command are checked by the command service (commands/command-request.ts), which names the field. */
export const CommandRequestBody = z.object({
  name: CommandName,
  args: z.record(z.string(), z.unknown()).optional(),
  timeoutSeconds: z.number().int().optional(),
  expiresInSeconds: z.number().int().optional(),
});

export const CommandCreated = z.object({ id: z.string(), status: CommandStatus });
