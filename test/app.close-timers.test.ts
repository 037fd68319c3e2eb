/**
 * Closing the app stops its pollers: when start-up fails after the server-side services exist (the HTTP port is
 * taken), the FHIR bulk-export poller must not go on polling the closed database (it polls every 5 s).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../src/config/config.ts';
import { startApp } from '../src/app.ts';
import { freePort } from './support/ports.ts';

describe('app close', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanup) await c();
  });

  it('a start-up that fails on a taken HTTP port leaves no bulk-export poller running', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => taken.close(r)));
    const port = (taken.address() as net.AddressInfo).port;
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-close-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }));
    const config = loadConfig({
      VIGIL_HTTP_PORT: String(port),
      VIGIL_HTTP_HOST: '127.0.0.1',
      VIGIL_MQTT_PORT: String(await freePort()),
      VIGIL_DATA_DIR: dataDir,
      VIGIL_DEMO: '0',
      VIGIL_LOG_LEVEL: 'debug',
    });
    await expect(startApp(config, { logger })).rejects.toThrow(/VIGIL_HTTP_PORT/);
    const failedAt = lines.length;
    // Two poll periods (5 s each) after the failed start: no poll of the closed database.
    await new Promise((r) => setTimeout(r, 11_000));
    const after = lines.slice(failedAt).filter((l) => /bulk export/.test(l));
    expect(after).toEqual([]);
  }, 60_000);
});
