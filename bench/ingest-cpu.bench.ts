/**
 * npx tsx bench/ingest-cpu.bench.ts [-- --messages 20000 --runs 5 --devices 40 --patients 20]
 *
 * Vigil's own CPU per stored reading on the write path, in one process, without MQTT: telemetry messages (six
 * readings each, as bench:ingest's load generator sends them) go straight into `acceptTelemetry` of a real
 * app on a fresh PostgreSQL database, with a dashboard WebSocket open, as many at once as the broker would
 * hand over (2,000 unacknowledged). `process.cpuUsage()` over each run, divided by the readings stored
 * (the least of the runs is printed: CPU time holds on a busy machine, wall time does not). The PostgreSQL
 * server's own CPU is not counted here; bench:ingest measures every process.
 */
import inspector from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { bootApp } from '../test/support/app.ts';
import { createTestDatabase } from '../test/support/services.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const MESSAGES = flag('messages', 20_000);
const RUNS = flag('runs', 5);
const DEVICES = flag('devices', 40);
const PATIENTS = flag('patients', Math.ceil(DEVICES / 2));
const PROFILE = args.includes('--cpu-prof') ? args[args.indexOf('--cpu-prof') + 1] : null; // a .cpuprofile of the measured runs
const IN_FLIGHT = 2_000; // the external broker's receive maximum × its four consumers (ingest/broker/external-broker.ts)

const db = await createTestDatabase();
// Not strict: a deployment does not check each live message against its contract (tests do).
const app = await bootApp({ databaseUrl: db.url, env: { VIGIL_STRICT_RESPONSES: '0' } });
try {
  const s = app.services;
  const patients = [];
  for (let i = 0; i < PATIENTS; i++) patients.push(await s.patientService.create({ name: `CPU Patient ${i + 1}` }, 'system'));
  const devices: Array<{ id: string }> = [];
  for (let i = 0; i < DEVICES; i++) devices.push(await s.deviceService.provision({ patientId: patients[i % PATIENTS].id, type: 'multi' }, 'system'));
  const admin = (await app.tokenFor('admin')).token;
  const ws = new WebSocket(`${app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${admin}`);
  let frames = 0;
  ws.on('message', (m) => {
    frames++;
    JSON.parse(m.toString()); // every frame must be JSON (the readings are written as text)
  });
  await new Promise((r) => ws.once('open', r));

  let seq = 0;
  const payload = (n: number) => Buffer.from(JSON.stringify({ ts: Date.now(), seq: n, hr: 72, spo2: 97, rr: 15, temp: 36.8, sbp: 121, dbp: 79 }));
  async function run(): Promise<number> {
    let stored = 0;
    let next = 0;
    const worker = async () => {
      while (next < MESSAGES) {
        const i = next++;
        const r = await s.ingest.acceptTelemetry(devices[i % DEVICES].id, payload(++seq));
        if (r.ok) stored += r.stored;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await s.ingest.drain();
    return stored;
  }
  await run(); // warm-up: JIT, caches
  const perReading: number[] = [];
  const session = PROFILE ? new inspector.Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  for (let k = 0; k < RUNS; k++) {
    const before = process.cpuUsage();
    const stored = await run();
    const used = process.cpuUsage(before);
    perReading.push((used.user + used.system) / stored);
    process.stderr.write(`run ${k + 1}: ${stored} readings, ${perReading.at(-1)!.toFixed(2)} µs CPU each\n`);
  }
  if (session) writeFileSync(PROFILE!, JSON.stringify((await session.post('Profiler.stop')).profile));
  ws.close();
  console.log(
    JSON.stringify({
      leastMicrosPerReading: Number(Math.min(...perReading).toFixed(2)),
      runs: perReading.map((x) => Number(x.toFixed(2))),
      dashboardFrames: frames,
    }),
  );
} finally {
  await app.stop();
  await db.drop();
}
