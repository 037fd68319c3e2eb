/**
 * The demo's whole story in one run, in real Chromium with fake cameras (issue 8 "The demo tells the whole
 * story"): an ECG with atrial fibrillation arrives over MQTT and the AF alert fires; the nurse sees it and
 * messages the patient; the patient, on a phone, answers with a photo from the portal; the nurse sees the
 * thumbnail live and starts a video visit from that message; the patient joins through the waiting room; both
 * decode each other's video and the nurse sees the patient's live vitals beside it. The episode is in the
 * record (Communication, Encounter) and in the audit trail. A screenshot of every step goes to
 * artifacts/story-*.png (looked at by a person); axe-core on every screen.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import mqtt from 'mqtt';
import type { Page } from 'playwright-core';
import type { TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { aliceAndNurse, ARTIFACTS, PHONE, startBrowserClinic, type BrowserClinic } from '../support/browser.ts';
import { jpegWithGps } from '../../src/messaging/test-fixtures.ts';
import { createEcgModel } from '../../src/simulator/ecg-model.ts';
import { expectAccessible, expectDecoding, hasChromium, VISIT_ARGS } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (the demo story browser test)');
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });
const FS = 250;

describe.skipIf(!hasChromium)('the demo story: AF alert → message → photo → video visit with live vitals', () => {
  let c: BrowserClinic | undefined;
  let app: TestApp;
  let patientId: string;
  let nurseToken: string;
  let vitals: { id: string; secret: string };
  let doc: Page;
  let pat: Page;
  let appointmentId: string;
  let pageErrors: string[];
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `story-${name}.png`), fullPage: true });

  beforeAll(async () => {
    c = await startBrowserClinic({ chromiumArgs: VISIT_ARGS });
    ({ app, pageErrors } = c);
    ({ patientId, nurseToken } = await aliceAndNurse(c, 'story.test'));
    vitals = await app.services.deviceService.provision({ patientId, type: 'pulse-oximeter' }, 'system');
    doc = await c.signIn('nurse@story.test');
    pat = await c.signIn('alice@story.test', PHONE); // a phone
  });
  afterAll(() => c?.stop());

  const reading = (hr: number, spo2: number) => app.api(vitals.secret, 'POST', `/api/v1/devices/${vitals.id}/telemetry`, { hr, spo2 });

  it("1. the ECG turns irregular and the AF alert fires on the nurse's alerts page", async () => {
    expect((await reading(112, 95)).status).toBe(202);
    const ecg = await app.services.deviceService.provision({ patientId, type: 'ecg' }, 'system');
    const model = createEcgModel({ seed: 42, fs: FS });
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: ecg.id, password: ecg.secret, reconnectPeriod: 0 });
    const start = Date.now() - 160_000;
    for (let s = 0; s < 160; s++) {
      const samples = model.next(FS, s < 40 ? { hr: 72, rr: 15, af: false } : { hr: 110, rr: 15, af: true });
      await client.publishAsync(`vigil/v1/devices/${ecg.id}/ecg`, JSON.stringify({ ts: start + s * 1000, seq: s, fs: FS, lead: 'II', unit: 'uV', samples }), {
        qos: 1,
      });
    }
    await client.endAsync();
    await expect
      .poll(
        async () => (await app.api<Array<{ rule: string }>>(nurseToken, 'GET', `/api/v1/alerts?patient=${patientId}&status=open`)).body.map((a) => a.rule),
        { timeout: 30_000 },
      )
      .toContain('af');
    await doc.goto('/#/alerts');
    const row = doc
      .locator('li.alert-row')
      .filter({ has: doc.getByText('Atrial fibrillation episode detected on ECG') })
      .first();
    await row.waitFor({ timeout: 20_000 }).catch(async (err) => {
      await shot(doc, '1-nurse-af-alert-FAILED');
      throw err;
    });
    await expect.poll(() => row.textContent()).toContain('Alice Ames');
    await expectAccessible(doc, 'alerts page with the AF alert');
    await shot(doc, '1-nurse-af-alert');
  });

  it('2. the nurse messages the patient', async () => {
    await doc.goto(`/#/patients/${encodeURIComponent(patientId)}/messages`);
    await doc.getByRole('button', { name: 'Write a new message' }).click({ timeout: 20_000 });
    await doc.getByLabel('What is it about?').fill('Your heart rhythm');
    await doc.getByLabel('Reply').fill('Your heart monitor shows an irregular rhythm. Are your ankles swollen? Please send a photo.');
    await doc.getByRole('button', { name: 'Send', exact: true }).click();
    await doc.getByText('Your heart monitor shows an irregular rhythm.', { exact: false }).waitFor({ timeout: 15_000 });
    await expectAccessible(doc, 'nurse thread after sending');
    await shot(doc, '2-nurse-message-sent');
  });

  it('3. the patient reads it on the phone and answers with a photo from the portal; the nurse sees it live', async () => {
    await pat.goto('/#/messages');
    await pat.getByRole('link', { name: /Your heart rhythm/ }).click({ timeout: 20_000 });
    await pat.getByText('Please send a photo.', { exact: false }).waitFor({ timeout: 15_000 });
    await shot(pat, '3-patient-reads-message');
    await pat.locator('[data-testid="attach-input"]').setInputFiles({ name: 'ankles.jpg', mimeType: 'image/jpeg', buffer: await jpegWithGps() });
    await pat.getByLabel('Your message').fill('Yes, a little. Here they are.');
    await pat.getByText(/ankles\.jpg \(\d+ kB\)/).waitFor();
    await expectAccessible(pat, 'patient reply with a photo');
    await shot(pat, '4-patient-photo-ready');
    await pat.getByRole('button', { name: 'Send', exact: true }).click();
    await pat.getByRole('img', { name: 'Photo: ankles.jpg' }).waitFor({ timeout: 15_000 });
    const thumb = doc.getByRole('img', { name: 'Photo: ankles.jpg' });
    await thumb.waitFor({ timeout: 15_000 }); // live, no reload
    await expect.poll(() => thumb.evaluate((img) => (img as HTMLImageElement).naturalWidth), { timeout: 10_000 }).toBe(320);
    await shot(doc, '5-nurse-sees-photo');
  });

  it('4. the nurse starts a video visit from the photo message; the patient joins through the waiting room', async () => {
    const photoMessage = doc.locator('li.msg').filter({ has: doc.getByRole('img', { name: 'Photo: ankles.jpg' }) });
    await photoMessage.getByRole('button', { name: 'Video call about this' }).click();
    await doc.getByRole('heading', { name: /Video visit with Alice Ames/ }).waitFor({ timeout: 20_000 });
    appointmentId = decodeURIComponent(/#\/visits\/([^/?]+)/.exec(doc.url())![1]);
    // The patient gets the link in the same thread, live.
    await pat.getByText(/is calling you for a video visit now/).waitFor({ timeout: 15_000 });
    // The page stays phone-wide (a long link wraps) and the link is a link.
    expect(await pat.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(412);
    await expectAccessible(pat, 'patient thread with the call');
    await shot(pat, '6-patient-gets-call');
    await pat.getByRole('link', { name: 'Open the video visit' }).click();
    const join = pat.getByRole('button', { name: 'Join', exact: true });
    await join.waitFor({ timeout: 20_000 });
    await expect.poll(() => join.isEnabled(), { timeout: 15_000 }).toBe(true);
    await join.click();
    await pat.getByText(/Please wait/).waitFor({ timeout: 15_000 });
    await shot(pat, '7-patient-waiting-room');
    const admit = doc.getByRole('button', { name: /^Admit/ });
    await admit.waitFor({ timeout: 15_000 });
    await expectAccessible(doc, 'nurse visit with the patient waiting', { liveVideo: true });
    await shot(doc, '8-nurse-admit');
    await admit.click();
  });

  it('5. both see each other, and the nurse sees the live vitals beside the video', async () => {
    await doc.locator('video[data-role="remote"]').first().waitFor({ timeout: 20_000 });
    await pat.locator('video[data-role="remote"]').first().waitFor({ timeout: 20_000 });
    await expectDecoding(doc, 1);
    await expectDecoding(pat, 1);
    expect((await reading(118, 94)).status).toBe(202); // a reading during the call reaches the panel live
    const side = doc.getByRole('heading', { name: 'Alice Ames: live vitals' });
    await side.waitFor({ timeout: 15_000 });
    const panel = doc.locator('aside, section, div').filter({ has: side }).last();
    await panel.getByText('118', { exact: false }).first().waitFor({ timeout: 15_000 });
    await expectAccessible(doc, 'nurse in the call', { liveVideo: true });
    await expectAccessible(pat, 'patient in the call', { liveVideo: true });
    await shot(doc, '9-nurse-in-call-with-vitals');
    await shot(pat, '10-patient-in-call');
  });

  it('6. the episode is in the record and the audit trail', async () => {
    const comms = await app.api<{
      total: number;
      entry: Array<{ resource: { payload: Array<{ contentString?: string; contentAttachment?: { contentType: string } }> } }>;
    }>(nurseToken, 'GET', `/fhir/R4/Communication?patient=${patientId}`);
    expect(comms.body.entry.some((e) => e.resource.payload.some((p) => p.contentAttachment?.contentType === 'image/jpeg'))).toBe(true);
    const enc = await app.api<{ total: number; entry: Array<{ resource: { status: string } }> }>(
      nurseToken,
      'GET',
      `/fhir/R4/Encounter?patient=${patientId}&appointment=Appointment/${appointmentId}`,
    );
    expect(enc.body.entry.map((e) => e.resource.status)).toContain('in-progress');
    const actions = new Set(
      (await app.services.db.query<{ action: string }>('SELECT DISTINCT action FROM audit_log WHERE patient_id = $1', [patientId])).map((r) => r.action),
    );
    for (const a of ['message.send', 'attachment.read', 'appointment.create', 'visit.join', 'visit.start']) expect([...actions], a).toContain(a);
    expect(pageErrors).toEqual([]);
  });
});
