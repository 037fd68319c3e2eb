/// <reference lib="dom" />
// (page.evaluate callbacks run in the browser: they need the DOM types the server tsconfig leaves out)
/**
 * The clinician's first minute, in a real browser: the demo clinic starts, the nurse signs in, sees the
 * panel of her patients, watches a value change live, and opens a patient page. Screenshots are kept in
 * artifacts/ for people to look at.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { skipNote } from '../support/services.ts';
import { ARTIFACTS, hasChromium, launchChromium } from '../support/browser.ts';
import { loadDemoClinic } from '../../src/demo/seed.ts';
import { expectAccessible } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (browser tests; apt-get install -y chromium)');

describe.skipIf(!hasChromium)('clinician dashboard in Chromium', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let dataDir: string;
  let nurse: { email: string; password: string };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-browser-'));
    server = await startServerProcess({ VIGIL_DATA_DIR: dataDir, VIGIL_DEMO: '1' });
    let demo = await loadDemoClinic(dataDir);
    for (let i = 0; i < 100 && !demo; i++) {
      await new Promise((r) => setTimeout(r, 200)); // the demo seed finishes just after the server answers
      demo = await loadDemoClinic(dataDir);
    }
    nurse = demo!.logins.find((l) => l.email === 'nurse@vigil.demo')!;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.kill('SIGTERM');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a wrong password with a clear message', async () => {
    await page.goto(server.url);
    await page.getByLabel(/email/i).fill(nurse.email);
    await page.getByLabel(/password/i).fill('wrong password!');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').count(), { timeout: 10_000 }).toBeGreaterThan(0);
  });

  it('signs the nurse in and shows her panel of patients', async () => {
    await page.getByLabel(/password/i).fill(nurse.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForSelector('text=/\\d+ patients/', { timeout: 20_000 });
    const summary = await page.locator('text=/\\d+ patients/').first().textContent();
    expect(Number(summary?.match(/(\d+) patients/)?.[1])).toBe(12);
  });

  it('updates a vital sign live, without a reload', async () => {
    // Wait for the simulated devices to deliver, then watch the panel's text change under us.
    await page.waitForFunction(() => /\/min/.test(document.body.innerText), undefined, { timeout: 30_000 });
    const before = await page.locator('main').innerText();
    await expect.poll(async () => (await page.locator('main').innerText()) !== before, { timeout: 30_000, interval: 500 }).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'panel.png'), fullPage: true });
  });

  it('opens a patient page with charts and the ECG strip', async () => {
    await page.locator('a[href*="#/patients/"]').first().click();
    await page.waitForSelector('canvas', { timeout: 20_000 });
    await page.waitForTimeout(2000);
    await page.screenshot({ path: path.join(ARTIFACTS, 'patient.png'), fullPage: true });
    expect(await page.locator('canvas').count()).toBeGreaterThan(0);
    await expectAccessible(page, 'patient page');
  });

  it('records a new confusion in the clinical settings, and NEWS2 scores it', async () => {
    const card = page.getByRole('region', { name: 'Clinical settings' });
    await card.getByLabel('Record now').selectOption({ label: 'New confusion' });
    await card.getByLabel(/Time zone/).selectOption('America/New_York');
    await card.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => card.getByRole('status').innerText(), { timeout: 10_000 }).toMatch(/Saved/);
    await expect.poll(() => card.innerText(), { timeout: 10_000 }).toMatch(/Last recorded: New confusion/);
    // The NEWS2 chart row for consciousness now reads confusion (3 points), not the assumed Alert.
    await expect.poll(() => page.locator('.derived-grid').innerText(), { timeout: 10_000 }).not.toMatch(/Alert \(no ACVPU reported\)/);
    await card.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'patient-settings.png'), fullPage: true });
    await expectAccessible(page, 'patient page, settings saved');
  });
});
