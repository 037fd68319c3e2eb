/**
 * "Vigil's broker is down" for real: Vigil on an external Mosquitto, the bridge publishing to it, and the
 * Mosquitto process stopped and started again. Readings taken meanwhile wait in the bridge's queue and
 * reach Vigil exactly once afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootApp, type TestApp } from './support/app.ts';
import { freePort } from './support/ports.ts';
import { mosquittoAvailable, skipNote } from './support/services.ts';
import { cleanUp, fakeThermometer, restartableMosquitto, virtualSerialPair, waitFor } from './bridge-fixtures.ts';
import { openDurableQueue, type DurableQueue } from '../src/bridge/durable-queue.ts';
import { connectMqttUplink } from '../src/bridge/mqtt-uplink.ts';
import { compileParser, DEFAULT_PARSER } from '../src/bridge/parser-spec.ts';
import { startSerialBridge } from '../src/bridge/serial-bridge.ts';
import { silentStatus } from '../src/bridge/status-log.ts';

const hasMosquitto = mosquittoAvailable();
if (!hasMosquitto) skipNote('Mosquitto (serial bridge across a broker restart)');

describe.skipIf(!hasMosquitto)("serial bridge across a restart of Vigil's (external) broker", () => {
  let broker: Awaited<ReturnType<typeof restartableMosquitto>>;
  let app: TestApp;
  let token: string;
  let patientId: string;
  let cable: Awaited<ReturnType<typeof virtualSerialPair>>;
  let thermometer: Awaited<ReturnType<typeof fakeThermometer>>;
  let queueDir: string;
  let queue: DurableQueue;
  let uplink: ReturnType<typeof connectMqttUplink>;
  let bridge: ReturnType<typeof startSerialBridge>;

  const temperatures = async () =>
    (await app.api<{ total: number }>(token, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=8310-5&_summary=count`)).body.total;

  beforeAll(async () => {
    broker = await restartableMosquitto(await freePort());
    app = await bootApp({ mqttUrl: broker.url });
    token = (await app.tokenFor('admin')).token;
    patientId = (await app.services.patientService.create({ name: 'Mary Seacole', birthDate: '1935-11-23' }, 'system')).id;
    const device = (await app.api<{ id: string; secret: string }>(token, 'POST', '/api/v1/devices', { patientId, type: 'bedside' })).body;
    cable = await virtualSerialPair('bridge-restart');
    thermometer = await fakeThermometer(cable.deviceEnd);
    queueDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bridge-restart-queue-'));
    queue = await openDurableQueue(queueDir);
    uplink = connectMqttUplink({ url: broker.url, deviceId: device.id, secret: device.secret, status: silentStatus });
    bridge = startSerialBridge({
      serialPath: cable.bridgeEnd,
      baudRate: 9600,
      parser: compileParser(DEFAULT_PARSER),
      queue,
      uplink,
      commands: uplink,
      status: silentStatus,
    });
    await waitFor(() => uplink.ready(), 10_000, 'bridge connected');
  });

  afterAll(() =>
    cleanUp(
      () => bridge?.stop(),
      () => uplink?.close(),
      () => queue?.close(),
      () => thermometer?.close(),
      () => cable?.unplug(),
      () => app?.stop(),
      () => broker?.dispose(),
      () => queueDir && rm(queueDir, { recursive: true, force: true }),
    ),
  );

  it('queues readings while the broker is down and delivers each exactly once after it restarts', async () => {
    expect((await bridge.measure()).status).toBe('done');
    await waitFor(async () => (await temperatures()) === 1, 10_000, 'a first reading');
    await broker.stop();
    await waitFor(() => !uplink.ready(), 5000, 'the bridge to notice');
    for (let i = 0; i < 3; i++) expect((await bridge.measure()).status).toBe('done');
    expect(bridge.pending()).toBe(3);

    await broker.start();
    await waitFor(() => bridge.pending() === 0, 15_000, 'the queue to drain');
    await waitFor(async () => (await temperatures()) === 4, 10_000, 'all readings in Vigil');
    await new Promise((r) => setTimeout(r, 500));
    expect(await temperatures()).toBe(4);
  });
});
