/**
 * Video visits in real Chromium with fake cameras (issue 8): two browsers meet through the waiting room and
 * decode each other's video (getStats); a guest joins by a one-time link and all three decode each other;
 * the same through coturn with relay-only ICE, recovering after coturn is killed and restarted (a network
 * blip: ICE restart). Every page checked with axe-core. Screenshots in artifacts/visit-*.png.
 * Run alone with `npm run test:video`.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { bootApp, type TestApp } from '../support/app.ts';
import { skipNote } from '../support/services.ts';
import { expectAccessible, expectDecoding, framesDecoded, hasChromium, hasCoturn, launch, signedIn, startCoturn } from './tele-support.ts';

if (!hasChromium) skipNote('Chromium (video visit tests; apt-get install -y chromium)');
if (!hasCoturn) skipNote('coturn (relay-only video visit test; apt-get install -y coturn)');
const ARTIFACTS = path.resolve('artifacts');
// Several Chromium instances share the machine's cores: generous limits, the asserted facts stay strict.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });
const PASSWORD = 'correct horse battery';

interface Clinic {
  app: TestApp;
  patientId: string;
  nurse: { email: string; token: string; practitionerId: string };
  patient: { email: string };
}

async function clinic(env: Record<string, string> = {}): Promise<Clinic> {
  // The visits settings (TURN, ICE policy) are part of the one Config, read from the env given to the app.
  const app = await bootApp({ env: { VIGIL_REQUIRE_MFA: '0', ...env } });
  const s = app.services;
  const patientId = (await s.patientService.create({ name: 'Alice Ames', birthDate: '1941-03-02' }, 'system')).id;
  const nurseUser = await s.auth.createUser({ email: 'nurse@visit.test', role: 'clinician', displayName: 'Nurse Nora', password: PASSWORD }, 'system');
  await s.patientService.assignClinician(patientId, nurseUser.practitionerId!, 'system');
  await s.auth.createUser({ email: 'alice@visit.test', role: 'patient', displayName: 'Alice Ames', password: PASSWORD, patientId }, 'system');
  const { token } = await s.auth.createToken('nurse@visit.test', 'test', 'system');
  return { app, patientId, nurse: { email: 'nurse@visit.test', token, practitionerId: nurseUser.practitionerId! }, patient: { email: 'alice@visit.test' } };
}

async function newVisit(c: Clinic): Promise<string> {
  const res = await c.app.api<{ id: string }>(c.nurse.token, 'POST', '/fhir/R4/Appointment', {
    resourceType: 'Appointment',
    status: 'booked',
    start: new Date().toISOString(),
    participant: [{ actor: { reference: `Patient/${c.patientId}` } }, { actor: { reference: `Practitioner/${c.nurse.practitionerId}` } }],
  });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Clinician and patient open the visit; the patient presses Join and waits; the clinician presses Admit. */
