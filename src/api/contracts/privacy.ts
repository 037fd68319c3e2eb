import { z } from 'zod';
import { DateBound, Loose, Text } from './common.ts';

/** Audit reports (ONC §170.315(d)(3)), break the glass ((d)(6)) and erasure (GDPR art. 17). */

const Limit = z
  .string()
  .regex(/^\d{1,4}$/, 'must be a whole number 1–1000')
  .transform(Number)
  .refine((n) => n >= 1 && n <= 1000, 'must be a whole number 1–1000')
  .optional()
  .transform((n) => n ?? 200)
  .describe('1–1000 (default 200)');

export const AccessLogQuery = z.object({
  limit: Limit,
  before: z
    .string()
    .regex(/^\d{1,18}$/, 'must be an entry id')
    .optional(),
});
export const AccessLogEntry = z
  .object({
    id: z.string(),
    at: z.string(),
    actor: z.string(),
    who: z.object({ email: z.string(), role: z.string(), name: z.string() }).nullable(),
    action: z.string(),
    what: z.string().nullable(),
    outcome: z.string(),
  })
  .meta({ id: 'AccessLogEntry' });

export const AuditQuery = z.object({
  patient: Text(200, 1).optional(),
  actor: Text(200, 1).optional(),
  action: Text(200, 1).optional(),
  outcome: z.enum(['success', 'failure'], { error: 'outcome must be success or failure' }).optional(),
  from: DateBound.optional(),
  to: DateBound.optional(),
  limit: Limit,
});
export const AuditEntry = z
  .object({
    id: z.string(),
    at: z.string(),
    actor: z.string(),
    action: z.string(),
    entityType: z.string().nullable(),
    entityId: z.string().nullable(),
    patientId: z.string().nullable(),
    outcome: z.string(),
    details: Loose.nullable(),
  })
  .meta({ id: 'AuditEntry' });

export const EmergencyAccessBody = z.object({ reason: Text(1000).refine((s) => s.trim().length >= 10, 'say why, in 10–1000 characters') });
export const EmergencyGrant = z.object({ id: z.string(), patientId: z.string(), expiresAt: z.string() });
export const EmergencyAccessQuery = z.object({ unreviewed: z.enum(['0', '1', 'true', 'false'], { error: 'unreviewed must be 1 or 0' }).optional() });
export const EmergencyAccessEntry = z
  .object({
    id: z.string(),
    userId: z.string(),
    patientId: z.string(),
    reason: z.string(),
    createdAt: z.string(),
    expiresAt: z.string(),
    reviewedAt: z.string().nullable(),
    reviewedBy: z.string().nullable(),
    reviewNote: z.string().nullable(),
  })
  .meta({ id: 'EmergencyAccess' });
export const ReviewBody = z
  .object({ note: Text(1000).optional() })
  .nullish()
  .transform((b) => b ?? {});
export const Reviewed = z.object({ id: z.string(), reviewed: z.boolean() });

/** Erasure must be confirmed by repeating the patient's id: it cannot be undone. */
export const EraseBody = z.object(
  { confirm: z.string({ error: 'send the patient id again to confirm: erasure cannot be undone' }).min(1).max(200).describe("the patient's id again") },
  { error: 'to erase, send {"confirm": "<the patient id>"}: this cannot be undone' },
);
export const Erased = z.object({ patientId: z.string(), shredded: z.literal(true), deleted: z.record(z.string(), z.number()), retained: z.array(z.string()) });

/** Consent records (privacy/consent.ts): caregiver access, remote monitoring, sharing, research; SMART apps alongside. */
export const ConsentKind = z.enum(['caregiver', 'remote-monitoring', 'sharing', 'research'], {
  error: 'kind must be caregiver, remote-monitoring, sharing or research',
});
export const GrantConsentBody = z.object({
  kind: ConsentKind,
  /** caregiver: the caregiver account's email. */
  email: Text(320, 3).optional(),
  /** sharing: the organisation's name. */
  granteeName: Text(200, 1).optional(),
  expiresAt: DateBound.optional(),
});
export const Consent = z
  .object({
    id: z.string(),
    patientId: z.string(),
    kind: ConsentKind,
    grantee: z.object({ userId: z.string(), email: z.string().nullable(), name: z.string().nullable() }).nullable(),
    granteeName: z.string().nullable(),
    status: z.enum(['active', 'revoked', 'expired']),
    createdAt: z.string(),
    createdBy: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    revokedBy: z.string().nullable(),
  })
  .meta({ id: 'Consent' });
export type Consent = z.infer<typeof Consent>;
export const ApprovedApp = z.object({ clientId: z.string(), name: z.string(), scopes: z.array(z.string()), lastApprovedAt: z.string() });
export type ApprovedApp = z.infer<typeof ApprovedApp>;
export const ConsentList = z.object({ consents: z.array(Consent), apps: z.array(ApprovedApp) }).meta({ id: 'ConsentList' });
export type ConsentList = z.infer<typeof ConsentList>;
export const AppParams = z.object({ id: Text(200, 1), clientId: Text(200, 1) });
export const AppRevoked = z.object({ clientId: z.string(), revoked: z.number() });

/** The patient's export as a printable HTML page. */
export const ExportHtml = z.string().describe('text/html summary of the record (print to PDF)');

/** The caller's own unexpired break-the-glass grant on a patient (the record shows a banner while it lasts). */
export const ActiveEmergencyGrant = z.object({
  grant: z.object({ id: z.string(), patientId: z.string(), reason: z.string(), expiresAt: z.string() }).nullable(),
});

/** A patient's invitation of a family member by email (the link goes by email only, never in an answer). */
export const CaregiverInviteBody = z.object({
  email: Text(320, 3),
  /** How long the link works: 1–30 days (default 7). */
  days: z.number({ error: 'days must be a whole number of days' }).int('days must be a whole number of days').min(1).max(30).optional(),
});
export const CaregiverInvite = z
  .object({
    id: z.string(),
    patientId: z.string(),
    email: z.string(),
    status: z.enum(['pending', 'accepted', 'expired', 'revoked']),
    createdAt: z.string(),
    expiresAt: z.string(),
    acceptedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'CaregiverInvite' });
export type CaregiverInvite = z.infer<typeof CaregiverInvite>;
const InviteToken = Text(100, 1).regex(/^[A-Za-z0-9_-]+$/, 'is not an invitation token');
export const InviteTokenBody = z.object({ token: InviteToken });
export const InvitePreview = z.object({ email: z.string(), invitedBy: z.string(), expiresAt: z.string(), hasAccount: z.boolean() });
export type InvitePreview = z.infer<typeof InvitePreview>;
export const InviteAcceptBody = z.object({ token: InviteToken, displayName: Text(200, 1).optional(), password: Text(1024, 1).optional() });
export const InviteAccepted = z.object({ email: z.string(), accountCreated: z.boolean(), consentId: z.string().nullable() });
