/**
 * A patient invites a family member from the portal; the family member opens the emailed link (a real SMTP
 * mailbox) in another browser, creates a carer account and accepts; they then read that patient's record;
 * the patient sees them listed and can stop sharing. Screenshots in artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { bootApp, type TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { startSmtp } from '../alerts.support.ts';
import { expectEventually } from '../support/clinic.ts';
import { ARTIFACTS, hasChromium, hasWebBuild, launchChromium } from '../support/browser.ts';
import { expectAccessible } from './tele-support.ts';

const ready = hasChromium && hasWebBuild;
if (!ready) skipNote('Chromium and a built web app (npm run build:web) for the caregiver invitation browser test');

describe.skipIf(!ready)('caregiver invitation in Chromium', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let browser: Browser;
  let patientId: string;
  let patientEmail: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    smtp = await startSmtp();
    app = await bootApp({ env: { VIGIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` } });
    const admin = await app.tokenFor('admin');
    patientId = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Ida Invite' })).body.id;
    patientEmail = (await app.tokenFor('patient', { patientId })).email;
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await smtp?.close();
  });

  it('invites by email; the family member creates an account from the link and sees the record', async () => {
    const patient = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await patient.goto(app.httpUrl);
    await patient.getByLabel(/email/i).fill(patientEmail);
    await patient.getByLabel(/password/i).fill('correct horse battery');
    await patient.getByRole('button', { name: /^sign in$/i }).click();
    await patient.getByLabel(/Let a family member or carer see/).fill('grandson@family.example');
    await patient.getByRole('button', { name: 'Give access' }).click();
    await patient.getByText(/We emailed an invitation to grandson@family.example/).waitFor({ timeout: 20_000 });
    await patient.getByRole('button', { name: 'Withdraw invitation' }).waitFor();
    await expectAccessible(patient, 'portal with a pending invitation');
    await patient.screenshot({ path: path.join(ARTIFACTS, 'caregiver-invite-sent.png'), fullPage: true });

    const link = await expectEventually(() => {
      const m = smtp.mails.find((x) => x.to.includes('grandson@family.example'));
      expect(m).toBeDefined();
      return /(http:\/\/\S+\/#\/invite\/[A-Za-z0-9_-]+)/.exec(m!.text)![1];
    }, 20_000);
    const family = await (await browser.newContext({ viewport: { width: 1000, height: 800 } })).newPage();
    await family.goto(link);
    await family.getByRole('heading', { name: /you are invited/i }).waitFor({ timeout: 20_000 });
    await family.getByLabel(/your name/i).fill('Gus Grandson');
    await family.getByLabel(/choose a password/i).fill('harbour violet kettle nine');
    await family.getByLabel(/password again/i).fill('harbour violet kettle nine');
    await family.screenshot({ path: path.join(ARTIFACTS, 'caregiver-invite-accept.png') });
    await expectAccessible(family, 'caregiver invitation page');
    await family.getByRole('button', { name: /create my account and accept/i }).click();
    await family.getByRole('heading', { name: /invitation accepted/i }).waitFor({ timeout: 20_000 });
    expect(family.url()).not.toContain('/invite/');

    await family.getByRole('link', { name: /sign in/i }).click();
    await family.getByLabel(/email/i).fill('grandson@family.example');
    await family.getByLabel(/password/i).fill('harbour violet kettle nine');
    await family.getByRole('button', { name: /^sign in$/i }).click();
    await expect.poll(() => family.evaluate((id) => fetch(`/api/v1/patients/${id}`).then((r) => r.status), patientId), { timeout: 20_000 }).toBe(200);
    await family.waitForTimeout(1500);
    await family.screenshot({ path: path.join(ARTIFACTS, 'caregiver-home.png'), fullPage: true });

    await patient.reload();
    await patient.locator('.privacy-list strong', { hasText: 'Gus Grandson' }).waitFor({ timeout: 20_000 });
    await patient.screenshot({ path: path.join(ARTIFACTS, 'caregiver-invite-accepted.png'), fullPage: true });
    patient.once('dialog', (d) => void d.accept());
    await patient.getByRole('button', { name: 'Stop sharing' }).click();
    await expect.poll(() => family.evaluate((id) => fetch(`/api/v1/patients/${id}`).then((r) => r.status), patientId), { timeout: 20_000 }).toBe(404);
  });
});
