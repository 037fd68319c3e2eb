/**
 * The call controls and the clinician's side of a visit, in real Chromium with fake media (issue 8): the
 * lobby's device test (camera preview, microphone level moving, camera and microphone lists); in the call
 * mute, camera off, audio only and screen share as the other side sees them (getStats on the receiving
 * page, not the button's own state); the live vitals and the latest ECG strip beside the video; the visit
 * summary afterwards, in the patient's thread; "Call now" on the patient page and on an alert.
 * axe-core on each screen. Screenshots in artifacts/controls-*.png.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { aliceAndNurse, ARTIFACTS, PHONE, startBrowserClinic, type BrowserClinic } from '../support/browser.ts';
import { expectAccessible, expectDecoding, framesDecoded, hasChromium, VISIT_ARGS } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (visit controls browser test)');
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

describe.skipIf(!hasChromium)('visit controls and the clinician’s side of a visit', () => {
  let c: BrowserClinic | undefined;
  let app: TestApp;
  let patientId: string;
  let nurseToken: string;
  let doc: Page;
  let pat: Page;
  let visitId: string;
  let pageErrors: string[];
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `controls-${name}.png`) });
  /** What the page's getStats() loop last saw of the one remote tile: frames decoded, and the size of the picture. */
  const remote = (page: Page) =>
    page.$eval('figure.visit-tile', (f) => {
      const v = f.querySelector('video') as HTMLVideoElement;
      return {
        frames: Number(f.getAttribute('data-frames-decoded')),
        width: v.videoWidth,
        height: v.videoHeight,
        name: f.querySelector('.visit-name')?.textContent ?? '',
        placeholder: !!f.querySelector('.visit-novideo'),
      };
    });

  beforeAll(async () => {
    c = await startBrowserClinic({ chromiumArgs: VISIT_ARGS });
    ({ app, pageErrors } = c);
    const s = app.services;
    ({ patientId, nurseToken } = await aliceAndNurse(c, 'controls.test'));
    // Vitals and a few seconds of ECG, so the side panel has something real to show.
    const oxi = await s.deviceService.provision({ patientId, type: 'pulse-oximeter' }, 'system');
    expect((await app.api(oxi.secret, 'POST', `/api/v1/devices/${oxi.id}/telemetry`, { hr: 88, spo2: 94 })).status).toBe(202);
    const ecg = await s.deviceService.provision({ patientId, type: 'ecg' }, 'system');
    const fs = 250;
    const now = Date.now() - 5_000;
    for (let sec = 0; sec < 4; sec++) {
      const samples = Array.from({ length: fs }, (_, i) => Math.round(1000 * Math.exp(-(((i % 200) - 20) ** 2) / 20)));
      expect(
        (await app.api(ecg.secret, 'POST', `/api/v1/devices/${ecg.id}/ecg`, { ts: now + sec * 1000, seq: sec, fs, lead: 'II', unit: 'uV', samples })).status,
      ).toBe(202);
    }
    doc = await c.signIn('nurse@controls.test');
    pat = await c.signIn('alice@controls.test', PHONE);
  });
  afterAll(() => c?.stop());

  it('"Call now" on the patient page opens a visit at once and puts a Join button in the patient’s portal', async () => {
    await doc.goto(`/#/patients/${patientId}`);
    await doc.getByRole('button', { name: 'Call now' }).click({ timeout: 20_000 });
    await doc.waitForURL(/#\/visits\/[^/]+$/, { timeout: 15_000 });
    visitId = decodeURIComponent(doc.url().split('#/visits/')[1]);
    await pat.goto('/');
    await pat.getByRole('link', { name: 'Join' }).click({ timeout: 20_000 });
    await pat.waitForURL(`**/#/visits/${encodeURIComponent(visitId)}`);
  });

  it('the lobby is a device test: the camera preview plays, the microphone level moves, cameras and microphones are listed', async () => {
    const join = pat.getByRole('button', { name: 'Join', exact: true });
    await join.waitFor({ timeout: 20_000 });
    await expect.poll(() => pat.$eval('video[data-role="local"]', (v) => (v as HTMLVideoElement).videoWidth), { timeout: 15_000 }).toBeGreaterThan(0);
    // Chromium's fake microphone beeps: the meter must move above zero at some point.
    await expect.poll(() => pat.getByRole('meter').evaluate((m) => (m as HTMLMeterElement).value), { timeout: 15_000 }).toBeGreaterThan(0);
    const options = async (label: string) =>
      pat.getByRole('combobox', { name: label, exact: true }).evaluate((s) => [...(s as HTMLSelectElement).options].map((o) => o.textContent));
    await expect.poll(async () => (await options('Camera')).length).toBeGreaterThan(1); // Default + the fake camera
    expect((await options('Microphone')).length).toBeGreaterThan(1);
    await pat.getByRole('combobox', { name: 'Camera', exact: true }).selectOption({ index: 1 }); // choosing a device restarts the preview on it
    await expect.poll(() => pat.$eval('video[data-role="local"]', (v) => (v as HTMLVideoElement).videoWidth), { timeout: 15_000 }).toBeGreaterThan(0);
    await expectAccessible(pat, 'patient lobby (device test)', { liveVideo: true });
    await shot(pat, '1-patient-device-test');
    await join.click();
    await doc.getByRole('button', { name: 'Admit Alice Ames' }).click({ timeout: 15_000 });
    await expectDecoding(doc, 1);
    await expectDecoding(pat, 1);
  });

  it('shows the live vitals and the latest ECG strip beside the video, for the clinician only', async () => {
    const side = doc.getByRole('complementary', { name: 'Patient vitals' });
    await side.getByRole('heading', { name: 'Alice Ames: live vitals' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => side.innerText(), { timeout: 15_000 }).toMatch(/88/);
    expect(await side.innerText()).toMatch(/94/);
    await side.getByRole('img', { name: /^ECG lead II/ }).waitFor({ timeout: 15_000 });
    expect(await pat.getByRole('complementary', { name: 'Patient vitals' }).count()).toBe(0);
    await doc.waitForTimeout(1000);
    await shot(doc, '2-clinician-vitals-ecg');
  });

  it('mute and camera off reach the other side', async () => {
    await pat.getByRole('button', { name: 'Mute' }).click();
    await expect.poll(async () => (await remote(doc)).name, { timeout: 10_000 }).toBe('Alice Ames (muted)');
    // The patient's own microphone track is really disabled, not just the button.
    expect(
      await pat.evaluate(() =>
        [...document.querySelectorAll('video[data-role="local"]')].flatMap((v) =>
          ((v as HTMLVideoElement).srcObject as MediaStream).getAudioTracks().map((t) => t.enabled),
        ),
      ),
    ).toEqual([false]);
    await pat.getByRole('button', { name: 'Unmute' }).click();
    await expect.poll(async () => (await remote(doc)).name, { timeout: 10_000 }).toBe('Alice Ames');
    await pat.getByRole('button', { name: 'Camera off' }).click();
    await expect.poll(async () => (await remote(doc)).placeholder, { timeout: 10_000 }).toBe(true);
    await pat.getByRole('button', { name: 'Camera on' }).click();
    await expect.poll(async () => (await remote(doc)).placeholder, { timeout: 10_000 }).toBe(false);
  });

  it('audio only stops the video the other side decodes, and Video on brings it back', async () => {
    await pat.getByRole('button', { name: 'Audio only' }).click();
    await expect.poll(async () => (await remote(doc)).placeholder, { timeout: 10_000 }).toBe(true);
    expect(await pat.locator('video[data-role="local"]').count()).toBe(0); // the camera is released
    // No more frames arrive: the count stands still over two seconds.
    await doc.waitForTimeout(1500);
    const before = (await framesDecoded(doc))['Alice Ames'];
    await doc.waitForTimeout(2000);
    expect((await framesDecoded(doc))['Alice Ames']).toBe(before);
    await shot(doc, '3-clinician-patient-audio-only');
    await pat.getByRole('button', { name: 'Video on' }).click();
    await expect.poll(async () => (await framesDecoded(doc))['Alice Ames'], { timeout: 20_000 }).toBeGreaterThan(before);
    await expect.poll(async () => (await remote(doc)).placeholder, { timeout: 10_000 }).toBe(false);
  });

  it('screen share replaces the camera picture on the other side, and Stop sharing puts the camera back', async () => {
    const camera = await remote(pat);
    await doc.getByRole('button', { name: 'Share screen' }).click();
    await doc.getByRole('button', { name: 'Stop sharing' }).waitFor({ timeout: 15_000 });
    // The patient now decodes the clinician's screen: a picture of another size than the 640×480 fake camera.
    await expect
      .poll(
        async () => {
          const r = await remote(pat);
          return `${r.width}x${r.height}`;
        },
        { timeout: 20_000 },
      )
      .not.toBe(`${camera.width}x${camera.height}`);
    const sharing = await remote(pat);
    await expect.poll(async () => (await remote(pat)).frames, { timeout: 10_000 }).toBeGreaterThan(sharing.frames);
    await shot(pat, '4-patient-sees-shared-screen');
    await doc.getByRole('button', { name: 'Stop sharing' }).click();
    await expect
      .poll(
        async () => {
          const r = await remote(pat);
          return `${r.width}x${r.height}`;
        },
        { timeout: 20_000 },
      )
      .toBe(`${camera.width}x${camera.height}`);
  });

  it('the visit summary afterwards is in the patient’s thread, and the patient reads it', async () => {
    await pat.getByRole('button', { name: 'Leave' }).click();
    await doc.getByRole('button', { name: 'Leave' }).click();
    await doc.getByText('You have left the visit.').waitFor();
    await doc.getByLabel('Visit summary note').fill('Ankle swelling reviewed on video. Raise legs, repeat weight daily, call if breathless.');
    await doc.getByRole('button', { name: 'Save summary' }).click();
    await doc.getByText(/visit summary is saved/).waitFor({ timeout: 10_000 });
    await expectAccessible(doc, 'clinician after the visit');
    await shot(doc, '5-clinician-summary');
    const threads = await app.api<Array<{ id: string; subject: string }>>(nurseToken, 'GET', `/api/v1/threads?patient=${patientId}`);
    const all = await Promise.all(
      threads.body.map(async (t) => ({
        t,
        r: await app.api<{ messages: Array<{ text: string; category: string }> }>(nurseToken, 'GET', `/api/v1/threads/${t.id}/messages`),
      })),
    );
    const withSummary = all.find(({ r }) => r.body.messages.some((m) => m.category === 'visit-summary' && m.text.includes('Raise legs')));
    expect(withSummary, JSON.stringify(all.map(({ t, r }) => ({ subject: t.subject, messages: r.body.messages })))).toBeDefined();
    await pat.goto('/#/messages');
    await pat
      .getByRole('navigation', { name: 'Conversations' })
      .getByRole('link', { name: new RegExp(withSummary!.t.subject) })
      .click({ timeout: 15_000 });
    await pat.getByText('Visit summary', { exact: true }).waitFor({ timeout: 15_000 });
    await pat.getByText(/Raise legs, repeat weight daily/).waitFor();
    await expectAccessible(pat, 'patient reading the visit summary');
    await pat.screenshot({ path: path.join(ARTIFACTS, 'controls-6-patient-summary.png'), fullPage: true });
  });

  it('"Call now" on an alert opens a visit with that patient', async () => {
    // A run of low SpO₂ readings over two minutes fires the clinic's spo2-low rule (and NEWS2): a real alert.
    const oxi = await app.services.deviceService.provision({ patientId, type: 'pulse-oximeter' }, 'system');
    // From now on (a device clock may run up to 5 min ahead): readings stamped before this patient's newest one
    // (the vitals of beforeAll, when the tests before this ran in under 2 min) are history to the rule and never fired it.
    const from = Date.now();
    for (let i = 0; i <= 12; i++) await app.api(oxi.secret, 'POST', `/api/v1/devices/${oxi.id}/telemetry`, { ts: from + i * 10_000, spo2: 84, hr: 118 });
    await doc.goto('/#/alerts');
    const row = doc.locator('li.alert-row').first();
    await row.waitFor({ timeout: 60_000 });
    await row.getByRole('button', { name: 'Call now' }).click();
    await doc.waitForURL(/#\/visits\/[^/]+$/, { timeout: 15_000 });
    const apt = decodeURIComponent(doc.url().split('#/visits/')[1]);
    expect(apt).not.toBe(visitId);
    const page = await app.api<{ appointment: { patientId: string; reason: string | null } }>(nurseToken, 'GET', `/api/v1/visits/${apt}`);
    expect(page.body.appointment.patientId).toBe(patientId);
    await doc.getByRole('button', { name: 'Start visit' }).waitFor({ timeout: 20_000 });
    expect(pageErrors).toEqual([]);
  });
});
