/**
 * The simulator against a real broker (Mosquitto on 127.0.0.1:1883), checked by a real subscriber
 * against the device protocol of interfaces.md §3. Skipped, loudly, when no broker is reachable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { createSimulator, type Simulator } from './simulator.ts';
import { makeVirtualPatients } from './virtual-patients.ts';
import { BY_KEY } from '../domain/codes.ts';
import type { DeviceKind, SimPatient } from './types.ts';

const HOST = '127.0.0.1';
const PORT = 1883;
const URL = `mqtt://${HOST}:${PORT}`;

const reachable = await new Promise<boolean>((resolve) => {
  const socket = net.connect({ host: HOST, port: PORT, timeout: 1000 });
  socket.once('connect', () => (socket.destroy(), resolve(true)));
  socket.once('error', () => resolve(false));
  socket.once('timeout', () => (socket.destroy(), resolve(false)));
});
if (!reachable) {
  console.warn(`\n*** SKIPPED simulator MQTT tests: no MQTT broker on ${URL} (start Mosquitto to run them) ***\n`);
}

interface Message {
  topic: string;
  body: Record<string, unknown>;
  retain: boolean;
}

/** A message is valid telemetry per §3: ts ISO/epoch-ms, integer seq, known keys with in-range numbers. */
function telemetryProblems(body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { ts, seq, command, ...values } = body;
  if (!(typeof ts === 'number' || (typeof ts === 'string' && !Number.isNaN(Date.parse(ts))))) problems.push(`bad ts ${String(ts)}`);
  if (!Number.isInteger(seq)) problems.push('bad seq');
  if (command !== undefined && typeof command !== 'string') problems.push('bad command');
  if (Object.keys(values).length === 0) problems.push('no readings');
  for (const [key, value] of Object.entries(values)) {
    const info = BY_KEY.get(key);
    if (!info) problems.push(`unknown key ${key}`);
    else if (typeof value !== 'number' || value < info.min || value > info.max) problems.push(`${key}=${String(value)} out of range`);
  }
  return problems;
}

