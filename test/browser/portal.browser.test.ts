/**
 * Messages and the patient portal in real Chromium (issue 8): the patient (on a phone-sized screen) writes
 * with a photo, the nurse sees its thumbnail arrive live, the stored photo has no EXIF/GPS, a fake JPEG is
 * refused with a clear message, read receipts show, and "Start a video visit" from the thread puts a Join
 * button in the patient's portal. axe-core on every screen. Screenshots in artifacts/portal-*.png.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { skipNote } from '../support/services.ts';
import { aliceAndNurse, ARTIFACTS, PHONE, startBrowserClinic, type BrowserClinic } from '../support/browser.ts';
import { jpegWithGps } from '../../src/messaging/test-fixtures.ts';
import { expectAccessible, hasChromium, VISIT_ARGS } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (portal and messages browser tests)');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

describe.skipIf(!hasChromium)('patient portal and messages in Chromium', () => {
  let c: BrowserClinic | undefined;
  let nurseToken: string;
  let patientId: string;
  let pat: Page;
  let doc: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    c = await startBrowserClinic({ chromiumArgs: VISIT_ARGS });
    pageErrors = c.pageErrors;
    ({ nurseToken, patientId } = await aliceAndNurse(c, 'portal.test'));
    pat = await c.signIn('alice@portal.test', PHONE);
    doc = await c.signIn('nurse@portal.test');
  });
  afterAll(() => c?.stop());

  it('shows the patient a plain portal home', async () => {
    await pat.goto('/');
    await pat.getByRole('heading', { name: 'Your appointments' }).waitFor({ timeout: 20_000 });
    await pat.getByText('You have no appointments coming up.').waitFor();
    await expectAccessible(pat, 'portal home');
    await pat.screenshot({ path: path.join(ARTIFACTS, 'portal-1-home.png'), fullPage: true });
  });

  it('sends a photo from the portal; the nurse sees its thumbnail arrive live', async () => {
    await doc.goto('/#/messages');
    await doc.getByText('No messages yet.').waitFor({ timeout: 20_000 });
    await pat.goto('/#/messages');
    await pat.getByRole('button', { name: 'Write a new message' }).click();
    await pat.getByLabel('What is it about?').fill('My ankle');
    await pat.getByLabel('Your message').fill('My ankle is swollen since this morning');
    await pat.locator('[data-testid="attach-input"]').setInputFiles({ name: 'ankle.jpg', mimeType: 'image/jpeg', buffer: await jpegWithGps() });
    await pat.getByText(/ankle\.jpg \(\d+ kB\)/).waitFor();
    await expectAccessible(pat, 'new message form');
    await pat.screenshot({ path: path.join(ARTIFACTS, 'portal-2-compose.png'), fullPage: true });
    await pat.getByRole('button', { name: 'Send', exact: true }).click();
    await pat.getByText('My ankle is swollen since this morning').waitFor({ timeout: 15_000 });
    // live on the nurse's inbox, without a reload
    await doc.getByRole('link', { name: /My ankle/ }).click({ timeout: 15_000 });
    const thumb = doc.getByRole('img', { name: 'Photo: ankle.jpg' });
    await thumb.waitFor({ timeout: 15_000 });
    await expect.poll(() => thumb.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(320);
    await doc.screenshot({ path: path.join(ARTIFACTS, 'portal-3-clinician-thread.png'), fullPage: true });
    await expectAccessible(doc, 'clinician thread');
    // what is stored and served has no EXIF/GPS
    const src = await thumb.evaluate((img) => (img.closest('a') as HTMLAnchorElement).href);
    const full = Buffer.from(await (await fetch(src, { headers: { authorization: `Bearer ${nurseToken}` } })).arrayBuffer());
    expect((await sharp(full).metadata()).exif).toBeUndefined();
  });

  it('refuses a fake JPEG with a clear message in the page', async () => {
    await pat
      .locator('[data-testid="attach-input"]')
      .setInputFiles({ name: 'wound.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a photo at all') });
    await pat.getByLabel('Your message').fill('here is the wound');
    await pat.getByRole('button', { name: 'Send', exact: true }).click();
    await pat
      .getByRole('alert')
      .getByText(/"wound\.jpg" claims to be image\/jpeg but its content is not a recognised file type/)
      .waitFor({ timeout: 10_000 });
    await pat.screenshot({ path: path.join(ARTIFACTS, 'portal-4-refused.png'), fullPage: true });
    await pat.getByRole('button', { name: 'Remove wound.jpg' }).click();
  });

  it('shows the reply live and a read receipt; "Start a video visit" gives the patient a Join button', async () => {
    await doc.getByRole('button', { name: 'We will call you today.' }).click();
    await doc.getByRole('button', { name: 'Send', exact: true }).click();
    await pat.getByText('We will call you today.').waitFor({ timeout: 15_000 });
    await doc.getByText('Read by the patient').waitFor({ timeout: 15_000 });
    await doc.getByRole('button', { name: 'Start a video visit' }).click();
    await doc.getByRole('heading', { name: 'Video visit with Alice Ames' }).waitFor({ timeout: 15_000 });
    await pat.getByText(/is calling you for a video visit now/).waitFor({ timeout: 15_000 });
    await pat.goto('/#/');
    const join = pat.getByRole('link', { name: 'Join' });
    await join.waitFor({ timeout: 15_000 });
    await expectAccessible(pat, 'portal with an appointment');
    await pat.screenshot({ path: path.join(ARTIFACTS, 'portal-5-join.png'), fullPage: true });
    await join.click();
    await pat.getByRole('button', { name: 'Join', exact: true }).waitFor({ timeout: 15_000 });
  });

  it('shows the patient their readings with this week’s range in plain words, and their devices, in large type', async () => {
    const app = c!.app;
    const oxi = await app.services.deviceService.provision({ patientId, type: 'pulse-oximeter', name: 'Finger clip' } as never, 'system');
    const DAY = 86_400_000;
    const week = [
      [6, 62, 95],
      [5, 70, 96],
      [3, 88, 94],
      [1, 75, 97],
      [0, 71, 96],
    ] as const;
    for (const [daysAgo, hr, spo2] of week) {
      const r = await app.api(oxi.secret, 'POST', `/api/v1/devices/${oxi.id}/telemetry`, { ts: Date.now() - daysAgo * DAY - 60_000, hr, spo2 });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
    }
    await pat.goto('/');
    const hr = pat.locator('li.self-tile').filter({ hasText: 'Heart rate' });
    await hr.getByText('This week: between 62 and 88').waitFor({ timeout: 20_000 });
    expect(await hr.locator('.self-value').innerText()).toMatch(/^71/);
    await pat.locator('li.self-tile').filter({ hasText: 'Oxygen level' }).getByText('This week: between 94 and 97').waitFor();
    await pat.getByRole('heading', { name: 'Your devices' }).waitFor();
    expect(await pat.locator('.self-devices').innerText()).toMatch(/oximeter|Finger clip/i);
    // Large type for an 80-year-old: body text at least 17 px, the numbers far larger.
    expect(await hr.locator('.self-trend').evaluate((e) => parseFloat(getComputedStyle(e).fontSize))).toBeGreaterThanOrEqual(17);
    expect(await hr.locator('.self-value').evaluate((e) => parseFloat(getComputedStyle(e).fontSize))).toBeGreaterThanOrEqual(32);
    await expectAccessible(pat, 'portal home with readings');
    await pat.screenshot({ path: path.join(ARTIFACTS, 'portal-6-readings.png'), fullPage: true });
  });

  it('raised no error in either page', () => {
    expect(pageErrors).toEqual([]);
  });
});
