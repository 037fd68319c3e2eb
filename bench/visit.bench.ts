/**
 * npm run bench:visit [-- --json] [-- --runs 5]
 *
 * Visit connect time on localhost: from the clinician pressing Admit to both browsers decoding the other's
 * video (getStats framesDecoded > 0), for direct ICE and for relay-only ICE through coturn. Two headless
 * Chromium instances with fake cameras. Target: under 3 s, relay included.
 */
import type { Browser, Page } from 'playwright-core';
import { bootApp } from '../test/support/app.ts';
import { framesDecoded, hasChromium, hasCoturn, launch, signedIn, startCoturn } from '../test/browser/tele-support.ts';
import { summarize, table } from './support/stats.ts';

const args = process.argv.slice(2);
const RUNS = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
const JSON_OUT = args.includes('--json');
const PASSWORD = 'correct horse battery';
if (!hasChromium) throw new Error('bench:visit needs Chromium (/usr/bin/chromium or CHROMIUM_PATH)');

async function clinic(env: Record<string, string>) {
  // The TURN settings are part of the app's Config, read from the env given to it (not process.env).
  const app = await bootApp({ env: { VIGIL_REQUIRE_MFA: '0', ...env } });
  const s = app.services;
  const patientId = (await s.patientService.create({ name: 'Bench Patient' }, 'system')).id;
  const nurse = await s.auth.createUser({ email: 'nurse@bench.test', role: 'clinician', displayName: 'Nurse', password: PASSWORD }, 'system');
  await s.patientService.assignClinician(patientId, nurse.practitionerId!, 'system');
  await s.auth.createUser({ email: 'pat@bench.test', role: 'patient', displayName: 'Patient', password: PASSWORD, patientId }, 'system');
  const token = (await s.auth.createToken('nurse@bench.test', 'bench', 'system')).token;
  return { app, patientId, token, practitionerId: nurse.practitionerId! };
}

const decoding = async (p: Page) => Object.values(await framesDecoded(p)).some((n) => n > 0);

async function oneCall(c: Awaited<ReturnType<typeof clinic>>, browser: Browser): Promise<number> {
  const res = await c.app.api<{ id: string }>(c.token, 'POST', '/api/v1/appointments', { patientId: c.patientId, start: new Date().toISOString() });
  const doc = await signedIn(browser, c.app.httpUrl, 'nurse@bench.test', PASSWORD);
  const pat = await signedIn(browser, c.app.httpUrl, 'pat@bench.test', PASSWORD);
  await doc.page.goto(`/visits/${res.body.id}`);
  await pat.page.goto(`/visits/${res.body.id}`);
  const join = pat.page.getByRole('button', { name: 'Join', exact: true });
  await join.waitFor();
  while (!(await join.isEnabled())) await pat.page.waitForTimeout(50);
  await join.click();
  const admit = doc.page.getByRole('button', { name: /^Admit/ });
  await admit.waitFor();
  const t0 = performance.now();
  await admit.click();
  while (!((await decoding(doc.page)) && (await decoding(pat.page)))) await doc.page.waitForTimeout(20);
  const ms = performance.now() - t0;
  await doc.context.close();
  await pat.context.close();
  return ms;
}

async function measure(label: string, env: Record<string, string>): Promise<{ label: string; times: number[] }> {
  const c = await clinic(env);
  const browser = await launch();
  const times: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) times.push(await oneCall(c, browser));
  } finally {
    await browser.close();
    await c.app.stop();
  }
  return { label, times };
}

const results = [await measure('direct (host candidates)', {})];
if (hasCoturn) {
  const secret = 'bench-secret-' + Math.random().toString(36).slice(2);
  const turn = await startCoturn(secret);
  try {
    results.push(await measure('relay only (coturn)', { VIGIL_TURN_URLS: turn.url, VIGIL_TURN_SECRET: secret, VIGIL_ICE_TRANSPORT_POLICY: 'relay' }));
  } finally {
    await turn.stop();
  }
}
const rows = results.map((r) => ({ ice: r.label, runs: r.times.length, 'p50 ms': summarize(r.times).p50, 'max ms': summarize(r.times).max }));
if (JSON_OUT) console.log(JSON.stringify(results.map((r) => ({ ice: r.label, ...summarize(r.times) }))));
else console.log(table(rows) + '\n\nAdmit → both browsers decoding video. Target: under 3,000 ms.');
process.exit(0);
