/**
 * Appointments in real Chromium (issue 8): a nurse books a phone visit on the patient page, moves it, and
 * the patient sees the new time in the portal; the patient books one of the clinician's free times from the
 * portal and cancels it; the nurse cancels the other. Each change checked in the API, axe-core on each
 * screen, screenshots in artifacts/appointments-*.png.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { aliceAndNurse, ARTIFACTS, PHONE, startBrowserClinic, type BrowserClinic } from '../support/browser.ts';
import { expectAccessible, hasChromium, VISIT_ARGS } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (appointments browser test)');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

interface Apt {
  id: string;
  status: string;
  start: number;
  mode: string;
}

describe.skipIf(!hasChromium)('appointments: booked, moved and cancelled by the nurse and by the patient', () => {
  let c: BrowserClinic | undefined;
  let app: TestApp;
  let patientId: string;
  let nurseToken: string;
  let doc: Page;
  let pat: Page;
  let pageErrors: string[];
  const appointments = async () => (await app.api<Apt[]>(nurseToken, 'GET', `/api/v1/appointments?patient=${patientId}`)).body;
  /** A local date-time a few days ahead, as a datetime-local input takes it, and the instant the browser reads from it. */
  const ahead = async (days: number, hh: number, mm: number) => {
    const value = await doc.evaluate(
      ([d, h, m]) => {
        const t = new Date();
        t.setDate(t.getDate() + d);
        const pad = (n: number) => String(n).padStart(2, '0');
        return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(h)}:${pad(m)}`;
      },
      [days, hh, mm],
    );
    return { value, ms: await doc.evaluate((v) => new Date(v).getTime(), value) };
  };

  beforeAll(async () => {
    c = await startBrowserClinic({ chromiumArgs: VISIT_ARGS });
    ({ app, pageErrors } = c);
    ({ patientId, nurseToken } = await aliceAndNurse(c, 'appts.test'));
    doc = await c.signIn('nurse@appts.test');
    pat = await c.signIn('alice@appts.test', PHONE);
  });
  afterAll(() => c?.stop());

  it('the nurse books a phone visit on the patient page and moves it; the patient sees the new time', async () => {
    await doc.goto(`/#/patients/${patientId}`);
    const section = doc.locator('section', { has: doc.getByRole('heading', { name: 'Appointments', exact: true }) });
    await section.getByText('No appointments coming up.').waitFor({ timeout: 20_000 });
    const first = await ahead(2, 10, 0);
    await section.getByLabel('When').fill(first.value);
    await section.getByLabel('Kind').selectOption({ label: 'Phone (audio only)' });
    await section.getByRole('button', { name: 'Book a visit' }).click();
    await section
      .getByRole('status')
      .getByText(/^Booked: phone visit on/)
      .waitFor({ timeout: 10_000 });
    await expect.poll(async () => (await appointments()).map((a) => [a.start, a.mode, a.status])).toEqual([[first.ms, 'audio', 'booked']]);
    await expectAccessible(doc, 'patient page appointments');
    const moved = await ahead(2, 11, 30);
    await section.getByRole('button', { name: /^Move Phone visit/ }).click();
    await section.getByLabel('New time').fill(moved.value);
    await section.getByRole('button', { name: 'Save' }).click();
    await section
      .getByRole('status')
      .getByText(/^Moved to/)
      .waitFor({ timeout: 10_000 });
    await expect.poll(async () => (await appointments()).map((a) => a.start)).toEqual([moved.ms]);
    expect(await section.getByLabel('New time').count()).toBe(0); // the form closes once saved
    await doc.screenshot({ path: path.join(ARTIFACTS, 'appointments-1-nurse.png'), fullPage: true });
    await pat.goto('/');
    const item = pat.locator('li.appt').filter({ hasText: 'Phone (audio) visit with Nurse Nora' });
    await item.waitFor({ timeout: 20_000 });
    const shown = await pat.evaluate(
      (ms) => new Date(ms).toLocaleString([], { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' }),
      moved.ms,
    );
    expect(await item.locator('.appt-when').innerText()).toBe(shown);
  });

  it('the patient books one of the clinician’s free times in the portal, then cancels it', async () => {
    const open = await ahead(3, 9, 0);
    expect(
      (
        await app.api(nurseToken, 'POST', '/api/v1/availability', {
          start: new Date(open.ms).toISOString(),
          end: new Date(open.ms + 3600_000).toISOString(),
          slotMinutes: 20,
        })
      ).status,
    ).toBe(201);
    await pat.reload();
    await pat.getByRole('button', { name: 'Book an appointment' }).click({ timeout: 20_000 });
    await pat.getByRole('heading', { name: 'Choose a time' }).waitFor();
    const slots = pat.locator('.slot-list button');
    await expect.poll(() => slots.count(), { timeout: 10_000 }).toBe(3);
    await expectAccessible(pat, 'portal: choose a time');
    await pat.screenshot({ path: path.join(ARTIFACTS, 'appointments-2-patient-choose.png'), fullPage: true });
    await slots.first().click();
    // The patient confirms the time first (one tap used to book at once); the confirm button has the focus.
    await pat.getByRole('heading', { name: 'Book this time?' }).waitFor();
    expect(await pat.evaluate(() => document.activeElement?.textContent)).toBe('Yes, book it');
    await expectAccessible(pat, 'portal: confirm a time');
    await pat.keyboard.press('Enter');
    await pat
      .getByRole('status')
      .getByText(/^Booked:/)
      .waitFor({ timeout: 10_000 });
    await expect
      .poll(async () =>
        (await appointments())
          .filter((a) => a.status === 'booked')
          .map((a) => a.start)
          .sort(),
      )
      .toEqual([(await ahead(2, 11, 30)).ms, open.ms].sort());
    await expect.poll(() => pat.locator('li.appt').count()).toBe(2);
    await pat.screenshot({ path: path.join(ARTIFACTS, 'appointments-3-patient-two.png'), fullPage: true });
    // The portal asks before cancelling (a plain yes/no); the patient says yes.
    pat.once('dialog', (d) => void d.accept());
    const booked = pat.locator('li.appt').filter({
      hasText: await pat.evaluate(
        (ms) => new Date(ms).toLocaleString([], { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' }),
        open.ms,
      ),
    });
    await booked.getByRole('button', { name: 'Cancel' }).click();
    await pat.getByText('Your appointment is cancelled.').waitFor({ timeout: 10_000 });
    await expect.poll(async () => (await appointments()).find((a) => a.start === open.ms)?.status).toBe('cancelled');
    await expect.poll(() => pat.locator('li.appt').count()).toBe(1);
    await expectAccessible(pat, 'portal after cancelling');
  });

  it('the nurse opens times on their schedule; a booking shows there as booked', async () => {
    await doc.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedule' }).click();
    await doc.getByRole('heading', { name: 'My open times' }).waitFor({ timeout: 20_000 });
    const day = (await ahead(4, 14, 0)).value.slice(0, 10);
    await doc.getByLabel('Day', { exact: true }).fill(day);
    await doc.getByLabel('From', { exact: true }).fill('14:00');
    await doc.getByLabel('To', { exact: true }).fill('15:00');
    await doc.getByLabel('Each visit').selectOption({ label: '30 minutes' });
    await doc.getByRole('button', { name: 'Add open times' }).click();
    await doc
      .getByRole('status')
      .getByText(/^Added .*14:00–15:00, in 30-minute visits\.$/)
      .waitFor({ timeout: 10_000 });
    const dayName = await doc.evaluate((d) => new Date(`${d}T14:00`).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' }), day);
    const section = doc.getByRole('region', { name: dayName });
    await expect.poll(() => section.locator('li.schedule-slot.is-free').count(), { timeout: 10_000 }).toBe(2);
    // The patient books the first of them (through the API the portal uses); the schedule shows it booked.
    const patientToken = (await app.tokenFor('patient', { patientId })).token;
    const slotStart = await doc.evaluate((d) => new Date(`${d}T14:00`).getTime(), day);
    const offered = (await app.api<Array<{ id: string; start: number }>>(patientToken, 'GET', '/api/v1/slots')).body;
    const slot = offered.find((x) => x.start === slotStart);
    expect(slot, JSON.stringify(offered)).toBeDefined();
    expect((await app.api(patientToken, 'POST', '/api/v1/appointments/book', { slotId: slot!.id })).status).toBe(201);
    await doc.reload();
    await expect.poll(() => section.locator('li.schedule-slot.is-busy').count(), { timeout: 15_000 }).toBe(1);
    expect(await section.locator('li.schedule-slot.is-busy').innerText()).toMatch(/Booked/);
    await expectAccessible(doc, 'my open times');
    await doc.screenshot({ path: path.join(ARTIFACTS, 'appointments-4-schedule.png'), fullPage: true });
    // Bad input is refused with the server's words and adds nothing.
    await doc.getByLabel('From', { exact: true }).fill('15:00');
    await doc.getByLabel('To', { exact: true }).fill('14:00');
    await doc.getByRole('button', { name: 'Add open times' }).click();
    await doc
      .getByRole('alert')
      .getByText(/start before end/)
      .waitFor({ timeout: 10_000 });
    // Back to the patient page for the last test (and cancel the booking made here).
    const booked = (await appointments()).find((a) => a.start === slotStart)!;
    expect((await app.api(nurseToken, 'POST', `/api/v1/appointments/${booked.id}/cancel`, {})).status).toBe(200);
    await doc.goto(`/#/patients/${patientId}`);
  });

  it('the nurse cancels the other one by keyboard, after a question whose safe answer has the focus', async () => {
    await doc.reload();
    const section = doc.locator('section', { has: doc.getByRole('heading', { name: 'Appointments', exact: true }) });
    await section.getByRole('button', { name: /^Cancel Phone visit/ }).focus({ timeout: 20_000 });
    await doc.keyboard.press('Enter');
    // The question takes the focus on its safe answer: Enter again keeps the visit.
    await expect.poll(() => doc.evaluate(() => document.activeElement?.textContent)).toBe('Keep it');
    await doc.keyboard.press('Enter');
    await expect.poll(async () => (await appointments()).filter((a) => a.status === 'booked').length).toBe(1);
    await section.getByRole('button', { name: /^Cancel Phone visit/ }).focus();
    await doc.keyboard.press('Enter');
    await doc.keyboard.press('Shift+Tab'); // back to "Yes, cancel it"
    expect(await doc.evaluate(() => document.activeElement?.textContent)).toBe('Yes, cancel it');
    await doc.keyboard.press('Enter');
    await section.getByText('No appointments coming up.').waitFor({ timeout: 10_000 });
    expect((await appointments()).every((a) => a.status === 'cancelled')).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
