/**
 * A forgotten password in a real Chromium: "Forgot your password?" on the sign-in page, the link from the
 * emailed message (a real SMTP mailbox), a new password, then signing in with it. Screenshots in artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { bootApp, type TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { startSmtp } from '../alerts.support.ts';
import { expectEventually } from '../support/clinic.ts';
import { ARTIFACTS, hasChromium, hasWebBuild, launchChromium } from '../support/browser.ts';
import { expectAccessible } from './tele-support.ts';

const ready = hasChromium && hasWebBuild;
if (!ready) skipNote('Chromium and a built web app (npm run build:web) for the password reset browser test');

describe.skipIf(!ready)('password reset in Chromium', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let browser: Browser;
  let page: Page;
  let email: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    smtp = await startSmtp();
    app = await bootApp({ env: { VIGIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` } });
    const admin = await app.tokenFor('admin');
    const patientId = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Pia Portal' })).body.id;
    email = (await app.tokenFor('patient', { patientId })).email;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await smtp?.close();
  });

  it('asks for a link, follows it from the email, sets a new password and signs in with it', async () => {
    await page.goto(app.httpUrl);
    await page.getByRole('link', { name: /forgot your password/i }).click();
    await page.getByRole('heading', { name: /forgot your password/i }).waitFor({ timeout: 20_000 });
    await page.getByLabel(/email/i).fill(email);
    await page.getByRole('button', { name: /send the link/i }).click();
    await page.getByText(/a link to choose a new password is on its way/i).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'password-forgot.png') });
    await expectAccessible(page, 'forgotten password page');
    const link = await expectEventually(() => {
      const m = smtp.mails.find((x) => x.to.includes(email));
      expect(m).toBeDefined();
      return /(http:\/\/\S+\/#\/reset-password\/[A-Za-z0-9_-]+)/.exec(m!.text)![1];
    }, 20_000);
    expect(link.startsWith(app.httpUrl)).toBe(true);
    await page.goto(link);
    await page.getByRole('heading', { name: /choose a new password/i }).waitFor({ timeout: 20_000 });
    await expectAccessible(page, 'reset password page');
    await page.getByLabel(/^new password$/i).fill('password12345');
    await page.getByLabel(/new password again/i).fill('password12345');
    await page.getByRole('button', { name: /set the new password/i }).click();
    await expect.poll(() => page.getByRole('alert').count(), { timeout: 10_000 }).toBeGreaterThan(0); // a common password is refused
    await page.getByLabel(/^new password$/i).fill('violet harbour lamp seven');
    await page.getByLabel(/new password again/i).fill('violet harbour lamp seven');
    await page.getByRole('button', { name: /set the new password/i }).click();
    await page.getByRole('heading', { name: /password changed/i }).waitFor({ timeout: 10_000 });
    await page.getByText(/your password is changed/i).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'password-reset-done.png') });
    expect(page.url()).not.toContain('reset-password'); // the spent link is out of the history
    await page.getByRole('link', { name: /^sign in$/i }).click();
    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/password/i).fill('violet harbour lamp seven');
    await page.getByRole('button', { name: /^sign in$/i }).click();
    await page.getByRole('heading', { name: 'Your appointments' }).waitFor({ timeout: 20_000 });
    expect(await page.evaluate(() => fetch('/api/v1/me').then((r) => r.json() as Promise<{ email: string }>))).toMatchObject({ email });
  });
});