async function meetThroughWaitingRoom(c: Clinic, browser: Browser, id: string, shots: string | null) {
  const doc = (await signedIn(browser, c.app.httpUrl, c.nurse.email, PASSWORD)).page;
  const pat = (await signedIn(browser, c.app.httpUrl, c.patient.email, PASSWORD, { width: 412, height: 915 })).page; // a phone
  // The nurse is on the patient list, not on the visit: she hears that Alice waits, wherever she is.
  await doc.goto('/');
  await doc.waitForSelector('text=/\\d+ patients?/', { timeout: 20_000 });
  // Keeps the visit's sockets reachable from the test, to drop one as a lost network would.
  await pat.addInitScript(() => {
    const Native = window.WebSocket;
    const sockets: WebSocket[] = [];
    (window as unknown as { visitSockets: WebSocket[] }).visitSockets = sockets;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        if (String(url).includes('/signal')) sockets.push(this);
      }
    };
  });
  await pat.goto(`/visits/${id}`);
  await expect.poll(() => pat.url()).toContain(`#/visits/${id}`);
  const join = pat.getByRole('button', { name: 'Join', exact: true });
  await join.waitFor({ timeout: 20_000 });
  await expect.poll(() => join.isEnabled(), { timeout: 10_000 }).toBe(true);
  if (shots) {
    await expectAccessible(pat, 'patient lobby', { liveVideo: true });
    await pat.screenshot({ path: path.join(ARTIFACTS, `${shots}-1-patient-lobby.png`) });
  }
  await join.click();
  await pat.getByText(/Please wait/).waitFor({ timeout: 10_000 });
  // Screen readers hear the change, and focus is not lost with the Join button (found by review).
  const said = (page: Page) => page.locator('[data-visit-announcement]').innerText();
  await expect.poll(() => said(pat), { timeout: 10_000 }).toMatch(/You are in the waiting room/);
  expect(await pat.evaluate(() => document.activeElement?.tagName)).toBe('H1');
  // Before: visit.waiting reached the dashboard but nothing showed it outside the visit page.
  const notice = doc.getByRole('status').filter({ hasText: 'Alice Ames is waiting for their video visit' });
  await notice.waitFor({ timeout: 10_000 });
  // The nurse reloads the page while Alice waits: the banner comes back from the list of waiting visits
  // (GET /api/v1/visits/waiting). Before: it showed only after the next visit.waiting event, which may never come.
  await doc.reload();
  await doc.waitForSelector('text=/\\d+ patients?/', { timeout: 20_000 });
  await notice.waitFor({ timeout: 10_000 });
  if (shots) {
    await doc.screenshot({ path: path.join(ARTIFACTS, `${shots}-0-clinician-hears-waiting.png`) });
    await expectAccessible(doc, 'patient list with a waiting-room notice');
  }
  await notice.getByRole('link', { name: 'Open the visit' }).click();
  await expect.poll(() => doc.url().replace('_', '-')).toContain(`#/visits/${id.replace('_', '-')}`);
  await expect.poll(() => notice.count()).toBe(0); // on the visit itself, the lobby shows who waits
  const admit = doc.getByRole('button', { name: /^Admit/ });
  await admit.waitFor({ timeout: 10_000 });
  await expect.poll(() => said(doc), { timeout: 10_000 }).toMatch(/Alice Ames is waiting to be let in/);
  if (shots) {
    await pat.screenshot({ path: path.join(ARTIFACTS, `${shots}-2-patient-waiting.png`) });
    await doc.screenshot({ path: path.join(ARTIFACTS, `${shots}-3-clinician-admit.png`) });
    await expectAccessible(pat, 'patient waiting room', { liveVideo: true });
    await expectAccessible(doc, 'clinician lobby with someone waiting', { liveVideo: true });
  }
  await admit.click();
  await expect(doc.locator('video[data-role="remote"]')).toBeDefined();
  await doc.locator('video[data-role="remote"]').first().waitFor({ timeout: 15_000 });
  await pat.locator('video[data-role="remote"]').first().waitFor({ timeout: 15_000 });
  await expect.poll(() => said(pat), { timeout: 10_000 }).toMatch(/You are in the visit with Nurse Nora/);
  await expect.poll(() => said(doc), { timeout: 10_000 }).toMatch(/Alice Ames joined the visit/);
  expect(await pat.evaluate(() => document.activeElement?.tagName)).toBe('H1');
  await expectDecoding(doc, 1);
  await expectDecoding(pat, 1);
  return { doc, pat };
}

