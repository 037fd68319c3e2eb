/** Shared by the telehealth browser suites: Chromium with fake media, sign-in, axe-core, coturn. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../support/ports.ts';
import { launchChromium } from '../support/browser.ts';

export { CHROMIUM, hasChromium, signedIn } from '../support/browser.ts';
export const hasCoturn = spawnSync('sh', ['-c', 'command -v turnserver'], { encoding: 'utf8' }).status === 0;

/** Besides the no-network flags (support/browser.ts): fake camera/microphone, auto-granted (no permission prompt). */
export const VISIT_ARGS = [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // host candidates as real addresses (not mDNS names), so two browsers on one machine find each other without a resolver
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** Chromium for video visits: fake media devices. */
export function launch(): Promise<Browser> {
  return launchChromium(VISIT_ARGS);
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core in the page: no serious or critical violation. `video-caption` is left out on call screens only:
 * a live WebRTC stream has no caption track (live captions would need speech-to-text; see src/visits/README.md).
 */
export async function expectAccessible(page: Page, what: string, opts: { liveVideo?: boolean } = {}) {
  await page.evaluate(() => document.fonts.ready.then(() => new Promise((r) => setTimeout(r, 300)))); // settled layout and colours
  // Evaluated over the DevTools protocol: the app's Content-Security-Policy (script-src 'self') stays in force.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(
    async (disable) => {
      const axe = (
        window as unknown as {
          axe: {
            run(ctx: unknown, o: unknown): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }>;
          };
        }
      ).axe;
      const r = await axe.run(document, { rules: Object.fromEntries(disable.map((id) => [id, { enabled: false }])) });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    },
    opts.liveVideo ? ['video-caption'] : [],
  );
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `${what}: ${JSON.stringify(bad, null, 1)}`).toEqual([]);
}

/** The frames decoded from each remote participant, as the page's getStats() loop reports them. */
export async function framesDecoded(page: Page): Promise<Record<string, number>> {
  return page.$$eval('[data-frames-decoded]', (els) =>
    Object.fromEntries(els.map((e) => [e.getAttribute('data-peer') ?? '?', Number(e.getAttribute('data-frames-decoded'))])),
  );
}

/** Waits until every remote tile on the page has decoded frames (and there are `peers` of them). */
export async function expectDecoding(page: Page, peers: number, timeout = 45_000) {
  const ok = async () => {
    const f = Object.values(await framesDecoded(page));
    return f.length === peers && f.every((n) => n > 0);
  };
  const deadline = Date.now() + timeout;
  while (!(await ok()) && Date.now() < deadline) await page.waitForTimeout(250);
  const tiles = await page.$$eval('[data-frames-decoded]', (els) =>
    els.map((e) => ({ peer: e.getAttribute('data-peer'), frames: e.getAttribute('data-frames-decoded'), connection: e.getAttribute('data-connection') })),
  );
  expect(await ok(), `expected ${peers} remote tiles decoding on ${page.url()}: ${JSON.stringify(tiles)}`).toBe(true);
}

/** coturn on the loopback with the TURN REST API secret (use-auth-secret), relaying to loopback peers. */
export async function startCoturn(secret: string, port?: number): Promise<{ port: number; url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const p = port ?? (await freePort());
  const minPort = 40000 + Math.floor(Math.random() * 10000);
  const proc = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${p}`,
      `--min-port=${minPort}`,
      `--max-port=${minPort + 200}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=vigil.test',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--allow-loopback-peers',
      '--fingerprint',
      '--no-multicast-peers',
      '--log-file=stdout',
      '--simple-log',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const deadline = Date.now() + 10_000;
  while (!/Total (UDP|General) servers|IPv4. UDP listener opened/i.test(out)) {
    if (proc.exitCode !== null) throw new Error(`turnserver exited:\n${out}`);
    if (Date.now() > deadline) throw new Error(`turnserver did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port: p,
    url: `turn:127.0.0.1:${p}?transport=udp`,
    proc,
    async stop() {
      process.off('exit', killOnExit);
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}
