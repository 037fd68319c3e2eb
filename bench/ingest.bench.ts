/**
 * npm run bench:ingest [-- --json] [-- --seconds 10 --devices 40]
 *
 * Sustained readings/s from simulated devices over MQTT QoS 1 into the store, with publish→durable and
 * publish→dashboard latency, for the embedded setup (PGlite + aedes) and PostgreSQL + Mosquitto; beside it
 * the floor: the same messages relayed by Mosquitto alone to a plain subscriber. Then a paced run at
 * 5,000 readings/s for the dashboard-latency target.
 */
import { Worker } from 'node:worker_threads';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { bootApp, type TestApp } from '../test/support/app.ts';
import { createTestDatabase, postgresAvailable, startMosquitto } from '../test/support/services.ts';
import type { PublisherJob } from './support/publisher-worker.ts';
import { summarize, table } from './support/stats.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const JSON_OUT = args.includes('--json');
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : null; // floor | embedded | postgres
const PACED_ONLY = args.includes('--max-only') ? [0] : null;
const SECONDS = flag('seconds', 10);
const DEVICES = flag('devices', 40);
const INFLIGHT = flag('inflight', 64); // unacknowledged QoS 1 messages per device
const READINGS_PER_MESSAGE = 6;
const PACED_READINGS_PER_S = 5000;
const log = (s: string) => !JSON_OUT && process.stderr.write(s + '\n');

function runPublishers(job: PublisherJob): Promise<{ sent: number; acked: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('../src/platform/ts-worker.mjs', import.meta.url), { workerData: { ...job, entry: new URL('./support/publisher-worker.ts', import.meta.url).href } });
    w.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

interface Result {
  setup: string;
  mode: string;
  readingsPerSecond: number;
  durableP50: number | null;
  durableP99: number | null;
  dashboardP50: number;
  dashboardP99: number;
}