describe.skipIf(!hasChromium)('video visit in Chromium', () => {
  let c: Clinic;
  let browser: Browser;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    c = await clinic();
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await c?.app.stop();
  });

  let id: string;
  let doc: Page;
  let pat: Page;

  it('two browsers meet through the waiting room and decode each other’s video', async () => {
    id = await newVisit(c);
    ({ doc, pat } = await meetThroughWaitingRoom(c, browser, id, 'visit'));
    // the video elements really play: the fake camera's frames have a size
    for (const page of [doc, pat]) {
      expect(await page.$eval('video[data-role="remote"]', (v) => (v as HTMLVideoElement).videoWidth)).toBeGreaterThan(0);
    }
    await expect.poll(() => doc.getByText(/Good connection|Fair connection/).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await doc.waitForTimeout(1500); // a few seconds of video in the screenshots
    await doc.screenshot({ path: path.join(ARTIFACTS, 'visit-4-clinician-call.png') });
    await pat.screenshot({ path: path.join(ARTIFACTS, 'visit-5-patient-call.png') });
    await expectAccessible(doc, 'clinician in call', { liveVideo: true });
    await expectAccessible(pat, 'patient in call', { liveVideo: true });
    // the clinician has the patient's vitals beside the video
    expect(await doc.getByRole('complementary', { name: 'Patient vitals' }).count()).toBe(1);
  });

  it('a dropped connection comes back by itself, straight into the call, without a second admission (found by review)', async () => {
    const sockets = () => pat.evaluate(() => (window as unknown as { visitSockets: WebSocket[] }).visitSockets.length);
    expect(await sockets()).toBe(1);
    // The patient's socket drops (before: "The connection to the visit was lost. Reload the page").
    await pat.evaluate(() => (window as unknown as { visitSockets: WebSocket[] }).visitSockets[0].close());
    await expect.poll(sockets, { timeout: 15_000 }).toBe(2);
    await expect.poll(() => pat.locator('[data-visit-announcement]').innerText(), { timeout: 15_000 }).toMatch(/You are in the visit with Nurse Nora/);
    expect(await doc.getByRole('button', { name: /^Admit/ }).count()).toBe(0); // nobody had to let her in again
    await expectDecoding(pat, 1);
    await expectDecoding(doc, 1);
  });

  it('a guest joins with a one-time link; all three decode each other', async () => {
    const invite = await c.app.api<{ url: string }>(c.nurse.token, 'POST', `/api/v1/visits/${id}/invites`, { name: 'Interpreter' });
    expect(invite.status).toBe(201);
    const guestContext = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    const guest = await guestContext.newPage();
    await guest.goto(invite.body.url);
    await guest.getByLabel('Your name').fill('Maria (interpreter)');
    await expectAccessible(guest, 'guest name form');
    await guest.getByRole('button', { name: 'Continue' }).click();
    const join = guest.getByRole('button', { name: 'Join', exact: true });
    await join.waitFor({ timeout: 15_000 });
    await expect.poll(() => join.isEnabled()).toBe(true);
    await join.click();
    await doc.getByRole('button', { name: 'Admit Maria (interpreter) (invited as Interpreter)' }).click({ timeout: 10_000 });
    await expectDecoding(guest, 2);
    await expectDecoding(doc, 2);
    await expectDecoding(pat, 2);
    await guest.waitForTimeout(1000);
    await guest.screenshot({ path: path.join(ARTIFACTS, 'visit-6-guest-three-way.png') });
    // the link was one-time: a second browser cannot use it
    const again = await (await browser.newContext()).newPage();
    await again.goto(invite.body.url);
    await again.getByLabel('Your name').fill('Intruder');
    await again.getByRole('button', { name: 'Continue' }).click();
    await again
      .getByRole('alert')
      .getByText(/expired or has already been used/)
      .waitFor({ timeout: 10_000 });
    await guestContext.close();
  });

  it('in-call chat reaches the others and is kept in the thread; Leave ends it and the Encounter records everyone', async () => {
    await pat.getByLabel('Chat message').fill('I can see you well');
    await pat.getByRole('button', { name: 'Send', exact: true }).click();
    await doc.getByText('I can see you well').waitFor({ timeout: 10_000 });
    await pat.getByRole('button', { name: 'Leave' }).click();
    await doc.getByRole('button', { name: 'Leave' }).click();
    await doc.getByText(/You have left the visit/).waitFor();
    const enc = await c.app.api<{
      entry: Array<{ resource: { status: string; participant: Array<{ individual: { display: string }; period: { end?: string } }> } }>;
    }>(c.nurse.token, 'GET', `/fhir/R4/Encounter?patient=${c.patientId}`);
    await expect
      .poll(
        async () =>
          (await c.app.api<{ entry: Array<{ resource: { status: string } }> }>(c.nurse.token, 'GET', `/fhir/R4/Encounter?patient=${c.patientId}`)).body.entry[0]
            .resource.status,
        { timeout: 10_000 },
      )
      .toBe('finished');
    const names = enc.body.entry[0].resource.participant.map((p) => p.individual.display);
    expect(names).toEqual(expect.arrayContaining(['Nurse Nora', 'Alice Ames', 'Maria (interpreter) (invited as Interpreter)']));
    const threads = await c.app.api<Array<{ id: string }>>(c.nurse.token, 'GET', `/api/v1/threads?patient=${c.patientId}`);
    const msgs = await c.app.api<{ messages: Array<{ text: string; category: string }> }>(
      c.nurse.token,
      'GET',
      `/api/v1/threads/${threads.body[0].id}/messages`,
    );
    expect(msgs.body.messages).toContainEqual(expect.objectContaining({ text: 'I can see you well', category: 'visit-chat' }));
  });
});

