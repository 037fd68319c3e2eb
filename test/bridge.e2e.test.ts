/**
 * The serial bridge for real: a socat virtual serial pair, a fake bedside thermometer on the far end,
 * the bridge in between, and the real Vigil (PGlite + embedded aedes) reached over MQTT through a TCP
 * link the test can cut. Covers MEASURE from Vigil, a pulled cable, and Vigil being unreachable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootApp, type TestApp } from './support/app.ts';
import { cleanUp, cuttableLink, fakeThermometer, virtualSerialPair, waitFor } from './bridge-fixtures.ts';
import { openDurableQueue, type DurableQueue } from '../src/bridge/durable-queue.ts';
import { connectMqttUplink } from '../src/bridge/mqtt-uplink.ts';
import { httpUplink } from '../src/bridge/http-uplink.ts';
import { compileParser, DEFAULT_PARSER } from '../src/bridge/parser-spec.ts';
import { startSerialBridge } from '../src/bridge/serial-bridge.ts';

interface Command {
  name: string;
  status: string;
  message: string | null;
  readings: Array<{ code: string; value: number }>;
}

describe('serial bridge end to end (socat pty pair, fake thermometer, real Vigil)', () => {
  let app: TestApp;
  let clinician: string;
  let patientId: string;
  let device: { id: string; secret: string };
  let cable: Awaited<ReturnType<typeof virtualSerialPair>>;
  let thermometer: Awaited<ReturnType<typeof fakeThermometer>>;
  let link: Awaited<ReturnType<typeof cuttableLink>>;
  let queueDir: string;
  let queue: DurableQueue;
  let uplink: ReturnType<typeof connectMqttUplink>;
  let bridge: ReturnType<typeof startSerialBridge>;
  const statusLines: string[] = [];
  const status = (line: string) => {
    statusLines.push(line);
    if (process.env.VIGIL_TEST_LOG) console.error('bridge:', line);
  };

  const temperatures = async () =>
    (await app.api<{ total: number }>(clinician, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=8310-5&_summary=count`)).body.total;
  const measureNow = async () => {
    const res = await app.api<{ id: string }>(clinician, 'POST', `/api/v1/devices/${device.id}/commands`, { name: 'MEASURE', args: {} });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const finished = async (id: string) => {
    let body: Command = { name: '', status: 'queued', message: null, readings: [] };
    await waitFor(
      async () => {
        body = (await app.api<Command>(clinician, 'GET', `/api/v1/commands/${id}`)).body;
        return ['done', 'failed', 'expired'].includes(body.status) && (body.status !== 'done' || body.name !== 'MEASURE' || body.readings.length > 0);
      },
      15_000,
      `command ${id} to finish`,
    );
    return body;
  };

  beforeAll(async () => {
    app = await bootApp();
    const c = await app.tokenFor('clinician');
    clinician = c.token;
    patientId = (await app.services.patientService.create({ name: 'Florence Nightingale', birthDate: '1920-05-12' }, 'system')).id;
    await app.services.patientService.assignClinician(patientId, c.practitionerId!, 'system');
    device = (await app.api<{ id: string; secret: string }>(clinician, 'POST', '/api/v1/devices', { patientId, type: 'bedside' })).body;

    cable = await virtualSerialPair('bridge-e2e');
    thermometer = await fakeThermometer(cable.deviceEnd);
    link = await cuttableLink(app.mqttPort!);
    queueDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bridge-e2e-queue-'));
    queue = await openDurableQueue(queueDir);
    uplink = connectMqttUplink({ url: link.url, deviceId: device.id, secret: device.secret, status });
    bridge = startSerialBridge({
      serialPath: cable.bridgeEnd,
      baudRate: 9600,
      parser: compileParser(DEFAULT_PARSER),
      queue,
      uplink,
      commands: uplink,
      status,
      measureTimeoutMs: 3000,
    });
    await waitFor(() => statusLines.some((l) => l.includes('open at 9600')) && uplink.ready(), 10_000, 'bridge ready');
    // The bridge's status message marks the device online in Vigil.
    await waitFor(async () => (await app.api<{ online: boolean }>(clinician, 'GET', `/api/v1/devices/${device.id}`)).body.online, 5000, 'device online');
  });

  afterAll(() =>
    cleanUp(
      () => bridge?.stop(),
      () => uplink?.close(),
      () => queue?.close(),
      () => thermometer?.close(),
      () => cable?.unplug(),
      () => link?.close(),
      () => app?.stop(),
      () => queueDir && rm(queueDir, { recursive: true, force: true }),
    ),
  );

  it('MEASURE pressed in Vigil reaches the device through the bridge and comes back as a linked reading', async () => {
    const id = await measureNow();
    const cmd = await finished(id);
    expect(cmd.status).toBe('done');
    expect(cmd.readings).toEqual([expect.objectContaining({ code: '8310-5', value: 36.8 })]);
    expect(thermometer.received).toContain('MEASURE');
    expect(await temperatures()).toBe(1); // and it is an Observation like any other
  });

  it('survives a pulled cable: fails MEASURE while unplugged, works again once plugged back', async () => {
    await thermometer.close();
    await cable.unplug();
    await waitFor(() => statusLines.some((l) => l.includes('lost')), 5000, 'bridge to notice the pulled cable');
    const whileUnplugged = await finished(await measureNow());
    expect(whileUnplugged.status).toBe('failed');
    expect(whileUnplugged.message).toMatch(/not connected/);

    const opened = statusLines.filter((l) => l.includes('open at 9600')).length;
    await cable.plug();
    thermometer = await fakeThermometer(cable.deviceEnd);
    await waitFor(() => statusLines.filter((l) => l.includes('open at 9600')).length > opened, 10_000, 'bridge to reopen the port');
    const after = await finished(await measureNow());
    expect(after.status).toBe('done');
    expect(after.readings[0]).toMatchObject({ value: 36.8 });
  });

  it('keeps readings taken while Vigil is unreachable and delivers each exactly once when it is back', async () => {
    const before = await temperatures();
    link.cut();
    await waitFor(() => !uplink.ready(), 5000, 'uplink to notice the cut');
    for (let i = 0; i < 3; i++) expect((await bridge.measure()).status).toBe('done');
    expect(bridge.pending()).toBe(3);
    await new Promise((r) => setTimeout(r, 300));
    expect(await temperatures()).toBe(before); // nothing got through

    link.restore();
    await waitFor(() => bridge.pending() === 0, 15_000, 'queue to drain');
    await waitFor(async () => (await temperatures()) === before + 3, 5000, 'three readings in Vigil');
    await new Promise((r) => setTimeout(r, 500)); // a (wrong) duplicate would land by now
    expect(await temperatures()).toBe(before + 3);
    expect(statusLines.some((l) => /unreachable|lost the connection/.test(l))).toBe(true);
    expect(statusLines.some((l) => /delivered \d+ queued/.test(l))).toBe(true);
  });

  it('relays SET_INTERVAL (periodic measurements), IDENTIFY (a line to the device) and SYNC_TIME', async () => {
    const send = async (name: string, args: Record<string, unknown> = {}) =>
      finished((await app.api<{ id: string }>(clinician, 'POST', `/api/v1/devices/${device.id}/commands`, { name, args })).body.id);
    const before = await temperatures();
    expect(await send('SET_INTERVAL', { seconds: 1 })).toMatchObject({ status: 'done', message: 'measuring every 1 s' });
    await waitFor(async () => (await temperatures()) >= before + 2, 10_000, 'periodic readings');
    expect((await send('SET_INTERVAL', { seconds: 86_400 })).status).toBe('done');

    const identify = await send('IDENTIFY');
    expect(identify.status).toBe('done');
    await waitFor(() => thermometer.received.includes('IDENTIFY'), 3000, 'IDENTIFY on the serial line');
    expect((await send('SYNC_TIME')).message).toMatch(/bridge clock/);
  });

  it('over HTTP, a re-sent message (same seq, e.g. after a crash before the cursor was written) is stored once', async () => {
    const before = await temperatures();
    const http = httpUplink({ baseUrl: app.httpUrl, deviceId: device.id, secret: device.secret, status });
    const msg = { seq: 1, ts: new Date().toISOString(), readings: [{ code: '8310-5', value: 37.2, unit: 'C' }] };
    expect(await http.send(msg)).toBe('delivered');
    expect(await http.send(msg)).toBe('delivered');
    await http.close();
    expect(await temperatures()).toBe(before + 1);
    const wrongSecret = httpUplink({ baseUrl: app.httpUrl, deviceId: device.id, secret: 'nope', status });
    await expect(wrongSecret.send(msg)).rejects.toThrow(/VIGIL_DEVICE_SECRET/); // kept queued, not dropped
    await wrongSecret.close();
  });

  it('runs as `vigil bridge serial` with the secret from VIGIL_DEVICE_SECRET, status on stderr', async () => {
    const second = (await app.api<{ id: string; secret: string }>(clinician, 'POST', '/api/v1/devices', { patientId, type: 'bedside' })).body;
    const pair = await virtualSerialPair('bridge-cli');
    const thermo = await fakeThermometer(pair.deviceEnd, () => 'BP 128/82 HR 71');
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bridge-cli-'));
    const cli = spawn(
      process.execPath,
      ['bin/vigil.js', 'bridge', 'serial', '--path', pair.bridgeEnd, '--baud', '9600', '--device', second.id, '--mqtt', `mqtt://127.0.0.1:${app.mqttPort}`],
      {
        env: { ...process.env, VIGIL_DEVICE_SECRET: second.secret, VIGIL_DATA_DIR: dataDir },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    let exitCode: number | null = null;
    cli.stderr!.on('data', (d) => (stderr += d));
    try {
      // Generous: the CLI loads every verb through tsx, which is slow on a busy 2-core machine.
      await waitFor(() => stderr.includes('open at 9600') && stderr.includes('connected to Vigil'), 90_000, 'the CLI bridge to start');
      await waitFor(async () => (await app.api<{ online: boolean }>(clinician, 'GET', `/api/v1/devices/${second.id}`)).body.online, 5000, 'device online');
      const res = await app.api<{ id: string }>(clinician, 'POST', `/api/v1/devices/${second.id}/commands`, { name: 'MEASURE' });
      const cmd = await finished(res.body.id);
      expect(cmd.status).toBe('done');
      expect(cmd.readings.map((r) => [r.code, r.value]).sort()).toEqual([
        ['8462-4', 82],
        ['8480-6', 128],
        ['8867-4', 71],
      ]);
      expect(stderr).toMatch(/bridge: command MEASURE \(cmd_\w+\) done: sys 128/);
      expect(stderr).not.toContain(second.secret);
    } finally {
      const exited = new Promise<number | null>((r) => (cli.exitCode !== null ? r(cli.exitCode) : cli.once('exit', r)));
      cli.kill('SIGTERM');
      exitCode = await exited;
      await cleanUp(
        () => thermo.close(),
        () => pair.unplug(),
        () => rm(dataDir, { recursive: true, force: true }),
      );
    }
    expect(exitCode).toBe(0); // a clean stop on SIGTERM
  }, 150_000);
});
