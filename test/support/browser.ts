/**
 * Browser tests' one fixture: real Chromium (playwright-core, /usr/bin/chromium, no network of its own),
 * a booted app, users who sign in through the real login route, pages that report their script errors.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { bootApp, type TestApp } from './app.ts';
import { WEB_DIST } from '../../src/api/http-server.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
/** The web app is built (`npm run build:web`): suites that drive the UI need it. */
export const hasWebBuild = existsSync(WEB_DIST);
/** Screenshots go here (gitignored). */
export const ARTIFACTS = path.resolve('artifacts');
export const PASSWORD = 'correct horse battery';

/** Headless, and nothing that reaches the network by itself (BRIEF: no network). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** A browser context signed in as this user (session cookie from the real login route). */
export async function signedIn(
  browser: Browser,
  baseUrl: string,
  email: string,
  password: string,
  viewport = { width: 1280, height: 860 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: baseUrl });
  const res = await context.request.post(`${baseUrl}/api/v1/auth/login`, { data: { email, password } });
  expect(res.status(), await res.text()).toBe(200);
  return { context, page: await context.newPage() };
}

export const PHONE = { width: 412, height: 915 };

export interface BrowserClinic {
  app: TestApp;
  browser: Browser;
  /** Script errors of every page `signIn` opened (a suite ends by expecting none). */
  pageErrors: string[];
  /** A user who signs in with PASSWORD. */
  addUser(u: {
    email: string;
    role: 'admin' | 'clinician' | 'patient' | 'caregiver';
    displayName: string;
    patientId?: string;
  }): Promise<{ userId: string; practitionerId: string | null }>;
  /** A page signed in as `email` (PASSWORD), its script errors collected in `pageErrors`. */
  signIn(email: string, viewport?: { width: number; height: number }): Promise<Page>;
  /** A bearer token for `email`. */
  tokenOf(email: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The app (the second factor not required unless `env` says so: sign-in with one is tested on its own) and
 * Chromium (`chromiumArgs`: extra flags, e.g. fake camera and microphone), with the artifacts folder made.
 */
export async function startBrowserClinic(opts: { env?: Record<string, string>; chromiumArgs?: string[] } = {}): Promise<BrowserClinic> {
  await mkdir(ARTIFACTS, { recursive: true });
  const app = await bootApp({ env: { VIGIL_REQUIRE_MFA: '0', ...opts.env } });
  let browser: Browser;
  try {
    browser = await launchChromium(opts.chromiumArgs);
  } catch (err) {
    await app.stop();
    throw err;
  }
  const pageErrors: string[] = [];
  const s = app.services;
  return {
    app,
    browser,
    pageErrors,
    async addUser(u) {
      const created = await s.auth.createUser({ ...u, password: PASSWORD, patientId: u.patientId ?? null }, 'system');
      return { userId: created.id, practitionerId: created.practitionerId };
    },
    async signIn(email, viewport) {
      const { page } = await signedIn(browser, app.httpUrl, email, PASSWORD, viewport);
      page.on('pageerror', (e) => pageErrors.push(`${e.message}\n${e.stack}`));
      return page;
    },
    async tokenOf(email) {
      return (await s.auth.createToken(email, 'test', 'system')).token;
    },
    async stop() {
      await browser.close();
      await app.stop();
    },
  };
}

/**
 * The care team most stories start from: patient Alice Ames (born 1941) who signs in as alice@DOMAIN, and
 * Nurse Nora (nurse@DOMAIN) on her care team; returns Alice's id and a token for the nurse.
 */
export async function aliceAndNurse(c: BrowserClinic, domain: string): Promise<{ patientId: string; nurseToken: string }> {
  const patientId = (await c.app.services.patientService.create({ name: 'Alice Ames', birthDate: '1941-03-02' }, 'system')).id;
  const nurse = await c.addUser({ email: `nurse@${domain}`, role: 'clinician', displayName: 'Nurse Nora' });
  await c.app.services.patientService.assignClinician(patientId, nurse.practitionerId!, 'system');
  await c.addUser({ email: `alice@${domain}`, role: 'patient', displayName: 'Alice Ames', patientId });
  return { patientId, nurseToken: await c.tokenOf(`nurse@${domain}`) };
}

/**
 * A virtual WebAuthn authenticator (Chrome DevTools Protocol) that passes user presence and verification by
 * itself: `internal` is the device's own passkey store, `usb` a security key. Returns its id.
 */
export async function addVirtualAuthenticator(cdp: CDPSession, transport: 'internal' | 'usb' = 'internal'): Promise<string> {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport, hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return authenticatorId;
}

/** The page's DevTools session with WebAuthn on and one passkey authenticator (`addVirtualAuthenticator`). */
export async function withPasskeyAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  return { cdp, authenticatorId: await addVirtualAuthenticator(cdp) };
}
