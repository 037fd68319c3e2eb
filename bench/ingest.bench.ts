/**
 * npm run bench:ingest [-- --json] [-- --seconds 10 --devices 40 --patients 20]
 *
 * Sustained STORED readings/s (counted from commits, not broker acknowledgements) from simulated devices
 * over MQTT QoS 1, with publish→durable and publish→dashboard latency, for the embedded setup (PGlite +
 * aedes), PostgreSQL + Mosquitto with one instance and with two (the second instance's dashboard sees the
 * first's readings through the relay); beside them, measured in the same run, the floors: the same
 * messages relayed by Mosquitto alone to a plain subscriber, and the databases' own bulk insert of the
 * same rows (PGlite `COPY`, PostgreSQL `COPY … FROM STDIN` through node-postgres). Then a paced run at
 * 5,000 readings/s for the dashboard-latency target. The load average is printed with the table.
 * With `nats-server` installed, the same with the clustered broker (issue 11): a three-node NATS cluster
 * (JetStream stream replicated three times, MQTT gateway on every node; devices spread over the nodes), one and
 * two Vigil instances, beside the cluster's own relay (a plain JetStream consumer that acknowledges each
 * message). `--broker mosquitto|nats|all` picks the PostgreSQL cases' broker (default mosquitto).
 *
 * On PostgreSQL each instance is its own `vigil start` process and the CPU each process used is reported
 * (CPU per stored reading holds on a busy machine, readings/s does not). `--instances 1|2` runs one case;
 * `--cpu-prof DIR` writes the Vigil processes' CPU profiles; VIGIL_BENCH_NODE_OPTIONS is passed to them.
 *
 * `--instance-cpu CORES` caps each PostgreSQL case's Vigil process at CORES cores (a Linux cgroup, as a container's
 * CPU limit; needs root): scale-out measured where the instance is the limit. Unlimited on this 2-core machine, one
 * instance already keeps both cores busy with PostgreSQL, the broker and the load generator, so a second has no core
 * to add (docs/scaling.md).
 */
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import pg from 'pg';
import { openPgliteWorker } from '../src/platform/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { Worker } from 'node:worker_threads';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { bootApp, type TestApp } from '../test/support/app.ts';
import { createTestDatabase, postgresAvailable, startMosquitto } from '../test/support/services.ts';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.ts';
import { natsAvailable, startNatsCluster, type NatsCluster } from '../test/support/nats-cluster.ts';
import { cpuMeter, postgresPids } from './support/cpu.ts';
import { limitCpu } from './support/cpu-limit.ts';
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
// A clinic's devices belong to many patients (here two devices each): alert rules, NEWS2 and ECG are owned per
// patient, so with one patient every reading's monitoring would fall on one instance whatever the count.
const PATIENTS = Math.max(1, Math.min(DEVICES, flag('patients', Math.ceil(DEVICES / 2))));
const INFLIGHT = flag('inflight', 64); // unacknowledged QoS 1 messages per device
const READINGS_PER_MESSAGE = 6;
const PACED_READINGS_PER_S = 5000;
const FLOOR_ROWS = flag('floor-rows', 240_000);
const INSTANCES = args.includes('--instances') ? [flag('instances', 1)] : [1, 2]; // PostgreSQL runs
/** `--instance-cpu CORES`: each PostgreSQL case's Vigil process limited to this many cores (0: unlimited). */
const INSTANCE_CPU = flag('instance-cpu', 0);
const LIMIT_LABEL = INSTANCE_CPU > 0 ? `, each limited to ${INSTANCE_CPU} core` : '';
type Broker = 'mosquitto' | 'nats';
// The NATS cluster cases are asked for (`--broker nats`, or `all`): three nodes and their start take minutes more
// than the default run should (they did not finish before 5 Dec: a device connection closed before its CONNACK
// left the load generator waiting for ever, see publisher-worker.ts).
const brokerArg = args.includes('--broker') ? args[args.indexOf('--broker') + 1] : 'mosquitto';
const BROKERS: Broker[] = brokerArg === 'all' ? ['mosquitto', 'nats'] : [brokerArg as Broker];
const log = (s: string) => !JSON_OUT && process.stderr.write(s + '\n');
/** `--cpu-prof DIR`: the Vigil processes write V8 CPU profiles there (where a PostgreSQL instance's time goes). */
const CPU_PROF = args.includes('--cpu-prof') ? path.resolve(args[args.indexOf('--cpu-prof') + 1]) : null;
/** Where the machine's CPU went in each PostgreSQL run (Vigil, Mosquitto, PostgreSQL, this process). */
const cpuReports: Array<{ setup: string; stored: number; wallS: number; groups: Record<string, { cpuS: number; shareOfMachine: number }> }> = [];

