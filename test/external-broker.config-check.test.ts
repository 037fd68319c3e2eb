/**
 * Issue 11 defect 8: at start with MQTT_URL, Vigil says when the external Mosquitto is set up to lose
 * readings it has already acknowledged to devices (queue limits, no persistence), from its configuration
 * file (VIGIL_MOSQUITTO_CONF), or, without it, that the broker is Mosquitto and unchecked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootApp } from './support/app.ts';
import { mosquittoAvailable, skipNote, startMosquitto } from './support/services.ts';

const enabled = mosquittoAvailable();
if (!enabled) skipNote('Mosquitto (external broker configuration check)');

describe.skipIf(!enabled)('external Mosquitto configuration check at start', () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let dir: string;
  beforeAll(async () => {
    broker = await startMosquitto();
    dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-mosqconf-'));
  });
  afterAll(async () => {
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('names the settings that lose acknowledged readings, from the broker configuration file', async () => {
    const conf = path.join(dir, 'mosquitto.conf');
    await writeFile(conf, 'listener 1883\nmax_queued_messages 1000\n');
    const app = await bootApp({ mqttUrl: broker.url, env: { VIGIL_MOSQUITTO_CONF: conf } });
    try {
      const warnings = (app.gateway as unknown as { configWarnings(): string[] }).configWarnings().join('\n');
      expect(warnings).toMatch(/max_queued_messages is 1000/);
      expect(warnings).toMatch(/persistence is off/);
    } finally {
      await app.stop();
    }
    await writeFile(conf, 'persistence true\nautosave_interval 5\nmax_queued_messages 0\nmax_queued_bytes 0\n');
    const ok = await bootApp({ mqttUrl: broker.url, env: { VIGIL_MOSQUITTO_CONF: conf } });
    try {
      expect((ok.gateway as unknown as { configWarnings(): string[] }).configWarnings()).toEqual([]);
    } finally {
      await ok.stop();
    }
  });

  it('without the file, recognises Mosquitto and says its configuration is unchecked', async () => {
    const app = await bootApp({ mqttUrl: broker.url });
    try {
      expect((app.gateway as unknown as { configWarnings(): string[] }).configWarnings().join('\n')).toMatch(
        /the broker is mosquitto version .*VIGIL_MOSQUITTO_CONF/i,
      );
    } finally {
      await app.stop();
    }
  });
});
