/**
 * Issue 11 defect 6, in Chromium: the top-bar alarm badge must not go deaf after its WebSocket drops. An
 * alert opened while the socket is down (server restart, Wi-Fi, the slow-client cut) is never pushed; the
 * badge reloads open alerts on reconnect, so it shows it without a page reload. The same for the waiting-room
 * banner: someone who began waiting for a video visit while the socket was down is shown once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { bootApp, type TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { hasChromium, launchChromium } from '../support/browser.ts';
import { VisitClient } from '../support/visit-client.ts';

if (!hasChromium) skipNote('Chromium (alarm badge browser test)');

describe.skipIf(!hasChromium)('alarm badge after a WebSocket reconnect', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  const sockets: WebSocketRoute[] = [];
  let blocked = false;
  /** The nurse the page is signed in as (by the first test). */
  let nurse: { token: string; email: string; practitionerId: string | null };

  beforeAll(async () => {
    app = await bootApp({ env: { VIGIL_REQUIRE_MFA: '0' } }); // sign-in with a second factor is tested in mfa.browser.test.ts
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // The page's live socket goes through this route, so the test can cut it and keep it down.
    await page.routeWebSocket(/\/api\/v1\/stream/, (ws) => {
      if (blocked) return void ws.close();
      ws.connectToServer();
      sockets.push(ws);
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('shows an alert opened while the socket was down once it reconnects, without a reload', async () => {
    const admin = (await app.tokenFor('admin')).token;
    nurse = await app.tokenFor('clinician');
    const patientId = (await app.services.patientService.create({ name: 'Badge Test', birthDate: '1950-01-01' }, 'system')).id;
    await app.services.patientService.assignClinician(patientId, nurse.practitionerId!, 'system');
    const device = (await app.api<{ id: string; secret: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    const rule = await app.api(admin, 'PUT', '/api/v1/alert-rules/hr-badge-test', {
      scope: 'patient',
      scopeId: patientId,
      definition: { kind: 'threshold', code: '8867-4', op: 'above', value: 140, clearAt: 130, severity: 'critical' },
    });
    expect(rule.status).toBe(200);

    await page.goto(app.httpUrl);
    await page.getByLabel(/email/i).fill(nurse.email);
    await page.getByLabel(/password/i).fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click({ timeout: 60_000 });
    const badge = page.locator('a.alert-badge');
    await badge.waitFor({ timeout: 60_000 });
    await expect.poll(() => badge.getAttribute('aria-label'), { timeout: 30_000 }).toBe('0 open alerts');
    await expect.poll(() => sockets.length, { timeout: 30_000 }).toBeGreaterThan(0);

    // Cut the socket and keep it down while the alert opens.
    blocked = true;
    for (const s of sockets.splice(0)) await s.close();
    expect((await app.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { hr: 170 })).status).toBe(202);
    // The test rule opens a critical alert (the clinic's default heart-rate rule may open another).
    const openCritical = async () =>
      (await app.api<Array<{ severity: string }>>(nurse.token, 'GET', '/api/v1/alerts?status=open')).body.filter((a) => a.severity === 'critical').length;
    await expect.poll(openCritical, { timeout: 30_000 }).toBeGreaterThan(0);
    await page.waitForTimeout(1_000);
    const n = await openCritical();
    expect(await badge.getAttribute('aria-label')).toBe('0 open alerts'); // nothing could reach the page

    blocked = false; // the page's next reconnect attempt gets through
    await expect.poll(() => badge.getAttribute('aria-label'), { timeout: 60_000 }).toBe(`${n} open critical alert${n > 1 ? 's' : ''}`);
  }, 180_000);

  it('shows a patient who began waiting for a video visit while the socket was down once it reconnects, without a reload', async () => {
    // Signed in as the nurse by the test above; Wanda is on her care team.
    const patientId = (await app.services.patientService.create({ name: 'Wanda Waiting', birthDate: '1944-05-06' }, 'system')).id;
    await app.services.patientService.assignClinician(patientId, nurse.practitionerId!, 'system');
    const patient = (await app.tokenFor('patient', { patientId })).token;
    const apt = (await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', { patientId, start: 'now' })).body.id;
    await expect.poll(() => sockets.length, { timeout: 30_000 }).toBeGreaterThan(0);
    const banner = page.getByRole('status').filter({ hasText: 'Wanda Waiting is waiting for their video visit' });

    blocked = true;
    for (const s of sockets.splice(0)) await s.close();
    await page.getByText('Reconnecting…').first().waitFor({ timeout: 20_000 });
    const wanda = new VisitClient(`${app.httpUrl.replace('http', 'ws')}/api/v1/visits/${apt}/signal?token=${patient}`);
    try {
      await wanda.next('hello');
      wanda.send({ type: 'join' });
      await wanda.next('waiting-room');
      await page.waitForTimeout(1_000);
      expect(await banner.count()).toBe(0); // the visit.waiting event could not reach the page

      blocked = false;
      await banner.waitFor({ timeout: 60_000 });
      expect(await banner.innerText()).toMatch(/Open the visit/);
    } finally {
      wanda.ws.close();
    }
  }, 180_000);
});