type Published = { sent: number; acked: number; retries: number; dropped: number };
function runPublishers(job: PublisherJob): Promise<Published> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('../src/platform/ts-worker.mjs', import.meta.url), {
      workerData: { ...job, entry: new URL('./support/publisher-worker.ts', import.meta.url).href },
    });
    w.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
    // A thread whose event loop empties while it awaits something that never comes ends without a result: say so
    // instead of waiting for ever (after a result, this reject does nothing).
    w.once('exit', (code) => reject(new Error(`the load generator thread for ${job.brokerUrl} ended (code ${code}) without a result`)));
  });
}

/** Devices spread round-robin over the brokers' URLs (the cluster's nodes), one load-generator thread per URL. */
async function runPublishersOn(brokerUrls: string[], job: Omit<PublisherJob, 'brokerUrl'>): Promise<Published> {
  const parts = await Promise.all(
    brokerUrls.map((brokerUrl, i) =>
      runPublishers({
        ...job,
        brokerUrl,
        devices: job.devices.filter((_, k) => k % brokerUrls.length === i),
        messagesPerSecond: job.messagesPerSecond / brokerUrls.length,
      }),
    ),
  );
  const sum = (k: keyof Published) => parts.reduce((a, p) => a + p[k], 0);
  const total = { sent: sum('sent'), acked: sum('acked'), retries: sum('retries'), dropped: sum('dropped') };
  if (total.retries || total.dropped) log(`  ! devices: ${total.retries} connection(s) tried again, ${total.dropped} closed by the broker during the run`);
  return total;
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

async function measureVigil(setup: string, apps: TestApp[], brokerUrl: string, messagesPerSecond: number): Promise<Result> {
  const app = apps[0];
  const admin = (await app.tokenFor('admin')).token;
  const patients = [];
  for (let i = 0; i < PATIENTS; i++) patients.push(await app.services.patientService.create({ name: `Bench Patient ${i + 1}` }, 'system'));
  const devices = [];
  for (let i = 0; i < DEVICES; i++) devices.push(await app.services.deviceService.provision({ patientId: patients[i % PATIENTS].id, type: 'multi' }, 'system'));

  const durable: number[] = [];
  let stored = 0;
  let firstStored = 0;
  let lastStored = 0;
  // Each instance counts what it committed itself (relayed copies of the other's are not counted twice).
  const offs = apps.map((a) =>
    a.services.events.on('readings.stored', (rows) => {
      if (a.services.relay.isRemote(rows)) return;
      const now = Date.now();
      if (!firstStored) firstStored = now;
      lastStored = now;
      stored += rows.length;
      for (const r of rows) if (r.code === '8867-4') durable.push(now - r.ts);
    }),
  );
  const off = () => offs.forEach((o) => o());
  const dashboard: number[] = [];
  // The dashboard is on the last instance: with two, most of what it shows was ingested by the other.
  const ws = new WebSocket(`${apps[apps.length - 1].httpUrl.replace('http', 'ws')}/api/v1/stream?token=${admin}`);
  ws.on('message', (m) => {
    const now = Date.now();
    const msg = JSON.parse(m.toString()) as { type: string; readings?: Array<{ code: string; ts: string }> };
    if (msg.type === 'readings') for (const r of msg.readings!) if (r.code === '8867-4') dashboard.push(now - Date.parse(r.ts));
  });
  await opened(ws);
  await new Promise((r) => setTimeout(r, 300));

  const t0 = Date.now();
  const pub = await runPublishers({
    brokerUrl,
    devices: devices.map((d) => ({ id: d.id, secret: d.secret })),
    durationMs: SECONDS * 1000,
    messagesPerSecond,
    inflightPerDevice: INFLIGHT,
    seqStart: 1,
  });
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

/**
 * The cluster's own relay: the same devices publish to the three nodes' MQTT gateways into a stream configured
 * as Vigil's (file storage, three replicas, work queue), and one plain JetStream consumer acknowledges each
 * message as it arrives (what Vigil does after its commit).
 */
async function measureNatsFloor(): Promise<Result> {
  const { AckPolicy, RetentionPolicy, StorageType, connect } = await import('nats');
  const cluster = await startNatsCluster(3);
  const nc = await connect({ servers: cluster.url.split(',') });
  try {
    const jsm = await nc.jetstreamManager({ checkAPI: false }); // no API probe: a new cluster times it out (asked below)
    for (
      let i = 0;
      !(await jsm.getAccountInfo().then(
        () => true,
        () => false,
      ));
      i++
    ) {
      if (i > 60) throw new Error('the NATS cluster has no JetStream leader after 30 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    // A cluster that has just started times out its first JetStream requests (no meta or stream leader yet):
    // ask again, for up to 30 s, each step (Vigil's own start does the same, ingest/broker/nats-jetstream.ts).
    const again = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
      for (let i = 0; ; i++) {
        try {
          return await step();
        } catch (err) {
          if (i >= 30) throw new Error(`${what}: ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    };
    await again('stream', () =>
      jsm.streams.add({
        name: 'FLOOR',
        subjects: ['vigil.v1.devices.*.telemetry'],
        storage: StorageType.File,
        num_replicas: 3,
        retention: RetentionPolicy.Workqueue,
      }),
    );
    await again('consumer', () => jsm.consumers.add('FLOOR', { durable_name: 'floor', ack_policy: AckPolicy.Explicit, max_ack_pending: 20_000 }));
    const consumer = await again('consumer lookup', () => nc.jetstream().consumers.get('FLOOR', 'floor'));
    const messages = await consumer.consume({ max_messages: 2_000 });
    const lat: number[] = [];
    let received = 0;
    let last = 0;
    void (async () => {
      for await (const m of messages) {
        const now = Date.now();
        received++;
        last = now;
        lat.push(now - (JSON.parse(Buffer.from(m.data).toString()) as { ts: number }).ts);
        m.ack();
      }
    })();
    const devices = Array.from({ length: DEVICES }, (_, i) => ({ id: `floor-${i}`, secret: 'x' }));
    const t0 = Date.now();
    const pub = await runPublishersOn(natsUrls(cluster), {
      devices,
      durationMs: SECONDS * 1000,
      messagesPerSecond: 0,
      inflightPerDevice: INFLIGHT,
      seqStart: 1,
    });
    const deadline = Date.now() + 60_000;
    while (received < pub.acked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    messages.stop();
    const s = summarize(lat);
    return {
      setup: 'floor: NATS cluster (3 nodes) → plain JetStream consumer',
      mode: 'max',
      readingsPerSecond: Math.round((received * READINGS_PER_MESSAGE) / ((last - t0) / 1000)),
      durableP50: null,
      durableP99: null,
      dashboardP50: s.p50,
      dashboardP99: s.p99,
    };
  } finally {
    await nc.close();
    await cluster.stop();
  }
}
const natsUrls = (cluster: NatsCluster) => cluster.nodes.map((n) => `mqtt://127.0.0.1:${n.mqttPort}`);

/**
 * PostgreSQL + Mosquitto, or + the NATS cluster: each Vigil instance is its own `vigil start` process, as deployed, so two instances
 * have two event loops (the bench process only generates load and watches a dashboard). Stored readings are
 * counted in the database; durable latency is `received_at` (the storing transaction's start) − the
 * device's publish time. Where the machine's CPU went during the run is measured per process.
 */
async function measureVigilProcesses(instances: number, messagesPerSecond: number, brokerKind: Broker = 'mosquitto'): Promise<Result> {
  const setup = `Vigil: PostgreSQL + ${brokerKind === 'nats' ? 'NATS cluster' : 'Mosquitto'}, ${instances} instance${instances > 1 ? 's' : ''}${LIMIT_LABEL}`;
  const db = await createTestDatabase();
  const broker = brokerKind === 'mosquitto' ? await startMosquitto('max_queued_messages 0\nmax_queued_bytes 0') : null;
  const cluster = brokerKind === 'nats' ? await startNatsCluster(3) : null;
  const brokerEnv: Record<string, string> = broker ? { MQTT_URL: broker.url } : { NATS_URL: cluster!.url };
  const brokerPids = async (): Promise<Record<string, number[]>> =>
    broker ? { Mosquitto: [broker.pid] } : { 'NATS (3 nodes)': cluster!.nodes.map((n) => n.proc?.pid).filter((p): p is number => p !== undefined) };
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  const unlimit: Array<() => Promise<void>> = [];
  const sql = new pg.Client({ connectionString: db.url });
  try {
    const shared = { VIGIL_MASTER_KEY: randomBytes(32).toString('base64'), VIGIL_AUDIT_KEY: randomBytes(32).toString('base64') };
    log(`  starting ${instances} instance process${instances > 1 ? 'es' : ''}…`);
    for (let i = 0; i < instances; i++) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bench-ingest-'));
      dirs.push(dir);
      servers.push(
        await startServerProcess({
          ...shared,
          VIGIL_DATA_DIR: dir,
          DATABASE_URL: db.url,
          ...brokerEnv,
          VIGIL_MQTT_PORT: '0',
          VIGIL_STRICT_RESPONSES: '0',
          ...(process.env.VIGIL_BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.VIGIL_BENCH_NODE_OPTIONS } : {}),
          ...(CPU_PROF ? { NODE_OPTIONS: `--import ${new URL('./support/cpu-profile-hook.mjs', import.meta.url).href}`, VIGIL_BENCH_CPU_PROF: CPU_PROF } : {}),
        }),
      );
      if (INSTANCE_CPU > 0) unlimit.push(await limitCpu(servers[i].proc.pid!, INSTANCE_CPU, `vigil-bench-${process.pid}-${i}`));
    }
    // Each start rotates the deployment's one CLI admin token: the last instance's is the valid one (on every instance).
    const token = servers[servers.length - 1].token;
    const api = async <T>(method: string, url: string, body: unknown): Promise<T> => {
      const res = await fetch(servers[0].url + url, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    log(`  creating ${PATIENTS} patients and ${DEVICES} devices…`);
    const patients: Array<{ id: string }> = [];
    for (let i = 0; i < PATIENTS; i++) patients.push(await api('POST', '/api/v1/patients', { name: `Bench Patient ${i + 1}` }));
    const devices: Array<{ id: string; secret: string }> = [];
    for (let i = 0; i < DEVICES; i++) devices.push(await api('POST', '/api/v1/devices', { patientId: patients[i % PATIENTS].id, type: 'multi' }));
    await sql.connect();

    const dashboard: number[] = [];
    const last = servers[servers.length - 1];
    const ws = new WebSocket(`${last.url.replace('http', 'ws')}/api/v1/stream?token=${token}`);
    ws.on('message', (m) => {
      const now = Date.now();
      const msg = JSON.parse(m.toString()) as { type: string; readings?: Array<{ code: string; ts: string }> };
      if (msg.type === 'readings') for (const r of msg.readings!) if (r.code === '8867-4') dashboard.push(now - Date.parse(r.ts));
    });
    await opened(ws);
    await new Promise((r) => setTimeout(r, 300));

    const cpu = cpuMeter(async () => ({
      ...Object.fromEntries(servers.map((s, i) => [`Vigil instance ${i + 1} (own process)`, [s.proc.pid!]])),
      ...(await brokerPids()),
      'PostgreSQL (backends + writers)': await postgresPids(db.url),
    }));
    await cpu.start();
    log(`  publishing for ${SECONDS} s…`);
    const t0 = Date.now();
    const pub = await runPublishersOn(broker ? [broker.url] : natsUrls(cluster!), {
      devices,
      durationMs: SECONDS * 1000,
      messagesPerSecond,
      inflightPerDevice: INFLIGHT,
      seqStart: 1,
    });
    const expected = pub.acked * READINGS_PER_MESSAGE;
    log(`  ${pub.acked} of ${pub.sent} messages acknowledged by the broker; waiting (60 s at most) until ${expected} readings are stored…`);
    // Ids handed out by the sequence (cheap to poll) pass the count shortly before everything is committed
    // (each batch also draws one id to bound its own); from there the exact count is polled.
    const handedOut = async () =>
      Number((await sql.query<{ n: string }>(`SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('readings', 'id')), 0) AS n`)).rows[0].n);
    const count = async () => Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM readings')).rows[0].n);
    const deadline = Date.now() + 60_000;
    while ((await handedOut()) < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    while ((await count()) < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const machine = await cpu.stop(os.cpus().length);
    await new Promise((r) => setTimeout(r, 500)); // the dashboard's last frames
    ws.close();
    const [{ n, last_ms }] = (
      await sql.query<{ n: string; last_ms: string }>(`SELECT count(*) AS n, (extract(epoch FROM max(received_at)) * 1000)::bigint AS last_ms FROM readings`)
    ).rows;
    const stored = Number(n);
    if (stored < expected) log(`  ! ${setup}: stored ${stored} of ${expected} acknowledged readings within 60 s`);
    const lat = (
      await sql.query<{ p50: number; p99: number }>(
        `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY d) AS p50, percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99
         FROM (SELECT extract(epoch FROM received_at - ts) * 1000 AS d FROM readings WHERE code = '8867-4') x`,
      )
    ).rows[0];
    const b = summarize(dashboard);
    cpuReports.push({ setup, stored, ...machine });
    return {
      setup,
      mode: messagesPerSecond ? `paced ${PACED_READINGS_PER_S}/s` : 'max',
      readingsPerSecond: Math.round(stored / ((Math.max(Number(last_ms), t0 + 1) - t0) / 1000)),
      durableP50: Math.round(lat.p50),
      durableP99: Math.round(lat.p99),
      dashboardP50: b.p50,
      dashboardP99: b.p99,
    };
  } finally {
    await sql.end().catch(() => undefined);
    // What the instances warned about during the run (log level warn): a lost ownership session, a cut replay…
    for (const [i, s] of servers.entries()) {
      const said = new Map<string, number>();
      for (const line of s.output().split('\n')) {
        const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
        const err = /"err":(?:\{[^}]*?"message":)?"([^"]*)"/.exec(line)?.[1];
        if (msg) said.set(err ? `${msg}: ${err.slice(0, 160)}` : msg, (said.get(msg) ?? 0) + 1);
      }
      for (const [msg, n] of said) log(`  instance ${i + 1} logged ${n}× "${msg}"`);
    }
    log('  stopping the instances…');
    for (const s of servers) await stopWithin(s, 30_000);
    for (const u of unlimit) await u();
    await broker?.stop();
    await cluster?.stop();
    await db.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}

/** The dashboard's WebSocket is open; an error or 30 s without it ends the case with a reason instead of waiting forever. */
function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the dashboard WebSocket did not open within 30 s')), 30_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** SIGTERM, and SIGKILL if the instance has not exited after `ms` (reported: a clean stop that hangs is a defect). */
async function stopWithin(server: ServerProcess, ms: number): Promise<void> {
  const timer = setTimeout(() => {
    log(
      `  ! instance ${server.proc.pid} did not stop within ${ms / 1000} s of SIGTERM; killed. Its last lines:\n${server.output().split('\n').slice(-8).join('\n')}`,
    );
    server.proc.kill('SIGKILL');
  }, ms);
  await server.kill('SIGTERM');
  clearTimeout(timer);
}

/** Rows shaped as Vigil stores them: one message = 6 readings of one device. */
function floorRows(): string[] {
  const codes: Array<[string, number, string]> = [
    ['8867-4', 72, '/min'],
    ['59408-5', 97, '%'],
    ['9279-1', 14, '/min'],
    ['8310-5', 36.8, 'Cel'],
    ['8480-6', 120, 'mm[Hg]'],
    ['8462-4', 80, 'mm[Hg]'],
  ];
  const lines: string[] = [];
  const t0 = Date.now() - 3_600_000;
  for (let m = 0; m < FLOOR_ROWS / READINGS_PER_MESSAGE; m++) {
    const device = `dev_floor${m % DEVICES}`;
    const ts = new Date(t0 + m).toISOString();
    for (const [code, value, unit] of codes)
      lines.push(`"pat_floor${(m % DEVICES) % PATIENTS}","${device}","http://loinc.org","${code}",${value},"${unit}","${ts}",${m}`);
  }
  return lines;
}
const COPY_SQL = 'COPY readings (patient_id, device_id, system, code, value, unit, ts, seq) FROM';
const COPY_BATCH = 2_000 * READINGS_PER_MESSAGE; // rows per COPY: Vigil's largest batch

/** The bare database: PGlite's own COPY of the same rows, in Vigil's largest batches. */
async function copyFloorPglite(): Promise<Result> {
  const db = await openPgliteWorker(null);
  try {
    await migrate(db);
    const lines = floorRows();
    const t0 = Date.now();
    for (let i = 0; i < lines.length; i += COPY_BATCH)
      await db.copyCsv!(`${COPY_SQL} '/dev/blob' WITH (FORMAT csv)`, lines.slice(i, i + COPY_BATCH).join('\n'));
    return {
      setup: 'floor: PGlite COPY (same rows)',
      mode: 'max',
      readingsPerSecond: Math.round(lines.length / ((Date.now() - t0) / 1000)),
      durableP50: null,
      durableP99: null,
      dashboardP50: 0,
      dashboardP99: 0,
    };
  } finally {
    await db.close();
  }
}

/** The bare database: PostgreSQL `COPY … FROM STDIN` through node-postgres (pg-copy-streams), one session. */
async function copyFloorPostgres(url: string): Promise<Result> {
  const { from } = createRequire(import.meta.url)('pg-copy-streams') as { from(sql: string): NodeJS.WritableStream & pg.Submittable };
  const dbForSchema = await (await import('../src/platform/db.ts')).openPostgres(url);
  await migrate(dbForSchema);
  await dbForSchema.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const lines = floorRows();
    const t0 = Date.now();
    for (let i = 0; i < lines.length; i += COPY_BATCH) {
      const stream = client.query(from(`${COPY_SQL} STDIN WITH (FORMAT csv)`));
      await new Promise<void>((resolve, reject) => {
        stream.on('error', reject);
        stream.on('finish', () => resolve());
        stream.end(lines.slice(i, i + COPY_BATCH).join('\n') + '\n');
      });
    }
    return {
      setup: 'floor: PostgreSQL COPY (same rows)',
      mode: 'max',
      readingsPerSecond: Math.round(lines.length / ((Date.now() - t0) / 1000)),
      durableP50: null,
      durableP99: null,
      dashboardP50: 0,
      dashboardP99: 0,
    };
  } finally {
    await client.end();
  }
}

const loadAtStart = os.loadavg();

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

  if (!ONLY || ONLY === 'embedded') {
    log('floor: PGlite COPY…');
    results.push(await copyFloorPglite());
  }
  for (const rate of ONLY && ONLY !== 'embedded' ? [] : rates) {
    log(`embedded PGlite + aedes (${rate ? 'paced' : 'max'})…`);
    const app = await bootApp();
    try {
      results.push(await measureVigil('Vigil: PGlite + aedes (embedded)', [app], `mqtt://127.0.0.1:${app.mqttPort}`, rate));
    } finally {
      await app.stop();
    }
  }

  if (await postgresAvailable()) {
    for (const instances of ONLY && ONLY !== 'postgres' ? [] : INSTANCES) {
      for (const rate of instances === 2 || !BROKERS.includes('mosquitto') ? [] : rates) {
        log(`PostgreSQL + Mosquitto, ${instances} instance process(es) (${rate ? 'paced' : 'max'})…`);
        results.push(await measureVigilProcesses(instances, rate));
      }
      if (instances === 2 && BROKERS.includes('mosquitto')) {
        log('PostgreSQL + Mosquitto, 2 instance process(es) (max)…');
        results.push(await measureVigilProcesses(2, 0));
      }
    }
    if ((!ONLY || ONLY === 'postgres') && BROKERS.includes('nats')) {
      if (natsAvailable()) {
        // A failure here (a cluster that does not come up) is reported, and the other cases' results kept.
        try {
          log('floor: NATS cluster relay…');
          results.push(await measureNatsFloor());
          for (const instances of INSTANCES) {
            log(`PostgreSQL + NATS cluster, ${instances} instance process(es) (max)…`);
            results.push(await measureVigilProcesses(instances, 0, 'nats'));
          }
        } catch (err) {
          log(`  ! NATS cluster cases failed: ${(err as Error).message}`);
        }
      } else log('nats-server not installed: skipping the NATS cluster cases');
    }
    if (!ONLY || ONLY === 'postgres') {
      log('floor: PostgreSQL COPY…');
      const db = await createTestDatabase();
      try {
        results.push(await copyFloorPostgres(db.url));
      } finally {
        await db.drop();
      }
    }
  } else log('PostgreSQL not reachable: skipping that setup');

  const floorMax = results.find((r) => r.setup.startsWith('floor: Mosquitto') && r.mode === 'max')?.readingsPerSecond ?? NaN;
  const rate = (prefix: string) => results.find((r) => r.setup.startsWith(prefix) && r.mode === 'max')?.readingsPerSecond ?? NaN;
  const ratios = {
    'embedded ÷ PGlite COPY (target ≥ 0.5)': rate('Vigil: PGlite') / rate('floor: PGlite COPY'),
    [`PostgreSQL 1 instance${LIMIT_LABEL} ÷ PostgreSQL COPY (target ≥ 0.5)`]: rate('Vigil: PostgreSQL + Mosquitto, 1 ') / rate('floor: PostgreSQL COPY'),
    [`2 instances ÷ 1 instance${LIMIT_LABEL} (target > 1)`]: rate('Vigil: PostgreSQL + Mosquitto, 2 ') / rate('Vigil: PostgreSQL + Mosquitto, 1 '),
    'NATS cluster, 1 instance ÷ PostgreSQL COPY (target ≥ 0.5)': rate('Vigil: PostgreSQL + NATS cluster, 1 ') / rate('floor: PostgreSQL COPY'),
    'NATS cluster, 1 instance ÷ the cluster relay': rate('Vigil: PostgreSQL + NATS cluster, 1 ') / rate('floor: NATS cluster'),
    [`NATS cluster, 2 instances ÷ 1 instance${LIMIT_LABEL} (target > 1)`]:
      rate('Vigil: PostgreSQL + NATS cluster, 2 ') / rate('Vigil: PostgreSQL + NATS cluster, 1 '),
  };
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  if (JSON_OUT) {
    process.stdout.write(
      JSON.stringify({
        devices: DEVICES,
        seconds: SECONDS,
        readingsPerMessage: READINGS_PER_MESSAGE,
        loadAverage: { start: loadAtStart, end: os.loadavg() },
        ratios,
        results: results.map((r) => ({ ...r, ratioToRelayFloor: r.readingsPerSecond / floorMax })),
        cpu: cpuReports,
      }) + '\n',
    );
  } else {
    process.stdout.write(
      `\nIngest benchmark: ${DEVICES} devices of ${PATIENTS} patients, MQTT QoS 1, ${READINGS_PER_MESSAGE} readings per message, ${SECONDS} s per run; stored readings/s (commits)\n`,
    );
    process.stdout.write(
      `load average (1/5/15 min) at start ${loadAtStart.map((l) => l.toFixed(1)).join(' / ')}, at end ${load}; ${os.cpus().length} cores\n\n`,
    );
    process.stdout.write(
      table(
        results.map((r) => ({
          setup: r.setup,
          mode: r.mode,
          'readings/s': r.readingsPerSecond,
          '× relay floor': r.mode === 'max' ? (r.readingsPerSecond / floorMax).toFixed(2) : '',
          'durable p50 ms': r.durableP50 ?? '–',
          'durable p99 ms': r.durableP99 ?? '–',
          'dashboard p50 ms': r.dashboardP50 || '–',
          'dashboard p99 ms': r.dashboardP99 || '–',
        })),
      ) + '\n\n',
    );
    for (const [k, v] of Object.entries(ratios)) process.stdout.write(`${k}: ${Number.isFinite(v) ? v.toFixed(2) : 'not measured'}\n`);
    for (const c of cpuReports) {
      process.stdout.write(`\nWhere the CPU went, ${c.setup} (${c.wallS} s of load; share of ${os.cpus().length} cores × wall time):\n`);
      // CPU per stored reading holds even on a busy machine, where readings/s and shares do not.
      for (const [name, g] of Object.entries(c.groups))
        process.stdout.write(
          `  ${name.padEnd(44)} ${String(g.cpuS).padStart(6)} CPU s  ${(100 * g.shareOfMachine).toFixed(0).padStart(3)} %  ${((g.cpuS * 1e6) / c.stored).toFixed(1).padStart(6)} µs per stored reading\n`,
        );
    }
  }
  process.exit(0);
}

await main();