async function measureVigil(setup: string, app: TestApp, brokerUrl: string, messagesPerSecond: number): Promise<Result> {
  const admin = (await app.tokenFor('admin')).token;
  const patient = await app.services.patientService.create({ name: 'Bench Patient' }, 'system');
  const devices = [];
  for (let i = 0; i < DEVICES; i++) devices.push(await app.services.deviceService.provision({ patientId: patient.id, type: 'multi' }, 'system'));

  const durable: number[] = [];
  let stored = 0;
  let firstStored = 0;
  let lastStored = 0;
  const off = app.services.events.on('readings.stored', (rows) => {
    const now = Date.now();
    if (!firstStored) firstStored = now;
    lastStored = now;
    stored += rows.length;
    for (const r of rows) if (r.code === '8867-4') durable.push(now - r.ts);
  });
  const dashboard: number[] = [];
  const ws = new WebSocket(`${app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${admin}`);
  ws.on('message', (m) => {
    const now = Date.now();
    const msg = JSON.parse(m.toString()) as { type: string; readings?: Array<{ code: string; ts: string }> };
    if (msg.type === 'readings') for (const r of msg.readings!) if (r.code === '8867-4') dashboard.push(now - Date.parse(r.ts));
  });
  await new Promise((r) => ws.once('open', r));
  await new Promise((r) => setTimeout(r, 300));

  const t0 = Date.now();
  const pub = await runPublishers({ brokerUrl, devices: devices.map((d) => ({ id: d.id, secret: d.secret })), durationMs: SECONDS * 1000, messagesPerSecond, inflightPerDevice: INFLIGHT, seqStart: 1 });
  const expected = pub.acked * READINGS_PER_MESSAGE;
  const deadline = Date.now() + 60_000;
  while (stored < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const elapsed = (Math.max(lastStored, t0 + 1) - t0) / 1000;
  off();
  ws.close();
  const d = summarize(durable);
  const b = summarize(dashboard);
  if (stored < expected) log(`  ! ${setup}: stored ${stored} of ${expected} acknowledged readings within 60 s`);
  return {
    setup,
    mode: messagesPerSecond ? `paced ${PACED_READINGS_PER_S}/s` : 'max',
    readingsPerSecond: Math.round(stored / elapsed),
    durableP50: d.p50,
    durableP99: d.p99,
    dashboardP50: b.p50,
    dashboardP99: b.p99,
  };
}

async function measureFloor(brokerUrl: string, messagesPerSecond: number): Promise<Result> {
  const sub = await mqtt.connectAsync(brokerUrl, { clientId: 'floor-sub', protocolVersion: 5, properties: { receiveMaximum: 65535 } });
  await sub.subscribeAsync('vigil/v1/devices/+/telemetry', { qos: 1 });
  const lat: number[] = [];
  let received = 0;
  let last = 0;
  sub.on('message', (_t, payload) => {
    const now = Date.now();
    received++;
    last = now;
    lat.push(now - (JSON.parse(payload.toString()) as { ts: number }).ts);
  });
  const devices = Array.from({ length: DEVICES }, (_, i) => ({ id: `floor-${i}`, secret: 'x' }));
  const t0 = Date.now();
  const pub = await runPublishers({ brokerUrl, devices, durationMs: SECONDS * 1000, messagesPerSecond, inflightPerDevice: INFLIGHT, seqStart: 1 });
  const deadline = Date.now() + 30_000;
  while (received < pub.acked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await sub.endAsync();
  const s = summarize(lat);
  return {
    setup: 'floor: Mosquitto → plain subscriber',
    mode: messagesPerSecond ? `paced ${PACED_READINGS_PER_S}/s` : 'max',
    readingsPerSecond: Math.round((received * READINGS_PER_MESSAGE) / ((last - t0) / 1000)),
    durableP50: null,
    durableP99: null,
    dashboardP50: s.p50,
    dashboardP99: s.p99,
  };
}

async function main() {
  const results: Result[] = [];
  const paced = PACED_READINGS_PER_S / READINGS_PER_MESSAGE;
  const rates = PACED_ONLY ?? [0, paced];
  const mosq = await startMosquitto();
  try {
    for (const rate of ONLY && ONLY !== 'floor' ? [0] : rates) {
      log(`floor (${rate ? 'paced' : 'max'})…`);
      results.push(await measureFloor(mosq.url, rate));
    }
  } finally {
    await mosq.stop();
  }

  for (const rate of ONLY && ONLY !== 'embedded' ? [] : rates) {
    log(`embedded PGlite + aedes (${rate ? 'paced' : 'max'})…`);
    const app = await bootApp();
    try {
      results.push(await measureVigil('Vigil: PGlite + aedes (embedded)', app, `mqtt://127.0.0.1:${app.mqttPort}`, rate));
    } finally {
      await app.stop();
    }
  }

  if (await postgresAvailable()) {
    for (const rate of ONLY && ONLY !== 'postgres' ? [] : rates) {
      log(`PostgreSQL + Mosquitto (${rate ? 'paced' : 'max'})…`);
      const db = await createTestDatabase();
      const broker = await startMosquitto();
      const app = await bootApp({ databaseUrl: db.url, mqttUrl: broker.url });
      try {
        results.push(await measureVigil('Vigil: PostgreSQL + Mosquitto', app, broker.url, rate));
      } finally {
        await app.stop();
        await broker.stop();
        await db.drop();
      }
    }
  } else log('PostgreSQL not reachable: skipping that setup');

  const floorMax = results.find((r) => r.setup.startsWith('floor') && r.mode === 'max')!.readingsPerSecond;
  if (JSON_OUT) {
    process.stdout.write(JSON.stringify({ devices: DEVICES, seconds: SECONDS, readingsPerMessage: READINGS_PER_MESSAGE, results: results.map((r) => ({ ...r, ratioToFloor: r.readingsPerSecond / floorMax })) }) + '\n');
  } else {
    process.stdout.write(`\nIngest benchmark: ${DEVICES} devices, MQTT QoS 1, ${READINGS_PER_MESSAGE} readings per message, ${SECONDS} s per run\n\n`);
    process.stdout.write(
      table(results.map((r) => ({
        setup: r.setup,
        mode: r.mode,
        'readings/s': r.readingsPerSecond,
        '× floor': r.mode === 'max' ? (r.readingsPerSecond / floorMax).toFixed(2) : '',
        'durable p50 ms': r.durableP50 ?? '–',
        'durable p99 ms': r.durableP99 ?? '–',
        'dashboard p50 ms': r.dashboardP50,
        'dashboard p99 ms': r.dashboardP99,
      }))) + '\n',
    );
  }
  process.exit(0);
}

await main();
