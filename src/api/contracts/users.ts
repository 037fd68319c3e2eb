import { z } from 'zod';
import { Id, Role, Text } from './common.ts';

export const CreateUserBody = z.object({
  email: Text(320, 3),
  role: z.enum(['admin', 'clinician', 'patient', 'caregiver'], { error: 'role must be admin, clinician, patient or caregiver' }),
  displayName: Text(200).optional(),
  password: Text(1024).optional(),
  patientId: Id.nullable().optional(),
});

export const User = z
  .object({
    id: z.string(),
    email: z.string(),
    role: Role,
    displayName: z.string(),
    practitionerId: z.string().nullable(),
    patientId: z.string().nullable(),
    disabled: z.boolean().optional(),
  })
  .meta({ id: 'User' });
export type User = z.infer<typeof User>;

/** What creating a user answers; `password` only when the server generated it (shown once). */
export const CreatedUser = z.object({ id: z.string(), email: z.string(), role: Role, practitionerId: z.string().nullable(), password: z.string().optional() });

export const TokenScope = z.enum(['read', 'write']);

/** A new API token: for oneself (or, admins, for `email`), read or write, optionally limited to some patients, expiring. */
export const CreateTokenBody = z
  .object({
    email: Text(320, 1).optional(),
    name: Text(100).nullable().optional(),
    scope: TokenScope.optional(),
    patientIds: z.array(Id).max(1000).nullable().optional(),
    ttlDays: z.number().int().min(0).max(3650).optional(),
  })
  .nullish()
  .transform((b) => b ?? {});
export const CreatedToken = z.object({
  id: z.string(),
  token: z.string(),
  scope: TokenScope,
  patientIds: z.array(z.string()).nullable(),
  expiresAt: z.string().nullable(),
});

export const TokenInfo = z
  .object({
    id: z.string(),
    email: z.string().optional(),
    name: z.string().nullable(),
    scope: z.string(),
    patientIds: z.array(z.string()).nullable(),
    createdAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'TokenInfo' });
export type TokenInfo = z.infer<typeof TokenInfo>;
export const TokenListQuery = z.object({ all: z.enum(['0', '1', 'true', 'false'], { error: 'all must be 1 or 0' }).optional() });
export const TokenRevoked = z.object({ id: z.string(), revoked: z.boolean() });

export const UserDisabled = z.object({ id: z.string(), disabled: z.boolean() });
