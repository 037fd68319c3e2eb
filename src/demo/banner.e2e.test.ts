/**
 * The demo's start banner tells the truth about its simulated devices: they publish over MQTT, so with the
 * embedded broker off (VIGIL_MQTT_PORT=0) and no MQTT_URL they do not run, and the banner says so instead of
 * promising a live clinic that stays silent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../test/support/server-process.ts';
import { freePort } from '../../test/support/ports.ts';

describe('demo start banner', () => {
  let server: ServerProcess | null = null;
  let dataDir = '';
  afterEach(async () => {
    await server?.kill();
    server = null;
    await rm(dataDir, { recursive: true, force: true });
  });

  const banner = async (mqttPort: number) => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-demo-banner-'));
    server = await startServerProcess({ VIGIL_DATA_DIR: dataDir, VIGIL_DEMO: '1' }, { http: await freePort(), mqtt: mqttPort });
    for (let i = 0; i < 100 && !server.output().includes('Simulated devices'); i++) await new Promise((r) => setTimeout(r, 100));
    return (
      server
        .output()
        .split('\n')
        .find((l) => l.includes('Simulated devices')) ?? ''
    );
  };

  it('says the simulated devices are not running when MQTT is off', async () => {
    const line = await banner(0);
    expect(line).toMatch(/Simulated devices: \d+ for \d+ patients, NOT running: they need an MQTT broker/);
  });

  it('counts them, running, when the embedded broker is on', async () => {
    const line = await banner(await freePort());
    expect(line).toMatch(/Simulated devices: \d+ for \d+ patients$/);
  });
});
