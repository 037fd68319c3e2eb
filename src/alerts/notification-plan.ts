import { createHash } from 'node:crypto';
import type { Alert } from './alerts.repository.ts';
import type { NewJob } from './notifications.repository.ts';
import type { Recipient } from './recipients.repository.ts';
import { shouldNotify } from './preferences.ts';

export type NotifyEvent = 'opened' | 'escalated' | 'worsened' | 'snooze-ended';

/**
 * Pure: which outbox jobs an alert event makes, given the recipients and their preferences. The
 * idempotency key names the alert, the event (with its escalation level), the user and the channel, so
 * re-planning the same event never queues a second message.
 */
export function planNotifications(a: {
  alert: Alert;
  event: NotifyEvent;
  recipients: Recipient[];
  patientName: string;
  now: number;
  email: boolean;
  webpush: boolean;
  webhookUrl: string | null;
  appUrl: string;
}): NewJob[] {
  const { alert } = a;
  const tag = `${alert.id}:${a.event}:${a.event === 'escalated' ? alert.escalationLevel : a.event === 'worsened' ? alert.severity : a.event === 'snooze-ended' ? alert.snoozedUntil : 0}`;
  const subject = `[Vigil ${alert.severity.toUpperCase()}] ${a.patientName}: ${alert.message}${a.event === 'escalated' ? ` (escalated, level ${alert.escalationLevel})` : ''}`;
  const text = [
    `${alert.severity.toUpperCase()} alert for ${a.patientName}`,
    alert.message,
    `Opened ${alert.openedAt}; status ${alert.status}${a.event === 'escalated' ? `; unacknowledged, escalated to level ${alert.escalationLevel}` : ''}.`,
    '',
    `Open the inbox: ${a.appUrl}/#/alerts`,
  ].join('\n');
  const jobs: NewJob[] = [];
  const seen = new Set<string>();
  for (const r of a.recipients) {
    if (seen.has(r.userId)) continue;
    seen.add(r.userId);
    if (a.email && shouldNotify(r.prefs, alert.severity, 'email', a.now)) {
      jobs.push({
        idempotencyKey: `${tag}:${r.userId}:email`,
        alertId: alert.id,
        userId: r.userId,
        channel: 'email',
        target: r.email,
        payload: { subject, text },
      });
    }
    if (a.webpush && shouldNotify(r.prefs, alert.severity, 'webpush', a.now)) {
      for (const sub of r.prefs.pushSubscriptions) {
        const device = createHash('sha256').update(sub.endpoint).digest('hex').slice(0, 12);
        const message = {
          title: `${alert.severity === 'critical' ? 'Critical' : alert.severity === 'warning' ? 'Warning' : 'Info'}: ${a.patientName}`,
          body: alert.message,
          alertId: alert.id,
          patientId: alert.patientId,
          severity: alert.severity,
          url: `${a.appUrl}/#/alerts`,
        };
        jobs.push({
          idempotencyKey: `${tag}:${r.userId}:webpush:${device}`,
          alertId: alert.id,
          userId: r.userId,
          channel: 'webpush',
          target: sub.endpoint,
          payload: { subscription: sub, message, urgency: alert.severity === 'critical' ? 'high' : 'normal' },
        });
      }
    }
  }
  if (a.webhookUrl) {
    jobs.push({
      idempotencyKey: `${tag}:webhook`,
      alertId: alert.id,
      userId: null,
      channel: 'webhook',
      target: a.webhookUrl,
      payload: { event: `alert.${a.event}`, patientName: a.patientName, alert },
    });
  }
  return jobs;
}
