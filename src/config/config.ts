import path from 'node:path';
import { z } from 'zod';
import { loadAlertsConfig, type AlertsConfig } from '../alerts/alerts.config.ts';
import { loadVisitsConfig, type VisitsConfig } from '../visits/visits.config.ts';
import { ERASABLE, type Erasable } from '../privacy/erasure.ts';
import { isTimeZone, processTimeZone } from '../platform/time-zone.ts';

/**
 * The one typed configuration object, read once at start (interfaces.md §2).
 * Every problem is reported as one line naming the setting.
 */
export interface Config {
  /** [sec] ONC §170.315(d)(9): HTTPS and MQTTS served by Vigil itself when a certificate is configured. */
  tls?: { certFile: string; keyFile: string; mqttsPort: number };
  httpPort: number;
  httpHost: string;
  /** 0 disables the embedded broker. */
  mqttPort: number;
  /** True when VIGIL_MQTT_PORT was set: a taken port is then an error, not a reason to pick another. */
  /** Where the embedded broker listens (VIGIL_MQTT_HOST, default VIGIL_HTTP_HOST). */
  mqttHost: string;
  mqttPortExplicit: boolean;
  dataDir: string;
  /** postgres://… — use this server instead of the embedded PGlite. */
  databaseUrl?: string;
  /** VIGIL_PG_PREPARED: named prepared statements for the FHIR search on PostgreSQL (platform/db.ts). */
  databasePrepared: boolean;
  /** VIGIL_PGLITE_FSYNC: the embedded database flushes each commit to disk (platform/pglite-worker.ts). */
  pgliteFsync: boolean;
  /** VIGIL_TIME_ZONE: the clinic's IANA zone, for clock times (AGP hours, home BP morning/evening, CGM days) of patients without their own. */
  timeZone: string;
  /** mqtt://… — use this external broker instead of the embedded aedes. */
  mqttUrl?: string;
  mosquittoConf?: string;
  /** VIGIL_BROKER_ORPHAN_AFTER_S: an instance's broker sessions not seen for this long are drained by another (ingest/broker/orphan-sessions.ts). */
  brokerOrphanAfterS: number;
  /** A NATS cluster with JetStream (devices speak MQTT to its gateway; Vigil consumes the replicated stream). */
  nats?: { servers: string[]; replicas: number; ackWaitS: number };
  demo: boolean;
  logLevel: string;
  /** Ingest batching: how long a reading may wait for companions before the batch is written (ms). */
  ingestFlushMs: number;
  /** Public base URL shown in logs and links (defaults to http://localhost:PORT). */
  publicUrl?: string;
  /** Device commands: how long an online device has to answer, and how long a command waits for an offline one (s). */
  commandAnswerTimeoutS: number;
  commandQueueTtlS: number;
  /** Retention of operational tables, in days; readings by whole monthly partitions (unset: kept). */
  retention: { dedupDays: number; rejectionsDays: number; notificationsDays: number; readingsMonths?: number };
  /** [sec] Security settings (issue 9). */
  security: SecurityConfig;
  /** Check every API response against its contract and fail loudly on drift (tests and CI; off in production). */
  strictResponses: boolean;
  /** Alerts: SMTP, webhook, delivery, escalation tick (alerts/alerts.config.ts, VIGIL_ALERT_* / VIGIL_SMTP_URL …). */
  alerts: AlertsConfig;
  /** Video visits: STUN/TURN and room size (visits/visits.config.ts). */
  visits: VisitsConfig;
  /**
   * Key material outside the database (platform/secrets.ts): base64 keys, comma-separated (first current);
   * unset: the files under <dataDir>/keys. A ConfigError never echoes these (SECRET_SETTINGS).
   */
  keys: KeySettings;
  /** GDPR erasure: clinical data kept (pseudonymous) under the clinic's medical-records retention law. */
  privacy: { erasureRetain: Erasable[] };
}

export interface KeySettings {
  /** VIGIL_MASTER_KEY: wraps patients' data keys (encryption at rest). */
  masterKey?: string;
  /** VIGIL_AUDIT_KEY: the audit chain's HMAC key. */
  auditKey?: string;
  /** VIGIL_AUDIT_ANCHOR: where the audit chain's signed checkpoint is written (default <dataDir>/audit-anchor.json). */
  auditAnchor?: string;
}

