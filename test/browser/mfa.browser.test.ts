/**
 * Two-step sign-in in a real browser (ONC §170.315(d)(13)): a clinician signs in with the password, must set
 * up an authenticator app (QR code + key), confirms with a code, keeps the recovery codes, reaches the panel;
 * signs in again with a recovery code. Screenshots in artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { generate } from 'otplib';
import { bootApp, type TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { ARTIFACTS, hasChromium, hasWebBuild, launchChromium } from '../support/browser.ts';
import { expectAccessible } from './tele-support.ts';

const ready = hasChromium && hasWebBuild;
if (!ready) skipNote('Chromium and a built web app (npm run build:web) for the two-step sign-in browser test');

describe.skipIf(!ready)('two-step sign-in in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let email: string;
  let recovery: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    app = await bootApp(); // VIGIL_REQUIRE_MFA defaults to 1
    email = (await app.tokenFor('clinician')).email;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const signIn = async () => {
    await page.goto(app.httpUrl);
    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/password/i).fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };

  it('requires setting up an authenticator app, then lets the clinician in', async () => {
    await signIn();
    await page.getByRole('heading', { name: /set up two-step sign-in/i }).waitFor({ timeout: 20_000 });
    await page.getByAltText(/QR code/i).waitFor();
    const key = (await page.locator('.mfa-secret').innerText()).replace(/\s/g, '');
    await page.screenshot({ path: path.join(ARTIFACTS, 'mfa-enrol.png') });
    await page.getByLabel(/code from the app/i).fill('000000');
    await page.getByRole('button', { name: /turn on/i }).click();
    await expect.poll(() => page.getByRole('alert').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    // Focus is back on the code, selected, and the error is read with it (found by review: focus fell to the page).
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-describedby'))).toBe('enrol-error');
    await page.getByLabel(/code from the app/i).fill(await generate({ secret: key }));
    await page.getByRole('button', { name: /turn on/i }).click();
    await page.getByRole('heading', { name: /recovery codes/i }).waitFor({ timeout: 10_000 });
    recovery = (await page.locator('.recovery-codes code').allInnerTexts()).map((s) => s.trim());
    expect(recovery).toHaveLength(10);
    await page.screenshot({ path: path.join(ARTIFACTS, 'mfa-recovery-codes.png') });
    await page.getByRole('button', { name: /saved them/i }).click();
    await page.waitForSelector('text=/\\d+ patients?/', { timeout: 20_000 });
  });

  it('asks for a code at the next sign-in; a recovery code works', async () => {
    await page.context().clearCookies();
    // A wrong password first: focus returns to the password, selected, so it can be typed again at once.
    await page.goto(app.httpUrl);
    await page.getByLabel(/email/i).fill(email);
    await page.getByLabel(/password/i).fill('not my password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type), { timeout: 10_000 }).toBe('password');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-describedby'))).toBe('login-error');
    await page.keyboard.type('correct horse battery'); // replaces the selected wrong password
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /two-step sign-in/i }).waitFor({ timeout: 20_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'mfa-code.png') });
    await page.getByLabel(/^code$/i).fill('123456');
    await page.getByRole('button', { name: /verify/i }).click();
    await expect.poll(() => page.getByRole('alert').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-describedby'))).toBe('mfa-error');
    await page.getByLabel(/^code$/i).fill(recovery[0]);
    await page.getByRole('button', { name: /verify/i }).click();
    await page.waitForSelector('text=/\\d+ patients?/', { timeout: 20_000 });
  });

  it('moves to a new phone from the account page, with a code of the current app or a recovery code', async () => {
    await page.goto(app.httpUrl + '/#/account');
    await page.getByRole('heading', { name: 'Authenticator app' }).waitFor({ timeout: 20_000 });
    await page.getByText(/9 recovery codes left/).waitFor();
    await page.getByRole('button', { name: 'Move to a new phone' }).click();
    await page.getByAltText(/QR code for your new authenticator app/i).waitFor();
    const key = (await page.locator('.mfa-secret').innerText()).replace(/\s/g, '');
    await page.getByLabel('Code from the new app').fill(await generate({ secret: key }));
    await page.getByLabel(/code from your current app, or a recovery code/i).fill('00000-00000');
    await page.getByRole('button', { name: 'Use the new app' }).click();
    await expect.poll(() => page.getByRole('alert').innerText(), { timeout: 10_000 }).toMatch(/^Current code: that is not/);
    await expectAccessible(page, 'account page, replacing the authenticator');
    await page.screenshot({ path: path.join(ARTIFACTS, 'mfa-replace.png'), fullPage: true });
    await page.getByLabel(/code from your current app, or a recovery code/i).fill(recovery[1]);
    await page.getByRole('button', { name: 'Use the new app' }).click();
    await page.getByRole('heading', { name: /keep your recovery codes/i }).waitFor({ timeout: 10_000 });
    expect(await page.locator('.recovery-codes code').count()).toBe(10);
    // Focus moves to the new codes, so a screen reader reads them out.
    expect(await page.evaluate(() => document.activeElement?.classList.contains('recovery-box'))).toBe(true);
    await page.getByText(/Set up on/).waitFor();
    await page.getByText(/10 recovery codes left/).waitFor();
  });
});