describe.skipIf(!hasChromium || !hasCoturn)('video visit through coturn, relay only', () => {
  const secret = 'visit-test-secret-' + Math.random().toString(36).slice(2);
  let turn: Awaited<ReturnType<typeof startCoturn>>;
  let c: Clinic;
  let browser: Browser;

  beforeAll(async () => {
    turn = await startCoturn(secret);
    c = await clinic({ VIGIL_TURN_URLS: turn.url, VIGIL_TURN_SECRET: secret, VIGIL_ICE_TRANSPORT_POLICY: 'relay' });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await c?.app.stop();
    await turn?.stop();
  });

  it('connects with relay candidates only, and recovers after the TURN server drops out (ICE restart)', async () => {
    const id = await newVisit(c);
    const { doc, pat } = await meetThroughWaitingRoom(c, browser, id, null);
    // The candidate type comes from the next stats sample (every second) after the pair is chosen; on a loaded
    // machine that sample can come after the video starts (CI of 3 Dec saw '' here), so wait for it.
    for (const page of [doc, pat]) {
      await expect.poll(() => page.getAttribute('[data-candidate-type]', 'data-candidate-type'), { timeout: 15_000 }).toBe('relay');
    }
    await doc.screenshot({ path: path.join(ARTIFACTS, 'visit-7-relay.png') });
    // the blip: coturn dies (every allocation lost) and comes back on the same port
    await turn.stop();
    const stalled = await framesDecoded(pat);
    await expect.poll(async () => pat.getAttribute('[data-connection]', 'data-connection'), { timeout: 60_000 }).not.toBe('connected');
    turn = await startCoturn(secret, turn.port);
    // Whichever side notices the failure first restarts ICE; the other answers the restart offer and never needs its own.
    const restarts = async () =>
      Number(await pat.getAttribute('[data-ice-restarts]', 'data-ice-restarts')) + Number(await doc.getAttribute('[data-ice-restarts]', 'data-ice-restarts'));
    await expect.poll(restarts, { timeout: 60_000 }).toBeGreaterThan(0);
    await expect.poll(async () => Object.values(await framesDecoded(pat))[0] > Object.values(stalled)[0] + 30, { timeout: 60_000, interval: 500 }).toBe(true);
    await expect.poll(async () => Object.values(await framesDecoded(doc))[0], { timeout: 20_000 }).toBeGreaterThan(0);
    await pat.screenshot({ path: path.join(ARTIFACTS, 'visit-8-after-blip.png') });
  });
});
