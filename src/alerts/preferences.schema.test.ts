import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFERENCES, inQuietHours, preferencesSchema, shouldNotify, type AlertPreferences } from './preferences.ts';

const at = (isoUtc: string) => Date.parse(isoUtc);
const prefs = (over: Partial<AlertPreferences>): AlertPreferences => ({ ...DEFAULT_PREFERENCES, ...over });

describe('notification preferences (pure)', () => {
  it('defaults: warning and critical by email, no Web Push, no quiet hours', () => {
    expect(DEFAULT_PREFERENCES).toEqual({
      severities: ['warning', 'critical'],
      channels: { email: true, webpush: false },
      quietHours: null,
      pushSubscriptions: [],
    });
    const now = at('2026-11-30T03:00:00Z');
    expect(shouldNotify(DEFAULT_PREFERENCES, 'warning', 'email', now)).toBe(true);
    expect(shouldNotify(DEFAULT_PREFERENCES, 'info', 'email', now)).toBe(false);
    expect(shouldNotify(DEFAULT_PREFERENCES, 'critical', 'webpush', now)).toBe(false); // channel off
  });

  it('quiet hours across midnight in the user’s time zone silence warnings, never criticals', () => {
    const p = prefs({ quietHours: { start: '22:00', end: '07:00', timeZone: 'Europe/Paris' } }); // UTC+1 in November
    const night = at('2026-11-30T02:30:00Z'); // 03:30 in Paris
    const day = at('2026-11-30T09:00:00Z'); // 10:00 in Paris
    expect(inQuietHours(p.quietHours, night)).toBe(true);
    expect(inQuietHours(p.quietHours, day)).toBe(false);
    expect(inQuietHours(p.quietHours, at('2026-11-30T21:30:00Z'))).toBe(true); // 22:30 Paris: starts at 22:00
    expect(inQuietHours(p.quietHours, at('2026-11-30T06:00:00Z'))).toBe(false); // 07:00 Paris: ends at 07:00
    expect(shouldNotify(p, 'warning', 'email', night)).toBe(false);
    expect(shouldNotify(p, 'critical', 'email', night)).toBe(true);
    expect(shouldNotify(p, 'warning', 'email', day)).toBe(true);
  });

  it('a same-day window (13:00–14:00 UTC) and a severity filter that leaves warnings out', () => {
    const p = prefs({ severities: ['critical'], quietHours: { start: '13:00', end: '14:00', timeZone: 'UTC' } });
    expect(inQuietHours(p.quietHours, at('2026-11-30T13:59:00Z'))).toBe(true);
    expect(inQuietHours(p.quietHours, at('2026-11-30T14:00:00Z'))).toBe(false);
    expect(shouldNotify(p, 'warning', 'email', at('2026-11-30T10:00:00Z'))).toBe(false);
  });

  it('the schema names the bad field: a time that is not HH:MM, an unknown time zone, a non-https push endpoint', () => {
    const bad = (body: unknown) => preferencesSchema.safeParse(body).error?.issues[0];
    expect(bad({ quietHours: { start: '25:00', end: '07:00' } })).toMatchObject({ path: ['quietHours', 'start'], message: 'must be HH:MM (24 h)' });
    expect(bad({ quietHours: { start: '22:00', end: '07:00', timeZone: 'Mars/Olympus' } })).toMatchObject({
      path: ['quietHours', 'timeZone'],
      message: 'unknown time zone',
    });
    expect(bad({ pushSubscriptions: [{ endpoint: 'http://push.example.com/x', keys: { p256dh: 'a'.repeat(87), auth: 'b'.repeat(22) } }] })?.path).toEqual([
      'pushSubscriptions',
      0,
      'endpoint',
    ]);
    expect(preferencesSchema.parse({ quietHours: { start: '22:00', end: '07:00' } }).quietHours?.timeZone).toBe('UTC');
  });
});
