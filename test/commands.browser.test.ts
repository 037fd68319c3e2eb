/**
 * The demo, in a real browser: a clinician presses "Measure now" on the patient page and the
 * answer comes back — from a simulated device, and from a thermometer on a virtual serial port behind
 * `bridge/`. Screenshots go to artifacts/ for people to look at.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { skipNote } from './support/services.ts';
import { ARTIFACTS, hasChromium, launchChromium } from './support/browser.ts';
import { loadDemoClinic } from '../src/demo/seed.ts';
import { cleanUp, fakeThermometer, virtualSerialPair, waitFor } from './bridge-fixtures.ts';
import { openDurableQueue } from '../src/bridge/durable-queue.ts';
import { connectMqttUplink } from '../src/bridge/mqtt-uplink.ts';
import { compileParser, DEFAULT_PARSER } from '../src/bridge/parser-spec.ts';
import { startSerialBridge } from '../src/bridge/serial-bridge.ts';
import { silentStatus } from '../src/bridge/status-log.ts';

if (!hasChromium) skipNote('Chromium (Measure now in the browser)');

describe.skipIf(!hasChromium)('"Measure now" in the browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let dataDir: string;
  let patientId: string;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-measure-browser-'));
    server = await startServerProcess({ VIGIL_DATA_DIR: dataDir, VIGIL_DEMO: '1' });
    let demo = await loadDemoClinic(dataDir);
    for (let i = 0; i < 100 && !demo; i++) {
      await new Promise((r) => setTimeout(r, 200)); // the demo seed finishes just after the server answers
      demo = await loadDemoClinic(dataDir);
    }
    const nurse = demo!.logins.find((l) => l.email === 'nurse@vigil.demo')!;
    const thermometerPatient = demo!.patients.find((p) => p.devices.some((d) => d.kind === 'thermometer')) ?? demo!.patients[0];
    patientId = thermometerPatient.patientId;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    await page.goto(server.url);
    await page.getByLabel(/email/i).fill(nurse.email);
    await page.getByLabel(/password/i).fill(nurse.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForSelector('text=/\\d+ patients/', { timeout: 30_000 });
  });

  afterAll(() =>
    cleanUp(
      ...cleanups.reverse(),
      () => browser?.close(),
      () => server?.kill('SIGTERM'),
      () => dataDir && rm(dataDir, { recursive: true, force: true }),
    ),
  );

  const openPatient = async () => {
    await page.goto(`${server.url}/#/patients/${patientId}`);
    await page.reload(); // the same URL twice would not fetch the patient (and its devices) again
    await page.waitForSelector('.device-item', { timeout: 30_000 });
  };

  it('comes back from a simulated device', async () => {
    await openPatient();
    const item = page.locator('.device-item', { hasText: /online/i }).first();
    await item.getByRole('button', { name: 'Measure now' }).click();
    await expect.poll(() => item.innerText(), { timeout: 30_000, interval: 250 }).toMatch(/Done/);
    await page.locator('.device-list').screenshot({ path: path.join(ARTIFACTS, 'measure-now-simulator.png') });
  });

  it('comes back from a thermometer on a virtual serial port through the bridge', async () => {
    const res = await fetch(`${server.url}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ patientId, type: 'bedside', name: 'Bedside thermometer (serial)' }),
    });
    const device = (await res.json()) as { id: string; secret: string };
    const cable = await virtualSerialPair('measure-browser');
    cleanups.push(() => cable.unplug());
    const thermometer = await fakeThermometer(cable.deviceEnd);
    cleanups.push(() => thermometer.close());
    const queueDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-measure-browser-queue-'));
    cleanups.push(() => rm(queueDir, { recursive: true, force: true }));
    const queue = await openDurableQueue(queueDir);
    cleanups.push(() => queue.close());
    const uplink = connectMqttUplink({ url: `mqtt://127.0.0.1:${server.mqttPort}`, deviceId: device.id, secret: device.secret, status: silentStatus });
    cleanups.push(() => uplink.close());
    const bridge = startSerialBridge({
      serialPath: cable.bridgeEnd,
      baudRate: 9600,
      parser: compileParser(DEFAULT_PARSER),
      queue,
      uplink,
      commands: uplink,
      status: silentStatus,
    });
    cleanups.push(() => bridge.stop());
    await waitFor(() => uplink.ready(), 15_000, 'bridge connected');

    await openPatient();
    const item = page.locator('.device-item', { hasText: 'Bedside thermometer (serial)' });
    await expect.poll(() => item.innerText(), { timeout: 15_000 }).toMatch(/online/i);
    await item.getByRole('button', { name: 'Measure now' }).click();
    await expect.poll(() => item.innerText(), { timeout: 30_000, interval: 250 }).toMatch(/Done: 36\.8 °C/);
    expect(thermometer.received).toContain('MEASURE');
    await page.locator('.device-list').screenshot({ path: path.join(ARTIFACTS, 'measure-now-serial.png') });
  });
});
