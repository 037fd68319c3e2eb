import { z } from 'zod';

export const DeviceSummary = z
  .object({
    id: z.string(),
    patientId: z.string().nullable(),
    type: z.string(),
    name: z.string().nullable(),
    online: z.boolean(),
    battery: z.number().nullable(),
    /** Epoch ms. */
    lastSeenAt: z.number().nullable(),
    rejectedCount: z.number(),
    createdAt: z.number(),
    /** Disabled (lost, returned): its secret is refused and its sessions are closed. */
    disabled: z.boolean().optional(),
  })
  .meta({ id: 'DeviceSummary' });
export type DeviceSummary = z.infer<typeof DeviceSummary>;

export const DeviceListQuery = z.object({ patient: z.string().min(1).max(200).optional() });

export const CreateDeviceBody = z.object({
  patientId: z.string().min(1).max(200).optional(),
  type: z.string({ error: 'type is required' }).min(1, 'type is required').max(100),
  name: z.string().max(200).optional(),
});

export const CreatedDevice = z.object({ id: z.string(), secret: z.string(), topic: z.string() });
export type CreatedDevice = z.infer<typeof CreatedDevice>;

/** Device ingest answers 202 once the payload is durable (interfaces.md §3). */
export const IngestAccepted = z.object({ ok: z.literal(true), stored: z.number(), duplicates: z.number(), rejected: z.array(z.string()) });

/** `receivedAt` is epoch ms. */
export const Rejection = z.object({
  id: z.string(),
  deviceId: z.string().nullable(),
  topic: z.string(),
  reason: z.string(),
  excerpt: z.string().nullable(),
  receivedAt: z.number(),
});
export type Rejection = z.infer<typeof Rejection>;

export const RejectionsQuery = z.object({
  limit: z
    .string()
    .optional()
    .transform((s) => Math.min(1000, Math.max(1, Number(s ?? 100) || 100))),
  device: z.string().min(1).max(200).optional(),
});

export const AdminStats = z.object({ ingest: z.record(z.string(), z.unknown()), gateway: z.record(z.string(), z.unknown()) });
export type AdminStats = z.infer<typeof AdminStats>;
