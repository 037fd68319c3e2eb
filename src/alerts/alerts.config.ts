import { z } from 'zod';
import { ConfigError } from '../config/config.ts';

/**
 * The alerts module's settings, validated once at start from the environment (listed in the README):
 * where email and webhooks go, and the timing of ticks and delivery retries.
 */
export interface AlertsConfig {
  /** smtp://[user:pass@]host:port; email is off when unset. */
  smtpUrl: string | null;
  emailFrom: string;
  /** Paging-system webhook, signed with HMAC-SHA256 over the body; off when unset. */
  webhookUrl: string | null;
  webhookSecret: string | null;
  /** Time-based rules (missing data, offline) and escalation are checked this often, ms. */
  tickMs: number;
  /** Back-pressure: readings waiting for rule evaluation above which ingest stops acknowledging new messages. */
  backlogMax: number;
  /** The delivery worker polls the outbox this often (and at once when a job is queued), ms. */
  deliveryPollMs: number;
  /** First retry delay; doubles per attempt up to deliveryMaxBackoffMs, ms. */
  deliveryBackoffMs: number;
  deliveryMaxBackoffMs: number;
  deliveryMaxAttempts: number;
  /** A claimed job whose sender died is retried after this lease, ms. */
  deliveryLeaseMs: number;
}

const fields = {
  VIGIL_SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://')
    .optional(),
  VIGIL_ALERT_EMAIL_FROM: z.string().default('Vigil alerts <alerts@vigil.local>'),
  VIGIL_ALERT_WEBHOOK_URL: z
    .string()
    .regex(/^https?:\/\//, 'must start with http:// or https://')
    .optional(),
  VIGIL_ALERT_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  VIGIL_ALERT_TICK_MS: z.coerce.number().int().min(50).max(600_000).default(15_000),
  VIGIL_ALERT_BACKLOG_MAX: z.coerce.number().int().min(10).max(10_000_000).default(50_000),
  VIGIL_DELIVERY_POLL_MS: z.coerce.number().int().min(20).max(60_000).default(1_000),
  VIGIL_DELIVERY_BACKOFF_MS: z.coerce.number().int().min(10).max(600_000).default(5_000),
  VIGIL_DELIVERY_MAX_BACKOFF_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(86_400_000)
    .default(15 * 60_000),
  VIGIL_DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(10),
  VIGIL_DELIVERY_LEASE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
} as const;

export const ALERTS_CONFIG_KEYS = Object.keys(fields);

export function loadAlertsConfig(env: Record<string, string | undefined>): AlertsConfig {
  const v: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(fields)) {
    const raw = env[key] === '' ? undefined : env[key];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (!parsed.success) throw new ConfigError(key, `${parsed.error.issues[0]?.message ?? 'invalid'} (got "${raw}")`);
    v[key] = parsed.data;
  }
  if (v.VIGIL_ALERT_WEBHOOK_URL && !v.VIGIL_ALERT_WEBHOOK_SECRET)
    throw new ConfigError('VIGIL_ALERT_WEBHOOK_SECRET', 'is required when VIGIL_ALERT_WEBHOOK_URL is set');
  return {
    smtpUrl: (v.VIGIL_SMTP_URL as string) ?? null,
    emailFrom: v.VIGIL_ALERT_EMAIL_FROM as string,
    webhookUrl: (v.VIGIL_ALERT_WEBHOOK_URL as string) ?? null,
    webhookSecret: (v.VIGIL_ALERT_WEBHOOK_SECRET as string) ?? null,
    tickMs: v.VIGIL_ALERT_TICK_MS as number,
    backlogMax: v.VIGIL_ALERT_BACKLOG_MAX as number,
    deliveryPollMs: v.VIGIL_DELIVERY_POLL_MS as number,
    deliveryBackoffMs: v.VIGIL_DELIVERY_BACKOFF_MS as number,
    deliveryMaxBackoffMs: v.VIGIL_DELIVERY_MAX_BACKOFF_MS as number,
    deliveryMaxAttempts: v.VIGIL_DELIVERY_MAX_ATTEMPTS as number,
    deliveryLeaseMs: v.VIGIL_DELIVERY_LEASE_MS as number,
  };
}
