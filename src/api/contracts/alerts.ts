import { z } from 'zod';
import { Loose } from './common.ts';

export const Severity = z.enum(['info', 'warning', 'critical']);
export const AlertStatus = z.enum(['open', 'acknowledged', 'resolved']);

export const Alert = z
  .object({
    id: z.string(),
    patientId: z.string(),
    rule: z.string(),
    ruleId: z.string(),
    ruleVersion: z.number(),
    subject: z.string(),
    severity: Severity,
    status: AlertStatus,
    message: z.string(),
    value: z.number().nullable(),
    openedAt: z.string(),
    updatedAt: z.string(),
    acknowledgedAt: z.string().nullable(),
    acknowledgedBy: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    resolvedBy: z.string().nullable(),
    resolutionNote: z.string().nullable(),
    snoozedUntil: z.string().nullable(),
    snoozeReason: z.string().nullable(),
    assigneeId: z.string().nullable(),
    escalationLevel: z.number(),
    escalatedAt: z.string().nullable(),
    patientName: z.string().optional(),
  })
  .meta({ id: 'Alert' });
export type Alert = z.infer<typeof Alert>;

export const AlertListQuery = z.object({
  patient: z.string().min(1).max(200).optional(),
  status: z
    .string()
    .regex(
      /^(open|acknowledged|resolved|active)(,(open|acknowledged|resolved|active))*$/,
      'status must be open, acknowledged, resolved or active (comma-separated)',
    )
    .optional(),
  limit: z.coerce.number({ error: 'limit must be a number' }).int('limit must be a whole number').optional(),
});

/** `{}` or `{"note": "…"}` (notes longer than 1000 characters are cut). */
export const NoteBody = z
  .object({ note: z.string().optional() })
  .nullish()
  .transform((b) => b?.note?.slice(0, 1000));

export const SnoozeBody = z.object({
  reason: z.string({ error: 'a reason is required' }),
  until: z.string().optional(),
  minutes: z.number().optional(),
});

export const AssignBody = z.object({ userId: z.string({ error: 'userId is required' }).min(1, 'userId is required').max(200) });

export const AlertRule = z.object({
  id: z.string(),
  key: z.string(),
  version: z.number(),
  scope: z.enum(['clinic', 'team', 'patient']),
  scopeId: z.string(),
  enabled: z.boolean(),
  definition: Loose,
  updatedAt: z.string(),
  updatedBy: z.string().nullable(),
});
export type AlertRule = z.infer<typeof AlertRule>;

export const RulesQuery = z.object({ patient: z.string().min(1).max(200).optional() });
export const RuleList = z.object({ rules: z.array(AlertRule), effective: z.array(AlertRule).optional() });
export type RuleList = z.infer<typeof RuleList>;
export const RuleVersions = z.object({
  rule: AlertRule,
  versions: z.array(z.object({ version: z.number(), enabled: z.boolean(), definition: Loose, editedBy: z.string().nullable(), editedAt: z.string() })),
});
export const RuleKeyParams = z.object({ key: z.string().min(1).max(100) });
/** The definition is checked in depth by the rules service (alerts/rule-schema.ts), which names the field. */
export const RuleEditBody = z.object({
  scope: z.enum(['clinic', 'team', 'patient']),
  scopeId: z.string().max(200).optional(),
  enabled: z.boolean().optional(),
  definition: Loose,
});

const PushSubscription = z.object({ endpoint: z.string(), keys: z.object({ p256dh: z.string(), auth: z.string() }) });
export const AlertPreferences = z.object({
  severities: z.array(Severity),
  channels: z.object({ email: z.boolean(), webpush: z.boolean() }),
  quietHours: z.object({ start: z.string(), end: z.string(), timeZone: z.string() }).nullable(),
  pushSubscriptions: z.array(PushSubscription),
});
export type AlertPreferences = z.infer<typeof AlertPreferences>;
/** Checked in depth by the preferences service (alerts/preferences.ts). */
export const PreferencesBody = z.object({
  severities: z.array(Severity).optional(),
  channels: z.object({ email: z.boolean().optional(), webpush: z.boolean().optional() }).optional(),
  quietHours: z.object({ start: z.string(), end: z.string(), timeZone: z.string().optional() }).nullable().optional(),
});
// What a browser's PushSubscription.toJSON() gives (W3C Push API): open, as browsers add members (expirationTime).
export const PushSubscriptionBody = z.looseObject({
  endpoint: z.string({ error: 'endpoint is required' }),
  keys: z.object({ p256dh: z.string(), auth: z.string() }),
});
export const PushUnsubscribeQuery = z.object({ endpoint: z.string({ error: 'endpoint is required' }).min(1, 'endpoint is required') });
export const PushKey = z.object({ publicKey: z.string() });
