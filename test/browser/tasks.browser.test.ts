/**
 * The clinician's task list in real Chromium (issue 8): tasks made from patients' messages, mine first, with
 * overdue ones marked; marked done by keyboard alone (the change announced, focus kept on the next task);
 * filtered by whose, status and patient; each links back to its message (scrolled to and focused) and its
 * patient. axe-core on each state. Screenshots in artifacts/tasks-*.png.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { bootApp, type TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { expectAccessible, hasChromium, launch, signedIn } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (task list browser test)');
const ARTIFACTS = path.resolve('artifacts');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const PASSWORD = 'correct horse battery';
const DAY = 86_400_000;

describe.skipIf(!hasChromium)('clinician task list in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let nurseToken: string;
  const ids = { alice: '', bob: '', overdue: '', later: '', other: '', aliceThread: '', aliceMessage: '' };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    app = await bootApp({ env: { VIGIL_REQUIRE_MFA: '0' } });
    const s = app.services;
    ids.alice = (await s.patientService.create({ name: 'Alice Ames' }, 'system')).id;
    ids.bob = (await s.patientService.create({ name: 'Bob Brown' }, 'system')).id;
    const nora = await s.auth.createUser({ email: 'nora@tasks.test', role: 'clinician', displayName: 'Nurse Nora', password: PASSWORD }, 'system');
    const ned = await s.auth.createUser({ email: 'ned@tasks.test', role: 'clinician', displayName: 'Nurse Ned', password: PASSWORD }, 'system');
    for (const p of [ids.alice, ids.bob]) await s.patientService.assignClinician(p, nora.practitionerId!, 'system');
    await s.patientService.assignClinician(ids.alice, ned.practitionerId!, 'system');
    nurseToken = (await s.auth.createToken('nora@tasks.test', 'test', 'system')).token;
    // Each patient writes; the nurse turns the messages into tasks through the API the messages screen uses.
    const write = async (patientId: string, text: string) => {
      const token = (await app.tokenFor('patient', { patientId })).token;
      const t = await app.api<{ id: string; message: { id: string } }>(token, 'POST', `/api/v1/patients/${patientId}/threads`, {
        subject: text.slice(0, 20),
        text,
      });
      expect(t.status).toBe(201);
      return { threadId: t.body.id, messageId: t.body.message.id };
    };
    const a = await write(ids.alice, 'My ankle is more swollen tonight');
    // Earlier messages in the thread, so the one the task came from is not simply the last.
    const aliceToken = (await app.tokenFor('patient', { patientId: ids.alice })).token;
    for (let i = 0; i < 12; i++) await app.api(aliceToken, 'POST', `/api/v1/threads/${a.threadId}/messages`, { text: `Later note ${i + 1}` });
    const b = await write(ids.bob, 'Can I take my tablets with food?');
    const task = async (messageId: string, body: Record<string, unknown>) => {
      const r = await app.api<{ id: string }>(nurseToken, 'POST', `/api/v1/messages/${messageId}/task`, body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.id;
    };
    ids.aliceThread = a.threadId;
    ids.aliceMessage = a.messageId;
    ids.overdue = await task(a.messageId, { note: 'Call Alice about her ankle', due: new Date(Date.now() - DAY).toISOString() });
    ids.later = await task(b.messageId, { note: 'Answer Bob about tablets', due: new Date(Date.now() + 3 * DAY).toISOString() });
    ids.other = await task(a.messageId, { note: 'Check Alice’s diuretic dose', assigneePractitionerId: ned.practitionerId });
    browser = await launch();
    page = (await signedIn(browser, app.httpUrl, 'nora@tasks.test', PASSWORD)).page;
    page.on('pageerror', (e) => pageErrors.push(`${e.message}\n${e.stack}`));
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const rows = () => page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-task-id')));

  it('lists my open tasks, overdue first and marked, from the top bar', async () => {
    await page.goto('/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks' }).click({ timeout: 20_000 });
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await page.getByRole('table').waitFor({ timeout: 15_000 });
    expect(await rows()).toEqual([ids.overdue, ids.later]); // Ned's task is not mine
    const first = page.locator(`tr[data-task-id="${ids.overdue}"]`);
    await expect.poll(() => first.getByText('Overdue').count()).toBe(1);
    expect(await page.locator('.panel-summary').innerText()).toMatch(/2\s*open\s*·\s*1\s*overdue\s*·\s*0\s*due today/);
    expect(await first.getByRole('link', { name: 'Alice Ames' }).getAttribute('href')).toBe(`#/patients/${ids.alice}`);
    await expectAccessible(page, 'task list');
    await page.screenshot({ path: path.join(ARTIFACTS, 'tasks-1-mine.png'), fullPage: true });
  });

  it('marks a task done by keyboard alone: announced, saved, and focus moves to the next task', async () => {
    const done = page.getByRole('button', { name: 'Mark done: Call Alice about her ankle (Alice Ames)' });
    // Reach it with Tab from the filters, as a keyboard user would.
    await page.getByRole('button', { name: 'Refresh' }).focus();
    for (let i = 0; i < 12 && !(await done.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
    expect(await done.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Marked done' }).innerText())
      .toBe('Marked done: Call Alice about her ankle (Alice Ames)');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Mark done: Answer Bob about tablets (Bob Brown)');
    const row = page.locator(`tr[data-task-id="${ids.overdue}"]`);
    expect(await row.locator('.task-status').innerText()).toBe('Done');
    expect(await row.getByText('Overdue').count()).toBe(0); // a finished task is not overdue
    const saved = await app.api<Array<{ id: string; status: string }>>(nurseToken, 'GET', '/api/v1/tasks?status=completed');
    expect(saved.body.map((t) => t.id)).toEqual([ids.overdue]);
    await expectAccessible(page, 'task list after marking one done');
  });

  it('filters by whose, patient and status', async () => {
    await page.getByLabel('All my patients').check();
    await expect.poll(rows).toEqual([ids.later, ids.other]); // open only: the done one has gone, Ned's is there
    await page.getByLabel('Patient', { exact: true }).selectOption({ label: 'Alice Ames' });
    await expect.poll(rows).toEqual([ids.other]);
    expect(await page.locator(`tr[data-task-id="${ids.other}"]`).innerText()).toContain('Nurse Ned');
    await page.getByLabel('Patient', { exact: true }).selectOption({ label: 'All patients' });
    await page.getByLabel('Status', { exact: true }).selectOption({ label: 'Done' });
    await expect.poll(rows).toEqual([ids.overdue]);
    await page.getByLabel('Status', { exact: true }).selectOption({ label: 'All' });
    await expect.poll(rows).toEqual([ids.later, ids.other, ids.overdue]); // open first, then finished
    await page.getByLabel('Assigned to me').check();
    await page.getByLabel('Status', { exact: true }).selectOption({ label: 'Cancelled' });
    await page.getByText('No cancelled tasks assigned to you.').waitFor();
    await expectAccessible(page, 'empty task list');
    await page.getByLabel('Status', { exact: true }).selectOption({ label: 'Open' });
    await page.getByLabel('All my patients').check();
    await expect.poll(rows).toEqual([ids.later, ids.other]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'tasks-2-all-patients.png'), fullPage: true });
  });

  it('links back to the message the task came from: scrolled to, marked and focused in its thread', async () => {
    await page
      .locator(`tr[data-task-id="${ids.other}"]`)
      .getByRole('link', { name: /Open the message/ })
      .click();
    await page.waitForURL(`**/#/patients/${ids.alice}/messages/${ids.aliceThread}/${ids.aliceMessage}`);
    const target = page.locator(`li[data-message-id="${ids.aliceMessage}"]`);
    await expect.poll(() => target.getAttribute('aria-current')).toBe('true');
    await expect.poll(() => target.evaluate((el) => el === document.activeElement)).toBe(true);
    // In view inside the scrolling conversation, though twelve later messages follow it.
    expect(
      await target.evaluate((el) => {
        const box = el.getBoundingClientRect();
        const list = el.closest('ol')!.getBoundingClientRect();
        return box.top >= list.top - 1 && box.bottom <= list.bottom + 1;
      }),
    ).toBe(true);
    await expectAccessible(page, 'message opened from a task');
    await page.screenshot({ path: path.join(ARTIFACTS, 'tasks-3-message.png'), fullPage: true });
  });

  it('is not offered to patients, and raised no error in the page', async () => {
    const alice = await app.services.auth.createUser(
      { email: 'alice@tasks.test', role: 'patient', displayName: 'Alice Ames', password: PASSWORD, patientId: ids.alice },
      'system',
    );
    expect(alice.id).toBeTruthy();
    const { context, page: pat } = await signedIn(browser, app.httpUrl, 'alice@tasks.test', PASSWORD);
    await pat.goto('/#/tasks'); // a patient typing the address gets their portal, not the staff list
    await pat.getByRole('heading', { name: 'Your appointments' }).waitFor({ timeout: 20_000 });
    expect(await pat.getByRole('heading', { name: 'Tasks' }).count()).toBe(0);
    expect((await app.api((await app.tokenFor('patient', { patientId: ids.alice })).token, 'GET', '/api/v1/tasks')).status).toBe(403);
    await context.close();
    expect(pageErrors).toEqual([]);
  });
});