describe.skipIf(!reachable)('simulator over MQTT (Mosquitto)', () => {
  const run = randomBytes(4).toString('hex');
  const id = (kind: DeviceKind): string => `simtest-${run}-${kind}`;
  const kinds: DeviceKind[] = ['vitals', 'ecg', 'cgm', 'bp'];
  const vp = makeVirtualPatients(3, 4)[2]!; // the AF-prone patient
  const patient: SimPatient = {
    patientId: `pat-${run}`,
    name: vp.name,
    profile: vp.profile,
    devices: kinds.map((kind) => ({ deviceId: id(kind), secret: 'not-checked-by-mosquitto', kind })),
    scenario: { kind: 'af-episode', startAfterMs: 0 },
  };
  const messages: Message[] = [];
  let sub: MqttClient;
  let sim: Simulator;

  const waitFor = async (pred: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('timed out waiting for a message');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    sub = await mqtt.connectAsync(URL, { clientId: `simtest-sub-${run}` });
    sub.on('message', (topic, payload, packet) => {
      if (topic.includes(run) && payload.length > 0)
        messages.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown>, retain: packet.retain });
    });
    await sub.subscribeAsync('vigil/v1/devices/#', { qos: 1 });
    sim = createSimulator({ mqttUrl: URL, patients: [patient], speed: 10, backfillDays: 0.1, backfillRatePerSecond: 500 });
    await sim.start();
    await new Promise((r) => setTimeout(r, 2000)); // 20 s of simulated time
  });

  afterAll(async () => {
    await sim?.stop();
    // Clear the retained status messages this run left behind.
    for (const kind of kinds) await sub?.publishAsync(`vigil/v1/devices/${id(kind)}/status`, '', { retain: true });
    await sub?.endAsync();
  });

  it('announces each device online with its battery on the status topic (retained)', () => {
    for (const kind of kinds) {
      const status = messages.find((m) => m.topic === `vigil/v1/devices/${id(kind)}/status`);
      expect(status?.body.online, kind).toBe(true);
      expect(status?.body.battery).toBeGreaterThanOrEqual(0);
      expect(status?.body.battery).toBeLessThanOrEqual(100);
    }
  });

  it('publishes valid flat-form telemetry with increasing seq', () => {
    const vitals = messages.filter((m) => m.topic === `vigil/v1/devices/${id('vitals')}/telemetry`);
    expect(vitals.length).toBeGreaterThanOrEqual(3); // every 5 simulated s
    for (const m of vitals) {
      expect(telemetryProblems(m.body)).toEqual([]);
      expect(Object.keys(m.body).sort()).toEqual(['hr', 'rr', 'seq', 'spo2', 'temp', 'ts']);
    }
    const seqs = vitals.map((m) => m.body.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const bp = messages.filter((m) => m.topic === `vigil/v1/devices/${id('bp')}/telemetry`);
    expect(bp.length).toBeGreaterThanOrEqual(1);
    for (const m of bp) expect(telemetryProblems(m.body)).toEqual([]);
  });

  it('publishes 1 s ECG chunks at 250 Hz in µV', () => {
    const ecg = messages.filter((m) => m.topic === `vigil/v1/devices/${id('ecg')}/ecg`);
    expect(ecg.length).toBeGreaterThanOrEqual(10);
    for (const m of ecg) {
      expect(m.body).toMatchObject({ fs: 250, lead: 'II', unit: 'uV' });
      expect(Number.isInteger(m.body.seq)).toBe(true);
      expect(typeof m.body.ts === 'number' || typeof m.body.ts === 'string').toBe(true);
      const samples = m.body.samples as number[];
      expect(samples).toHaveLength(250);
      expect(samples.every(Number.isInteger)).toBe(true);
      expect(Math.max(...samples)).toBeLessThan(3000);
    }
  });

  it('backfills CGM history with past timestamps, then continues live', () => {
    const cgm = messages.filter((m) => m.topic === `vigil/v1/devices/${id('cgm')}/telemetry`);
    expect(cgm.length).toBeGreaterThanOrEqual(28); // 0.1 day at 5 min
    for (const m of cgm) expect(telemetryProblems(m.body)).toEqual([]);
    const times = cgm.map((m) => Date.parse(m.body.ts as string));
    expect(Math.min(...times)).toBeLessThan(Date.now() - 2 * 3600_000);
  });

  it('answers MEASURE with tagged telemetry and a done result; unknown commands fail', async () => {
    const device = id('vitals');
    const measureId = `cmd-${run}-1`;
    await sub.publishAsync(`vigil/v1/devices/${device}/commands`, JSON.stringify({ id: measureId, name: 'MEASURE', args: {} }), { qos: 1 });
    const tagged = await waitFor((m) => m.topic.endsWith(`${device}/telemetry`) && m.body.command === measureId);
    expect(telemetryProblems(tagged.body)).toEqual([]);
    const result = await waitFor((m) => m.topic === `vigil/v1/devices/${device}/commands/${measureId}/result`);
    expect(result.body.status).toBe('done');
    expect(typeof result.body.message).toBe('string');

    const unknownId = `cmd-${run}-2`;
    await sub.publishAsync(`vigil/v1/devices/${device}/commands`, JSON.stringify({ id: unknownId, name: 'SELF_DESTRUCT', args: {} }), { qos: 1 });
    const failed = await waitFor((m) => m.topic.endsWith(`/commands/${unknownId}/result`));
    expect(failed.body).toMatchObject({ status: 'failed' });

    const badInterval = `cmd-${run}-3`;
    await sub.publishAsync(`vigil/v1/devices/${device}/commands`, JSON.stringify({ id: badInterval, name: 'SET_INTERVAL', args: { seconds: -1 } }), { qos: 1 });
    expect((await waitFor((m) => m.topic.endsWith(`/commands/${badInterval}/result`))).body.status).toBe('failed');
  });

  it('SET_INTERVAL changes the reporting interval', async () => {
    const device = id('bp'); // 120 s by default: ~1 reading in the first 20 simulated s
    const cmd = `cmd-${run}-4`;
    await sub.publishAsync(`vigil/v1/devices/${device}/commands`, JSON.stringify({ id: cmd, name: 'SET_INTERVAL', args: { seconds: 2 } }), { qos: 1 });
    const done = await waitFor((m) => m.topic.endsWith(`/commands/${cmd}/result`));
    expect(done.body.status).toBe('done');
    const at = messages.indexOf(done);
    await new Promise((r) => setTimeout(r, 1000)); // 10 simulated s → ~5 readings
    const after = messages.slice(at).filter((m) => m.topic === `vigil/v1/devices/${device}/telemetry`);
    expect(after.length).toBeGreaterThanOrEqual(3);
  });

  it('reports offline on stop', async () => {
    await sim.stop();
    const offline = await waitFor((m) => m.topic === `vigil/v1/devices/${id('vitals')}/status` && m.body.online === false);
    expect(offline.body).toEqual({ online: false });
  });
});
