/**
 * The patient's privacy section in Chromium (issue 9): download the record (printable summary + FHIR file),
 * give a family member access and take it back (the caregiver's next request is a 404), see who looked.
 * axe-core on the screen; screenshots in artifacts/privacy-*.png.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { bootApp, type TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { expectAccessible, hasChromium, launch, signedIn } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (privacy browser test)');
const ARTIFACTS = path.resolve('artifacts');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });
const PASSWORD = 'correct horse battery';

describe.skipIf(!hasChromium)("the patient's privacy choices in Chromium", () => {
  let app: TestApp;
  let browser: Browser;
  let patientId: string;
  let page: Page;
  let carerToken: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    app = await bootApp({ env: { VIGIL_REQUIRE_MFA: '0' } });
    const s = app.services;
    patientId = (await s.patientService.create({ name: 'Grace Hopper', birthDate: '1936-12-09' }, 'system')).id;
    await s.auth.createUser({ email: 'grace@privacy.test', role: 'patient', displayName: 'Grace Hopper', password: PASSWORD, patientId }, 'system');
    await s.auth.createUser({ email: 'son@family.test', role: 'caregiver', displayName: 'Sam Hopper', password: PASSWORD }, 'system');
    carerToken = (await s.auth.createToken('son@family.test', 'test', 'system')).token;
    browser = await launch();
    page = (await signedIn(browser, app.httpUrl, 'grace@privacy.test', PASSWORD, { width: 412, height: 915 })).page;
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => void d.accept());
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('offers the record as a printable summary and a FHIR file, both downloadable with the session', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Your record and your privacy' }).waitFor({ timeout: 30_000 });
    const summary = page.getByRole('link', { name: 'Open a printable summary' });
    const file = page.getByRole('link', { name: /Download the full record/ });
    const html = await page.context().request.get(app.httpUrl + (await summary.getAttribute('href'))!);
    expect(html.status()).toBe(200);
    expect(await html.text()).toContain('Health record of Grace Hopper');
    const json = await page.context().request.get(app.httpUrl + (await file.getAttribute('href'))!);
    expect(json.status()).toBe(200);
    expect(((await json.json()) as { resourceType: string }).resourceType).toBe('Bundle');
    await expectAccessible(page, 'portal privacy section');
    await page.getByRole('heading', { name: 'Your record and your privacy' }).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'privacy-1-section.png'), fullPage: true });
  });

  it('gives a family member access, then takes it back at once', async () => {
    await page.getByLabel(/Let a family member or carer see/).fill('son@family.test');
    await page.getByRole('button', { name: 'Give access' }).click();
    await page.getByText('Sam Hopper can now see your readings and messages.').waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Stop sharing' }).waitFor();
    const seen = await fetch(`${app.httpUrl}/api/v1/patients/${patientId}`, { headers: { authorization: `Bearer ${carerToken}` } });
    expect(seen.status).toBe(200);
    await expectAccessible(page, 'privacy section with a caregiver');
    await page.screenshot({ path: path.join(ARTIFACTS, 'privacy-2-caregiver.png'), fullPage: true });

    await page.getByRole('button', { name: 'Stop sharing' }).click();
    await page.getByText('Sam Hopper can no longer see your record.').waitFor({ timeout: 15_000 });
    const after = await fetch(`${app.httpUrl}/api/v1/patients/${patientId}`, { headers: { authorization: `Bearer ${carerToken}` } });
    expect(after.status).toBe(404);
    // An unknown email is explained, not a crash.
    await page.getByLabel(/Let a family member or carer see/).fill('stranger@nowhere.test');
    await page.getByRole('button', { name: 'Give access' }).click();
    await page.getByRole('alert').filter({ hasText: /caregiver account/ }).waitFor({ timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  });
});
