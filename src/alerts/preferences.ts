import { z } from 'zod';
import { SEVERITIES, type Severity } from './rule-schema.ts';

/**
 * Per-user notification preferences (pure): which severities reach which channels, and quiet hours.
 * Critical alerts are never filtered out and never silenced by quiet hours.
 */
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');

/**
 * Web Push endpoints: https, or plain http only to this machine (a local push service in tests). The host is
 * compared after URL parsing, so `http://localhost.evil.example` and `http://127.0.0.1@evil.example` fail
 * (issue 9, F13–F18).
 */
export function pushEndpointAllowed(endpoint: string): boolean {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
}

export const pushSubscriptionSchema = z.object({
  endpoint: z.string().max(2048).url().refine(pushEndpointAllowed, 'push endpoints must be https (plain http only to this machine: localhost, 127.0.0.1, ::1)'),
  keys: z.object({
    p256dh: z.string().regex(/^[A-Za-z0-9_-]{80,100}$/, 'p256dh must be a base64url P-256 point'),
    auth: z.string().regex(/^[A-Za-z0-9_-]{16,24}$/, 'auth must be a base64url 16-byte secret'),
  }),
});

export const preferencesSchema = z.object({
  severities: z.array(z.enum(SEVERITIES)).default(['warning', 'critical']),
  channels: z.object({ email: z.boolean().default(true), webpush: z.boolean().default(false) }).default({ email: true, webpush: false }),
  quietHours: z
    .object({ start: hhmm, end: hhmm, timeZone: z.string().refine(validTimeZone, 'unknown time zone').default('UTC') })
    .nullable()
    .default(null),
  /** This user's browsers (Web Push); managed through /api/v1/me/push-subscriptions. */
  pushSubscriptions: z.array(pushSubscriptionSchema).max(10).default([]),
});

export type AlertPreferences = z.infer<typeof preferencesSchema>;
export type Channel = 'email' | 'webpush';

export const DEFAULT_PREFERENCES: AlertPreferences = preferencesSchema.parse({});

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Minutes after local midnight in a time zone. */
function localMinutes(now: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(now));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

export function inQuietHours(q: AlertPreferences['quietHours'], now: number): boolean {
  if (!q) return false;
  const toMin = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3));
  const m = localMinutes(now, q.timeZone);
  const [start, end] = [toMin(q.start), toMin(q.end)];
  return start <= end ? m >= start && m < end : m >= start || m < end; // spans midnight when start > end
}

/** Should this user get this severity on this channel now? */
export function shouldNotify(prefs: AlertPreferences, severity: Severity, channel: Channel, now: number): boolean {
  if (!prefs.channels[channel]) return false;
  if (severity === 'critical') return true;
  if (!prefs.severities.includes(severity)) return false;
  return !inQuietHours(prefs.quietHours, now);
}
