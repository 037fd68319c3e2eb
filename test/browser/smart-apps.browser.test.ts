/**
 * Connected apps on the admin page in Chromium: an admin registers a confidential SMART app (the secret is
 * shown once), sees an app that holds live tokens, ends its tokens and removes an app, each after confirming in
 * place. axe-core on the screen; screenshots in artifacts/smart-apps-*.png.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { ARTIFACTS, startBrowserClinic, type BrowserClinic } from '../support/browser.ts';
import { expectAccessible, hasChromium } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (connected apps browser test)');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

describe.skipIf(!hasChromium)('connected SMART apps on the admin page', () => {
  let c: BrowserClinic | undefined;
  let app: TestApp;
  let admin: Page;
  let vendorId: string;

  beforeAll(async () => {
    c = await startBrowserClinic();
    app = c.app;
    await c.addUser({ email: 'it@apps.test', role: 'admin', displayName: 'Ira IT' });
    admin = await c.signIn('it@apps.test');
    // An app that already holds a token (as if a clinician had authorised it).
    const s = app.services;
    vendorId = (await s.smart.registerClient({ name: 'Old Vendor Charts', redirectUris: ['https://vendor.example/cb'] }, 'cli')).id;
    const user = (await s.db.query<{ id: string }>(`SELECT id FROM users WHERE email = 'it@apps.test'`))[0].id;
    await s.db.query(
      `INSERT INTO smart_grants (hash, kind, client_id, user_id, scopes, expires_at) VALUES ('h1', 'access', $1, $2, 'user/Observation.rs', now() + interval '1 hour')`,
      [vendorId, user],
    );
  });
  afterAll(() => c?.stop());

  it('registers a confidential app and shows its secret once', async () => {
    await admin.goto('/#/admin');
    await admin.getByRole('heading', { name: 'Connected apps (SMART on FHIR)' }).waitFor({ timeout: 30_000 });
    await admin.getByText('Old Vendor Charts').waitFor({ timeout: 20_000 });
    await admin.getByText('Register an app').click();
    await admin.getByLabel('Name').fill('Clinic Analytics');
    await admin.getByLabel(/Redirect URIs/).fill('https://analytics.example/cb');
    await admin.getByLabel(/Confidential/).check();
    await admin.getByRole('button', { name: 'Register', exact: true }).click();
    await admin.getByText(/Clinic Analytics registered: client_id app/).waitFor({ timeout: 20_000 });
    const secret = await admin.locator('.secret-once').innerText();
    expect(secret).toMatch(/^vcs_/);
    await admin.getByRole('cell', { name: /Clinic Analytics/ }).waitFor();
    await expectAccessible(admin, 'connected apps');
    await admin.getByRole('heading', { name: 'Connected apps (SMART on FHIR)' }).scrollIntoViewIfNeeded();
    await admin.screenshot({ path: path.join(ARTIFACTS, 'smart-apps-1-list.png'), fullPage: true });
    const [row] = await app.services.db.query<{ secret_hash: string }>(`SELECT secret_hash FROM smart_clients WHERE name = 'Clinic Analytics'`);
    expect(row.secret_hash).not.toContain(secret);
  });

  it('ends an app’s tokens, then removes it, each after confirming in place', async () => {
    const row = admin.getByRole('row', { name: /Old Vendor Charts/ });
    await row.getByRole('button', { name: 'End tokens' }).click();
    await row.getByRole('button', { name: 'End 1 token(s)' }).click();
    await admin.getByText('Old Vendor Charts: tokens ended; 1 live token(s) stopped.').waitFor({ timeout: 20_000 });
    const live = await app.services.db.query(`SELECT 1 FROM smart_grants WHERE client_id = $1 AND revoked_at IS NULL`, [vendorId]);
    expect(live).toEqual([]);
    await row.getByRole('button', { name: 'Remove' }).click();
    await expectAccessible(admin, 'remove confirmation');
    await admin.screenshot({ path: path.join(ARTIFACTS, 'smart-apps-2-confirm-remove.png') });
    await row.getByRole('button', { name: 'Cancel' }).click();
    expect(await app.services.db.query(`SELECT 1 FROM smart_clients WHERE id = $1`, [vendorId])).toHaveLength(1);
    await row.getByRole('button', { name: 'Remove' }).click();
    await row.getByRole('button', { name: 'Remove Old Vendor Charts' }).click();
    await admin.getByText('Old Vendor Charts: removed; 0 live token(s) stopped.').waitFor({ timeout: 20_000 });
    await expect.poll(async () => admin.getByRole('cell', { name: /Old Vendor Charts/ }).count()).toBe(0);
    expect(await app.services.db.query(`SELECT 1 FROM smart_clients WHERE id = $1`, [vendorId])).toEqual([]);
  });
});
