/**
 * Security screens in Chromium (issue 9): break the glass ((d)(6): a clinician outside the care team gives a
 * reason, sees the record under an emergency banner; an admin reviews it) and erasure (GDPR art. 17: admin,
 * with confirmation by typing the id). axe-core on each screen; screenshots in artifacts/security-*.png.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { ARTIFACTS, startBrowserClinic, type BrowserClinic } from '../support/browser.ts';
import { expectAccessible, hasChromium, VISIT_ARGS } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (security screens browser test)');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

describe.skipIf(!hasChromium)('break the glass and erasure screens in Chromium', () => {
  let c: BrowserClinic | undefined;
  let app: TestApp;
  let patientId: string;
  let doomedId: string;
  let doc: Page;
  let admin: Page;
  let adminToken: string;
  let pageErrors: string[];

  beforeAll(async () => {
    c = await startBrowserClinic({ chromiumArgs: VISIT_ARGS });
    ({ app, pageErrors } = c);
    const s = app.services;
    patientId = (await s.patientService.create({ name: 'Walter Outsider', birthDate: '1950-02-03' }, 'system')).id;
    doomedId = (await s.patientService.create({ name: 'Erin Erasable' }, 'system')).id;
    await c.addUser({ email: 'er@secure.test', role: 'clinician', displayName: 'Dr Ella Emergency' });
    await c.addUser({ email: 'root@secure.test', role: 'admin', displayName: 'Ada Admin' });
    adminToken = await c.tokenOf('root@secure.test');
    doc = await c.signIn('er@secure.test');
    admin = await c.signIn('root@secure.test');
  });
  afterAll(() => c?.stop());

  it('a clinician outside the care team must give a reason, then sees the record under an emergency banner', async () => {
    await doc.goto(`/#/patients/${patientId}`);
    await doc.getByRole('heading', { name: 'Emergency access' }).waitFor({ timeout: 30_000 });
    const open = doc.getByRole('button', { name: 'Open the record in an emergency' });
    expect(await open.isDisabled()).toBe(true); // no reason yet
    await expectAccessible(doc, 'break the glass');
    await doc.screenshot({ path: path.join(ARTIFACTS, 'security-1-break-glass.png'), fullPage: true });
    await doc.getByLabel(/Reason/).fill('Found unresponsive at home, care team unreachable');
    await open.click();
    await doc.getByText(/until .* you are not on this patient’s care team/).waitFor({ timeout: 20_000 });
    await doc.getByText('Walter Outsider').first().waitFor();
    await expectAccessible(doc, 'record under emergency access');
    await doc.screenshot({ path: path.join(ARTIFACTS, 'security-2-emergency-banner.png') });
  });

  it('an admin sees it in the review queue and marks it reviewed', async () => {
    await admin.goto('/#/admin');
    await admin.getByRole('heading', { name: 'Emergency access to review' }).waitFor({ timeout: 30_000 });
    await admin.getByText('Found unresponsive at home, care team unreachable').waitFor({ timeout: 20_000 });
    await expectAccessible(admin, 'admin security screens');
    await admin.getByRole('heading', { name: 'Emergency access to review' }).scrollIntoViewIfNeeded();
    await admin.screenshot({ path: path.join(ARTIFACTS, 'security-3-review-queue.png') });
    await admin.getByPlaceholder('Note (optional)').fill('Appropriate: ED admission');
    await admin.getByRole('button', { name: 'Mark reviewed' }).click();
    await admin.getByText('Nothing to review.').waitFor({ timeout: 20_000 });
    const rows = await app.services.db.query<{ review_note: string }>('SELECT review_note FROM emergency_access WHERE patient_id = $1', [patientId]);
    expect(rows.map((r) => r.review_note)).toEqual(['Appropriate: ED admission']);
  });

  it('an admin erases a patient only after typing the id again', async () => {
    const erase = admin.getByRole('button', { name: 'Erase this patient' });
    await admin.getByLabel('Patient id', { exact: true }).fill(doomedId);
    expect(await erase.isDisabled()).toBe(true);
    await admin.getByLabel('Type the patient id again to confirm').fill(doomedId + 'x');
    expect(await erase.isDisabled()).toBe(true);
    await admin.getByLabel('Type the patient id again to confirm').fill(doomedId);
    await admin.getByRole('heading', { name: /Erase a patient/ }).scrollIntoViewIfNeeded();
    await admin.screenshot({ path: path.join(ARTIFACTS, 'security-4-erase.png') });
    await erase.click();
    await admin.getByText(new RegExp(`Patient ${doomedId} erased: keys shredded`)).waitFor({ timeout: 20_000 });
    await expectAccessible(admin, 'erasure done');
    const gone = await fetch(`${app.httpUrl}/api/v1/patients/${doomedId}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(gone.status).toBe(404);
    const still = await fetch(`${app.httpUrl}/api/v1/patients/${patientId}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(still.status).toBe(200);
    expect(pageErrors).toEqual([]);
  });

  it('an admin puts a clinician on the care team and takes them off again (audited)', async () => {
    await admin.goto(`/#/patients/${patientId}`);
    await admin.getByRole('heading', { name: 'Care team' }).waitFor({ timeout: 30_000 });
    await admin.getByLabel('Add a clinician').selectOption({ label: 'Dr Ella Emergency (er@secure.test)' });
    await admin.getByRole('button', { name: 'Add', exact: true }).click();
    await admin.getByText('Dr Ella Emergency joined the care team.').waitFor({ timeout: 10_000 });
    await admin.getByRole('button', { name: 'Remove Dr Ella Emergency from the care team' }).waitFor();
    await expectAccessible(admin, 'patient page with the care team (admin)');
    await admin.getByRole('heading', { name: 'Care team' }).scrollIntoViewIfNeeded();
    await admin.screenshot({ path: path.join(ARTIFACTS, 'security-care-team.png') });
    const members = () => app.services.db.query('SELECT practitioner_id FROM care_team_members WHERE patient_id = $1', [patientId]);
    expect(await members()).toHaveLength(1);
    admin.once('dialog', (d) => void d.accept());
    await admin.getByRole('button', { name: 'Remove Dr Ella Emergency from the care team' }).click();
    await admin.getByText('Dr Ella Emergency left the care team.').waitFor({ timeout: 10_000 });
    expect(await members()).toHaveLength(0);
    await admin.getByText(/Nobody is on this patient's care team yet/).waitFor();
    const audit = await app.services.db.query<{ action: string }>(
      "SELECT action FROM audit_log WHERE patient_id = $1 AND action LIKE 'careteam.%' ORDER BY id",
      [patientId],
    );
    expect(audit.map((a) => a.action)).toEqual(['careteam.add', 'careteam.remove']);
  });
});
