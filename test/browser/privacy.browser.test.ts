/**
 * The patient's privacy section in Chromium (issue 9): download the record (printable summary + FHIR file),
 * give a family member access and take it back (the caregiver's next request is a 404), see who looked.
 * axe-core on the screen; screenshots in artifacts/privacy-*.png.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { ARTIFACTS, PHONE, startBrowserClinic, type BrowserClinic } from '../support/browser.ts';
import { expectAccessible, hasChromium, VISIT_ARGS } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (privacy browser test)');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

describe.skipIf(!hasChromium)("the patient's privacy choices in Chromium", () => {
  let c: BrowserClinic | undefined;
  let app: TestApp;
  let patientId: string;
  let page: Page;
  let carerToken: string;
  let pageErrors: string[];

  beforeAll(async () => {
    c = await startBrowserClinic({ chromiumArgs: VISIT_ARGS });
    ({ app, pageErrors } = c);
    patientId = (await app.services.patientService.create({ name: 'Grace Hopper', birthDate: '1936-12-09' }, 'system')).id;
    await c.addUser({ email: 'grace@privacy.test', role: 'patient', displayName: 'Grace Hopper', patientId });
    await c.addUser({ email: 'son@family.test', role: 'caregiver', displayName: 'Sam Hopper' });
    carerToken = await c.tokenOf('son@family.test');
    page = await c.signIn('grace@privacy.test', PHONE);
    page.on('dialog', (d) => void d.accept());
  });
  afterAll(() => c?.stop());

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
    await page
      .getByRole('alert')
      .filter({ hasText: /caregiver account/ })
      .waitFor({ timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  });
});
