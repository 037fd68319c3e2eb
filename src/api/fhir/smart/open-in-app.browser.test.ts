/**
 * "Open in app" on the patient page (SMART EHR launch from the web app), in Chromium: a nurse opens a
 * registered app on a patient; a new tab goes to the app's launch URL with `iss` and a `launch` bound to this
 * nurse, app and patient (checked by asking the authorization endpoint with it); without a registered app
 * there is no button. Screenshot in artifacts/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemoClinic } from '../../../demo/seed.ts';
import { ARTIFACTS, hasChromium, launchChromium } from '../../../../test/support/browser.ts';
import { startServerProcess, type ServerProcess } from '../../../../test/support/server-process.ts';
import { skipNote } from '../../../../test/support/services.ts';

if (!hasChromium) skipNote('Chromium (Open in app)');

describe.skipIf(!hasChromium)('"Open in app" on the patient page', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let dataDir: string;
  let patientId: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-open-in-app-'));
    server = await startServerProcess({ VIGIL_DATA_DIR: dataDir, VIGIL_DEMO: '1' });
    let demo = await loadDemoClinic(dataDir);
    for (let i = 0; i < 100 && !demo; i++) {
      await new Promise((r) => setTimeout(r, 200)); // the demo seed finishes just after the server answers
      demo = await loadDemoClinic(dataDir);
    }
    const nurse = demo!.logins.find((l) => l.email === 'nurse@vigil.demo')!;
    patientId = demo!.patients[0].patientId;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(server.url);
    await page.getByLabel(/email/i).fill(nurse.email);
    await page.getByLabel(/password/i).fill(nurse.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForSelector('text=/\\d+ patients/', { timeout: 30_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.kill('SIGTERM');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const openPatient = async () => {
    await page.goto(`${server.url}/#/patients/${patientId}`);
    await page.reload();
    await page.waitForSelector('.patient-head h1', { timeout: 30_000 });
  };

  it('offers no button while no app with a launch URL is registered', async () => {
    await openPatient();
    await page.getByRole('button', { name: 'Call now' }).waitFor();
    expect(await page.getByRole('button', { name: /^Open in/ }).count()).toBe(0);
  });

  it('opens the registered app on this patient in a new tab, with iss and a launch for this nurse and patient', async () => {
    const launchUrl = `${server.url}/ehr-launch-target`;
    const res = await fetch(`${server.url}/api/v1/smart/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Chart Companion', redirectUris: [`${server.url}/cb`], launchUrl }),
    });
    expect(res.status).toBe(201);
    const client = (await res.json()) as { id: string };
    await openPatient();
    const button = page.getByRole('button', { name: 'Open in Chart Companion' });
    await button.waitFor({ timeout: 30_000 });
    await page.locator('.patient-head').screenshot({ path: path.join(ARTIFACTS, 'patient-open-in-app.png') });
    const [tab] = await Promise.all([page.context().waitForEvent('page'), button.click()]);
    await expect.poll(() => tab.url(), { timeout: 30_000 }).toMatch(/ehr-launch-target\?/);
    const opened = new URL(tab.url());
    expect(`${opened.origin}${opened.pathname}`).toBe(launchUrl);
    const iss = opened.searchParams.get('iss')!;
    expect(new URL(iss).pathname).toBe('/fhir/R4'); // the server's public base (localhost here)
    expect(new URL(iss).port).toBe(new URL(server.url).port);
    const launch = opened.searchParams.get('launch')!;
    expect(launch.length).toBeGreaterThan(20);
    expect(await tab.evaluate(() => window.opener)).toBeNull();
    // The launch is real: the authorization endpoint accepts it for this app (it shows the sign-in screen)…
    const q = (l: string) =>
      new URLSearchParams({
        response_type: 'code',
        client_id: client.id,
        redirect_uri: `${server.url}/cb`,
        scope: 'launch openid patient/Observation.rs',
        launch: l,
        state: 's',
        aud: iss,
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
      });
    const accepted = await fetch(`${server.url}/oauth/authorize?${q(launch)}`, { redirect: 'manual' });
    expect(accepted.status).toBe(200);
    // …and refuses one it did not make.
    const forged = await fetch(`${server.url}/oauth/authorize?${q('not-a-launch-' + 'y'.repeat(20))}`, { redirect: 'manual' });
    expect(new URL(forged.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    await tab.close();
  });
});
