import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../config/config.ts';

/**
 * Where browsers find STUN/TURN for video visits (README → Video visits). Nothing outside is used unless
 * configured: on one network, host candidates suffice; clinics behind NAT add a TURN server (coturn).
 * - VIGIL_ICE_SERVERS: JSON array of RTCIceServer, e.g. [{"urls":"stun:stun.example.org:3478"}]
 * - VIGIL_TURN_URLS + VIGIL_TURN_SECRET: coturn with `use-auth-secret` / `static-auth-secret`; each
 *   participant gets short-lived credentials (the TURN REST API scheme: username "expiry:id",
 *   password base64(HMAC-SHA1(secret, username))), so no long-lived TURN password reaches a browser.
 * - VIGIL_ICE_TRANSPORT_POLICY: "all" (default) or "relay" (force every call through TURN).
 */
export interface VisitsConfig {
  iceServers: Array<{ urls: string | string[]; username?: string; credential?: string }>;
  turnUrls: string[];
  turnSecret: string | null;
  turnTtlS: number;
  iceTransportPolicy: 'all' | 'relay';
  /** How long a guest link stays valid after the appointment's end (and at least from now), s. */
  inviteTtlS: number;
  maxParticipants: number;
  /**
   * How long (s) someone whose connection dropped may walk straight back into the room, and how long a room
   * emptied only by lost connections is held open for them before the visit ends (visit-rooms.ts).
   */
  rejoinS: number;
  /**
   * How often (s) an open call socket's credential (session, token or guest pass) and its right to the visit (the
   * care team, the patient's own) are checked again; a socket that no longer holds them is closed (visits.routes.ts).
   */
  recheckS: number;
  /** Telehealth emails (messaging/email-nudges.ts, appointments/reminders.ts); sent only when SMTP is configured. */
  email: {
    /** A message from the care team unread this long (s) earns its reader one nudge… */
    nudgeAfterS: number;
    /** …and at most one per thread per this period (s). */
    nudgePeriodS: number;
    /** Booked visits starting within this (s) get a reminder, once. */
    reminderLeadS: number;
    /** How often the sweep runs (s). */
    tickS: number;
  };
}

const iceServer = z.object({
  urls: z.union([
    z.string().regex(/^(stun|stuns|turn|turns):/, 'urls must start with stun:, stuns:, turn: or turns:'),
    z.array(z.string().regex(/^(stun|stuns|turn|turns):/)),
  ]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
const fields = {
  VIGIL_ICE_SERVERS: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON array such as [{"urls":"stun:host:3478"}]' });
        return z.NEVER;
      }
    })
    .pipe(z.array(iceServer, { error: 'must be a JSON array of {"urls", "username"?, "credential"?}' }))
    .default([]),
  VIGIL_TURN_URLS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^turns?:/, 'each URL must start with turn: or turns:')))
    .default([]),
  VIGIL_TURN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  VIGIL_TURN_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400)
    .default(4 * 3600),
  VIGIL_ICE_TRANSPORT_POLICY: z.enum(['all', 'relay'], { error: 'must be "all" or "relay"' }).default('all'),
  VIGIL_VISIT_INVITE_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(2 * 3600),
  VIGIL_VISIT_REJOIN_S: z.coerce.number().int().min(1).max(3600).default(120),
  VIGIL_VISIT_RECHECK_S: z.coerce.number().int().min(1).max(3600).default(30),
  VIGIL_MESSAGE_NUDGE_AFTER_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(4 * 3600),
  VIGIL_MESSAGE_NUDGE_PERIOD_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(24 * 3600),
  VIGIL_APPOINTMENT_REMINDER_LEAD_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(24 * 3600),
  VIGIL_TELEHEALTH_EMAIL_TICK_S: z.coerce.number().int().min(1).max(3600).default(60),
} as const;

export const VISITS_CONFIG_KEYS = Object.keys(fields);

export function loadVisitsConfig(env: Record<string, string | undefined>): VisitsConfig {
  const v: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(fields)) {
    const raw = env[key] === '' ? undefined : env[key];
    const r = (schema as z.ZodType).safeParse(raw);
    if (!r.success) throw new ConfigError(key, r.error.issues[0].message);
    v[key] = r.data;
  }
  const turnUrls = v.VIGIL_TURN_URLS as string[];
  if (turnUrls.length && !v.VIGIL_TURN_SECRET)
    throw new ConfigError('VIGIL_TURN_SECRET', 'is required with VIGIL_TURN_URLS (the static-auth-secret of the TURN server)');
  const policy = v.VIGIL_ICE_TRANSPORT_POLICY as 'all' | 'relay';
  const iceServers = v.VIGIL_ICE_SERVERS as VisitsConfig['iceServers'];
  if (policy === 'relay' && !turnUrls.length && !iceServers.some((s) => [s.urls].flat().some((u) => u.startsWith('turn')))) {
    throw new ConfigError('VIGIL_ICE_TRANSPORT_POLICY', '"relay" needs a TURN server (VIGIL_TURN_URLS or a turn: entry in VIGIL_ICE_SERVERS)');
  }
  return {
    iceServers,
    turnUrls,
    turnSecret: (v.VIGIL_TURN_SECRET as string | undefined) ?? null,
    turnTtlS: v.VIGIL_TURN_TTL_S as number,
    iceTransportPolicy: policy,
    inviteTtlS: v.VIGIL_VISIT_INVITE_TTL_S as number,
    maxParticipants: 5,
    rejoinS: v.VIGIL_VISIT_REJOIN_S as number,
    recheckS: v.VIGIL_VISIT_RECHECK_S as number,
    email: {
      nudgeAfterS: v.VIGIL_MESSAGE_NUDGE_AFTER_S as number,
      nudgePeriodS: v.VIGIL_MESSAGE_NUDGE_PERIOD_S as number,
      reminderLeadS: v.VIGIL_APPOINTMENT_REMINDER_LEAD_S as number,
      tickS: v.VIGIL_TELEHEALTH_EMAIL_TICK_S as number,
    },
  };
}

/** The RTCConfiguration handed to one participant: static servers plus fresh TURN credentials. */
export function rtcConfigurationFor(config: VisitsConfig, participantId: string, now: number) {
  const iceServers = [...config.iceServers];
  if (config.turnUrls.length && config.turnSecret) {
    const username = `${Math.floor(now / 1000) + config.turnTtlS}:${participantId}`;
    const credential = createHmac('sha1', config.turnSecret).update(username).digest('base64');
    iceServers.push({ urls: config.turnUrls, username, credential });
  }
  return { iceServers, iceTransportPolicy: config.iceTransportPolicy };
}
