import { describe, expect, it } from 'vitest';
import { planNotifications } from './notification-plan.ts';
import { DEFAULT_PREFERENCES, type AlertPreferences } from './preferences.ts';
import { openedAlert, type Alert } from './alerts.repository.ts';
import type { Recipient } from './recipients.repository.ts';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const alert = (over: Partial<Alert> = {}): Alert => ({
  ...openedAlert(
    {
      id: 'alr_1',
      patientId: 'pat_1',
      rule: 'spo2-low',
      ruleId: 'rul_1',
      ruleVersion: 3,
      subject: 'dev_1',
      severity: 'critical',
      message: 'SpO2 85 % below 90 %',
      value: 85,
    },
    new Date(NOW).toISOString(),
  ),
  openedAt: new Date(NOW - 60_000).toISOString(),
  ...over,
});
const sub = (n: number) => ({ endpoint: `https://push.example.com/${n}`, keys: { p256dh: 'p'.repeat(87), auth: 'a'.repeat(22) } });
const person = (id: string, prefs: Partial<AlertPreferences> = {}): Recipient => ({
  userId: id,
  email: `${id}@clinic.test`,
  displayName: id,
  role: 'clinician',
  prefs: { ...DEFAULT_PREFERENCES, ...prefs },
});
const plan = (over: Partial<Parameters<typeof planNotifications>[0]> = {}) =>
  planNotifications({
    alert: alert(),
    event: 'opened',
    recipients: [person('nurse')],
    patientName: 'Ada Lovelace',
    now: NOW,
    email: true,
    webpush: true,
    webhookUrl: null,
    appUrl: 'https://vigil.test',
    ...over,
  });

describe('notification plan (pure)', () => {
  it('one email per recipient, with the patient, the message and a link to the inbox', () => {
    const jobs = plan();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      channel: 'email',
      target: 'nurse@clinic.test',
      alertId: 'alr_1',
      userId: 'nurse',
      idempotencyKey: 'alr_1:opened:0:nurse:email',
    });
    expect(jobs[0].payload.subject).toBe('[Vigil CRITICAL] Ada Lovelace: SpO2 85 % below 90 %');
    expect(String(jobs[0].payload.text)).toContain('https://vigil.test/#/alerts');
  });

  it('a recipient listed twice (care team and ladder) gets one message', () => {
    expect(plan({ recipients: [person('nurse'), person('nurse')] })).toHaveLength(1);
  });

  it('one Web Push per browser, high urgency for critical; none when the server has no Web Push', () => {
    const r = person('doc', { channels: { email: false, webpush: true }, pushSubscriptions: [sub(1), sub(2)] });
    const jobs = plan({ recipients: [r] });
    expect(jobs.map((j) => j.channel)).toEqual(['webpush', 'webpush']);
    expect(new Set(jobs.map((j) => j.idempotencyKey)).size).toBe(2);
    expect(jobs[0].payload.urgency).toBe('high');
    expect(plan({ recipients: [r], webpush: false })).toEqual([]);
  });

  it('escalation levels and worsened severities get distinct keys; re-planning the same event the same keys', () => {
    const l1 = plan({ event: 'escalated', alert: alert({ escalationLevel: 1 }) })[0].idempotencyKey;
    const l2 = plan({ event: 'escalated', alert: alert({ escalationLevel: 2 }) })[0].idempotencyKey;
    expect(l1).not.toBe(l2);
    expect(plan({ event: 'escalated', alert: alert({ escalationLevel: 1 }) })[0].idempotencyKey).toBe(l1);
    expect(plan({ event: 'escalated', alert: alert({ escalationLevel: 1 }) })[0].payload.subject).toContain('(escalated, level 1)');
    expect(plan({ event: 'worsened', alert: alert({ severity: 'warning' }) })[0].idempotencyKey).not.toBe(plan({ event: 'worsened' })[0].idempotencyKey);
  });

  it('preferences decide: a warning in quiet hours reaches nobody, but the webhook still gets every event', () => {
    const quiet = person('night', { quietHours: { start: '00:00', end: '23:59', timeZone: 'UTC' } });
    const jobs = plan({ alert: alert({ severity: 'warning' }), recipients: [quiet], webhookUrl: 'https://hooks.test/vigil' });
    expect(jobs.map((j) => j.channel)).toEqual(['webhook']);
    expect(jobs[0]).toMatchObject({ userId: null, target: 'https://hooks.test/vigil', payload: { event: 'alert.opened', patientName: 'Ada Lovelace' } });
  });
});