export interface SecurityConfig {
  /** Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs); empty: none, the socket address counts. */
  trustedProxies: string[];
  /** Extra browser origins allowed to call the API with a session cookie (besides the server's own). */
  allowedOrigins: string[];
  /**
   * ONC §170.315(d)(13): clinicians and admins must use a second factor. Default: required, except in the
   * localhost demo (VIGIL_DEMO=1), whose printed logins are meant to be tried; VIGIL_REQUIRE_MFA decides when set.
   */
  requireMfa: boolean;
  /** ONC §170.315(d)(5): a session ends after this long without a request, and at most this long after sign-in. */
  sessionIdleMin: number;
  sessionMaxHours: number;
  /** Default lifetime of a new API token (days); 0 = no expiry (only by explicit choice). */
  tokenTtlDays: number;
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${redactUserinfo(message)}`);
  }
}

/**
 * `scheme://user:password@host` → `scheme://user:***@host` in an error message that quotes a setting's value
 * (DATABASE_URL, MQTT_URL): a URL too broken to parse (port 99999) still holds a real password. Up to the last
 * `@` of the word, so a password holding `@` is hidden whole.
 */
export function redactUserinfo(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/"]*):[^\s"]*@/gi, '$1:***@');
}

// Decimal digits only: Number() also took "0x1F90" (8080) and " " (0, a random port) (found by review).
const port = (allowZero: boolean) =>
  z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^\d{1,5}$/, 'must be a port number (digits only)'),
    ])
    .transform(Number)
    .pipe(
      z
        .number()
        .int('must be a whole number')
        .min(allowZero ? 0 : 1, allowZero ? 'must be 0–65535' : 'must be 1–65535')
        .max(65535, 'must be 0–65535'),
    );

