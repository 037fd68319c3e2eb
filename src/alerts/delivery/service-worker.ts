/**
 * The browser side of Web Push, served at `/alerts-sw.js` (root scope): shows the alert as a system
 * notification and focuses or opens the inbox when it is clicked. Plain JS; the payload is what
 * notification-plan.ts puts in `message`.
 */
export const ALERTS_SERVICE_WORKER = `'use strict';
self.addEventListener('push', (event) => {
  let m = {};
  try { m = event.data ? event.data.json() : {}; } catch (e) { m = { title: 'Vigil alert', body: event.data ? event.data.text() : '' }; }
  event.waitUntil(self.registration.showNotification(m.title || 'Vigil alert', {
    body: m.body || '',
    tag: m.alertId || 'vigil-alert',
    renotify: true,
    requireInteraction: m.severity === 'critical',
    data: { url: m.url || '/#/alerts' },
  }));
});
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || '/#/alerts';
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
    for (const c of list) if ('focus' in c) { c.navigate(url); return c.focus(); }
    return self.clients.openWindow(url);
  }));
});
`;
