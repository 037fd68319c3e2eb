import { z } from 'zod';
import { Role } from './common.ts';

export const CreateUserBody = z.object({
  email: z.string({ error: 'email is required' }).min(3, 'email is required').max(320),
  role: Role,
  displayName: z.string().max(200).optional(),
  password: z.string().max(1024).optional(),
  patientId: z.string().min(1).max(200).nullable().optional(),
});

export const User = z
  .object({ id: z.string(), email: z.string(), role: Role, displayName: z.string(), practitionerId: z.string().nullable(), patientId: z.string().nullable() })
  .meta({ id: 'User' });
export type User = z.infer<typeof User>;

/** What creating a user answers; `password` only when the server generated it (shown once). */
export const CreatedUser = z.object({ id: z.string(), email: z.string(), role: Role, practitionerId: z.string().nullable(), password: z.string().optional() });

export const CreateTokenBody = z
  .object({ email: z.string().max(320).optional(), name: z.string().max(200).optional() })
  .nullish()
  .transform((b) => b ?? {});
export const CreatedToken = z.object({ id: z.string(), token: z.string() });