const bool = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .refine((s) => ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'].includes(s), 'must be 1 or 0')
  .transform((s) => ['1', 'true', 'yes', 'on'].includes(s));

const url = (schemes: string[]) =>
  z.string().refine(
    (s) => {
      try {
        return schemes.includes(new URL(s).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${schemes.map((s) => s + '://').join(' or ')}`,
  );

/** Key material: an error about one names the setting, never its value. */
const SECRET_SETTINGS = new Set(['VIGIL_MASTER_KEY', 'VIGIL_AUDIT_KEY']);

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

const fields = {
  VIGIL_HTTP_PORT: port(true).default(8080),
  // Localhost unless configured: the demo clinic's logins are easy to try (issue 9, F3).
  VIGIL_HTTP_HOST: z.string().default('127.0.0.1'),
  VIGIL_MQTT_PORT: port(true).default(1883),
  // The embedded broker's interface; by default the same as HTTP's (found by review: it listened on every
  // interface while HTTP stayed on localhost, so device secrets crossed the network in clear by default).
  VIGIL_MQTT_HOST: z.string().min(1, 'must not be empty').optional(),
  VIGIL_DATA_DIR: z.string().min(1, 'must not be empty').default('./data'),
  DATABASE_URL: url(['postgres', 'postgresql']).optional(),
  // Named prepared statements for the hot FHIR search (platform/db.ts); off behind a pooler that cannot keep them.
  VIGIL_PG_PREPARED: bool.default(true),
  VIGIL_PGLITE_FSYNC: bool.default(true),
  // The clinic's clock: the AGP by hour of day and home BP's mornings were at UTC, hours off for most clinics.
  VIGIL_TIME_ZONE: z
    .string()
    .refine(isTimeZone, 'must be an IANA time zone such as Europe/London or America/New_York')
    .default(() => processTimeZone()),
  MQTT_URL: url(['mqtt', 'mqtts', 'tcp', 'ws', 'wss']).optional(),
  // Comma-separated: every node Vigil may connect to (it fails over between them).
  NATS_URL: z
    .string()
    .refine(
      (s) =>
        list(s).every((u) => {
          try {
            return new URL(u).protocol === 'nats:';
          } catch {
            return false;
          }
        }),
      'must be nats://host:port URLs, comma-separated',
    )
    .optional(),
  // The external Mosquitto's configuration file, checked at start for settings that lose acknowledged readings.
  VIGIL_MOSQUITTO_CONF: z.string().min(1).optional(),
  VIGIL_BROKER_ORPHAN_AFTER_S: z.coerce.number().int('must be whole seconds').min(2, 'must be at least 2').max(86_400).default(60),
  VIGIL_NATS_REPLICAS: z.coerce.number().int().min(1).max(5).default(3),
  VIGIL_NATS_ACK_WAIT_S: z.coerce.number().int().min(1).max(3600).default(30),
  VIGIL_DEMO: bool.default(true),
  VIGIL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  VIGIL_INGEST_FLUSH_MS: z.coerce.number().int().min(0).max(1000).default(5),
  VIGIL_PUBLIC_URL: url(['http', 'https']).optional(),
  VIGIL_TLS_CERT: z.string().min(1).optional(),
  VIGIL_TLS_KEY: z.string().min(1).optional(),
  VIGIL_MQTTS_PORT: port(true).default(8883),
  VIGIL_COMMAND_ANSWER_TIMEOUT_S: z.coerce.number().int('must be whole seconds').min(5, 'must be at least 5').max(3600, 'must be at most 3600').default(120),
  VIGIL_STRICT_RESPONSES: bool.default(false),
  VIGIL_COMMAND_QUEUE_TTL_S: z.coerce
    .number()
    .int('must be whole seconds')
    .min(60, 'must be at least 60')
    .max(7 * 86_400, 'must be at most 7 days')
    .default(3600),
  VIGIL_RETENTION_DEDUP_DAYS: z.coerce
    .number()
    .int('must be whole days')
    .min(8, 'must be at least 8 (devices and broker sessions re-send for up to 7 days)')
    .max(3650)
    .default(14),
  VIGIL_RETENTION_REJECTIONS_DAYS: z.coerce.number().int('must be whole days').min(1).max(3650).default(30),
  VIGIL_RETENTION_NOTIFICATIONS_DAYS: z.coerce.number().int('must be whole days').min(1).max(3650).default(90),
  // Unset: readings are kept (medical-records law often asks for 10 years or more).
  VIGIL_RETENTION_READINGS_MONTHS: z.coerce.number().int('must be whole months').min(1).max(1200).optional(),
  VIGIL_TRUSTED_PROXIES: z
    .string()
    .default('')
    .refine(
      (s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
          .every((x) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(x)),
      'must be a comma-separated list of IP addresses or CIDR ranges',
    ),
  VIGIL_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .refine(
      (s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
          .every((x) => /^https?:\/\/[^/\s]+$/.test(x)),
      'must be a comma-separated list of origins like https://portal.example.org',
    ),
  VIGIL_REQUIRE_MFA: bool.optional(),
  VIGIL_SESSION_IDLE_MIN: z.coerce
    .number()
    .int('must be whole minutes')
    .min(1, 'must be at least 1')
    .max(24 * 60, 'must be at most 1440')
    .default(30),
  VIGIL_SESSION_MAX_HOURS: z.coerce
    .number()
    .int('must be whole hours')
    .min(1, 'must be at least 1')
    .max(24 * 30, 'must be at most 720')
    .default(12),
  VIGIL_MASTER_KEY: z.string().optional(),
  VIGIL_AUDIT_KEY: z.string().optional(),
  VIGIL_AUDIT_ANCHOR: z.string().optional(),
  VIGIL_ERASURE_RETAIN: z
    .string()
    .default('')
    .refine((s) => list(s).every((x) => (ERASABLE as readonly string[]).includes(x)), `must be a comma-separated list of ${ERASABLE.join(', ')} (or empty)`),
  VIGIL_TOKEN_TTL_DAYS: z.coerce.number().int('must be whole days').min(0, 'must be 0 or more').max(3650, 'must be at most 3650').default(90),
} as const;

/** Builds the config from environment-like key/values; throws ConfigError naming the first bad setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const values: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(fields)) {
    const raw = env[key];
    const input = raw === undefined || raw === '' ? undefined : raw;
    const parsed = (schema as z.ZodType).safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(key, `${issue?.message ?? 'invalid'}${SECRET_SETTINGS.has(key) ? '' : ` (got "${raw}")`}`);
    }
    values[key] = parsed.data;
  }
  const v = values as { [K in keyof typeof fields]: z.infer<(typeof fields)[K]> };
  if (!!v.VIGIL_TLS_CERT !== !!v.VIGIL_TLS_KEY)
    throw new ConfigError(v.VIGIL_TLS_CERT ? 'VIGIL_TLS_KEY' : 'VIGIL_TLS_CERT', 'HTTPS needs both VIGIL_TLS_CERT and VIGIL_TLS_KEY (PEM files)');
  return {
    tls:
      v.VIGIL_TLS_CERT && v.VIGIL_TLS_KEY
        ? { certFile: path.resolve(v.VIGIL_TLS_CERT), keyFile: path.resolve(v.VIGIL_TLS_KEY), mqttsPort: v.VIGIL_MQTTS_PORT }
        : undefined,
    httpPort: v.VIGIL_HTTP_PORT,
    httpHost: v.VIGIL_HTTP_HOST,
    mqttPort: v.VIGIL_MQTT_PORT,
    mqttHost: v.VIGIL_MQTT_HOST ?? v.VIGIL_HTTP_HOST,
    mqttPortExplicit: env.VIGIL_MQTT_PORT !== undefined && env.VIGIL_MQTT_PORT !== '',
    dataDir: path.resolve(v.VIGIL_DATA_DIR),
    databaseUrl: v.DATABASE_URL,
    databasePrepared: v.VIGIL_PG_PREPARED,
    pgliteFsync: v.VIGIL_PGLITE_FSYNC,
    timeZone: v.VIGIL_TIME_ZONE,
    mqttUrl: v.MQTT_URL,
    mosquittoConf: v.VIGIL_MOSQUITTO_CONF,
    brokerOrphanAfterS: v.VIGIL_BROKER_ORPHAN_AFTER_S,
    nats: v.NATS_URL ? { servers: list(v.NATS_URL), replicas: v.VIGIL_NATS_REPLICAS, ackWaitS: v.VIGIL_NATS_ACK_WAIT_S } : undefined,
    demo: v.VIGIL_DEMO,
    logLevel: v.VIGIL_LOG_LEVEL,
    ingestFlushMs: v.VIGIL_INGEST_FLUSH_MS,
    publicUrl: v.VIGIL_PUBLIC_URL,
    commandAnswerTimeoutS: v.VIGIL_COMMAND_ANSWER_TIMEOUT_S,
    commandQueueTtlS: v.VIGIL_COMMAND_QUEUE_TTL_S,
    retention: {
      dedupDays: v.VIGIL_RETENTION_DEDUP_DAYS,
      rejectionsDays: v.VIGIL_RETENTION_REJECTIONS_DAYS,
      notificationsDays: v.VIGIL_RETENTION_NOTIFICATIONS_DAYS,
      readingsMonths: v.VIGIL_RETENTION_READINGS_MONTHS,
    },
    security: {
      trustedProxies: list(v.VIGIL_TRUSTED_PROXIES),
      allowedOrigins: list(v.VIGIL_ALLOWED_ORIGINS),
      requireMfa: v.VIGIL_REQUIRE_MFA ?? !v.VIGIL_DEMO,
      sessionIdleMin: v.VIGIL_SESSION_IDLE_MIN,
      sessionMaxHours: v.VIGIL_SESSION_MAX_HOURS,
      tokenTtlDays: v.VIGIL_TOKEN_TTL_DAYS,
    },
    strictResponses: v.VIGIL_STRICT_RESPONSES,
    alerts: loadAlertsConfig(env),
    visits: loadVisitsConfig(env),
    keys: { masterKey: v.VIGIL_MASTER_KEY, auditKey: v.VIGIL_AUDIT_KEY, auditAnchor: v.VIGIL_AUDIT_ANCHOR },
    privacy: { erasureRetain: list(v.VIGIL_ERASURE_RETAIN) as Erasable[] },
  };
}

/** Every key, for `.env.example` and the README. */
export const CONFIG_KEYS = Object.keys(fields);
