/**
 * Issue 11, the reliability test: two real Vigil processes on a PostgreSQL of the test's own and a
 * three-node NATS cluster (JetStream + MQTT gateway), all on loopback ports. Simulated devices publish 50,000
 * QoS 1 readings (10 devices × 1,000 messages × 5) and an ECG record with an AF episode. Mid-run: one Vigil
 * instance is killed with SIGKILL, PostgreSQL is restarted, and one broker node is killed (and comes back).
 * Then: every reading the broker acknowledged is stored exactly once, and every ECG chunk; the AF episode is
 * found exactly once (one stored episode, one AF alert); the high-heart-rate alert is opened exactly once
 * and escalated exactly once; the killed instance is started again and both instances' panels agree.
 * Assertions are about outcomes, waited for with generous timeouts, never about speed.
 * What it found and what was fixed:
 * - a PostgreSQL restart crashed an instance (uncaught 'error' on a pooled client inside a transaction:
 *   platform/db.ts); findings (the AF episode) were lost when their write met the restart (ingest retries
 *   derived writes while the database is away);
 * - the AF episode was lost under all three failures together (0 episodes, every run on a quiet machine):
 *   chunks stored while no instance owned the device (owner killed, then the survivor's leases dropped by
 *   the PostgreSQL restart) were never analysed. Now each device has a durable analysis position (migration
 *   020) that the next owner resumes from, replaying the stored chunks after it (test/ecg-resume.test.ts);
 * - a second high-heart-rate alert in 1 of 5 runs: a batch with the patient's last normal readings was
 *   redelivered to the new owner after its instance died, and the owner's freshly rebuilt rule state took
 *   the old value for the present and resolved the alert; the next high value opened a second one. Now the
 *   rebuilt state knows the newest stored reading and the database refuses to resolve on a late reading
 *   (test/alerts.handover.test.ts).
 * Broker limits (why the dying node is a replica of the stream): test/support/nats-cluster.ts and docs/scaling.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { natsAvailable, replicaVictim, startNatsCluster, type NatsCluster } from './support/nats-cluster.ts';
import { privatePostgresAvailable, startPrivatePostgres } from './support/private-postgres.ts';
import { skipNote } from './support/services.ts';
import { eventually } from './support/eventually.ts';
import { observe } from './support/observe.ts';
import { createEcgModel } from '../src/simulator/ecg-model.ts';
import { DERIVED_CODES } from '../src/domain/codes.ts';

const enabled = natsAvailable() && privatePostgresAvailable();
if (!enabled) skipNote('nats-server + PostgreSQL server binaries (two-instance reliability test)');

const DEVICES = 10;
const MESSAGES = 1_000; // per device
const READINGS = 5; // per message: 50,000 readings
const FS = 250;

describe.skipIf(!enabled)('reliability: two instances, a clustered broker, failures mid-run', () => {
  let pgServer: Awaited<ReturnType<typeof startPrivatePostgres>>;
  let cluster: NatsCluster;
  let a: ServerProcess;
  let b: ServerProcess;
  let db: pg.Client;
  const dirs: string[] = [];
  const boot = async (dir?: string) => {
    const dataDir = dir ?? (await mkdtemp(path.join(os.tmpdir(), 'vigil-rel-')));
    if (!dir) dirs.push(dataDir);
    return startServerProcess({
      VIGIL_DATA_DIR: dataDir,
      DATABASE_URL: pgServer.url,
      NATS_URL: cluster.url,
      VIGIL_NATS_ACK_WAIT_S: '5',
      VIGIL_MQTT_PORT: '0',
      VIGIL_ALERT_TICK_MS: '500',
    });
  };
  const api = async <T = unknown>(server: ServerProcess, token: string, method: string, url: string, body?: unknown) => {
    const res = await fetch(server.url + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as T };
  };

  beforeAll(async () => {
    [pgServer, cluster] = await Promise.all([startPrivatePostgres(), startNatsCluster(3)]);
    a = await boot();
    b = await boot();
    db = new pg.Client({ connectionString: pgServer.url });
    db.on('error', () => undefined);
    await db.connect();
  }, 240_000);
  afterAll(async () => {
    await a?.kill();
    await b?.kill();
    await db?.end().catch(() => undefined);
    await cluster?.stop();
    await pgServer?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('every acknowledged reading and ECG chunk once, the AF episode once, one alert escalated once, panels agree', async () => {
    const token = b.token; // B started last: its CLI token is the valid one
    expect(
      (
        await api(b, token, 'PUT', '/api/v1/alert-rules/hr-rel', {
          scope: 'clinic',
          definition: {
            kind: 'threshold',
            code: '8867-4',
            op: 'above',
            value: 140,
            clearAt: 130,
            severity: 'critical',
            escalation: [{ afterMs: 3_000, to: 'admins' }],
          },
        })
      ).status,
    ).toBe(200);
    const devices: Array<{ id: string; secret: string; patientId: string }> = [];
    for (let i = 0; i <= DEVICES; i++) {
      const p = await api<{ id: string }>(b, token, 'POST', '/api/v1/patients', { name: `Reliable ${i}`, birthDate: '1950-01-01' });
      const d = await api<{ id: string; secret: string }>(b, token, 'POST', '/api/v1/devices', { patientId: p.body.id, type: i === DEVICES ? 'ecg' : 'multi' });
      devices.push({ ...d.body, patientId: p.body.id });
    }
    const ecgDevice = devices.pop()!;
    // Devices on one node; the broker node that dies later is a replica of Vigil's stream (see nats-cluster.ts).
    const probe = await mqtt.connectAsync(`mqtt://127.0.0.1:${cluster.nodes[0].mqttPort}`, { clientId: 'probe', protocolVersion: 4, reconnectPeriod: 0 });
    await probe.endAsync();
    const victim = await replicaVictim(cluster, 'VIGIL_DEVICES');
    const entry = cluster.nodes[(victim + 1) % 3];
    const url = `mqtt://127.0.0.1:${entry.mqttPort}`;

    // The failures, each at a point of the run (acknowledged messages so far).
    let acked = 0;
    const total = DEVICES * MESSAGES;
    const chaos: Array<{ at: number; what: string; run: () => Promise<unknown>; done?: Promise<unknown> }> = [
      { at: 0.2, what: 'kill -9 instance A', run: () => a.kill('SIGKILL') },
      { at: 0.4, what: 'restart PostgreSQL', run: () => pgServer.restart() },
      {
        at: 0.6,
        what: 'kill -9 a broker node (back after 3 s)',
        run: async () => {
          await cluster.kill(victim);
          await new Promise((r) => setTimeout(r, 3_000));
          await cluster.restart(victim);
        },
      },
    ];
    const onAck = () => {
      acked++;
      // Observed at once (test/support/observe.ts): a failure is reported where they are awaited, below.
      for (const c of chaos) if (!c.done && acked >= c.at * total) c.done = observe(c.run());
    };

    const t0 = Date.now();
    const telemetry = devices.map(async (d, i) => {
      const c = await mqtt.connectAsync(url, { clientId: `rel-${d.id}`, protocolVersion: 4, reconnectPeriod: 250, username: d.id, password: d.secret });
      const sends = [];
      for (let seq = 1; seq <= MESSAGES; seq++) {
        const hr = i === 0 && seq > 100 ? 150 : 72; // device 0's patient: tachycardia from message 100 on
        const body = {
          seq,
          ts: t0 - 200_000 + seq * 200,
          readings: [
            ['8867-4', hr],
            ['59408-5', 97],
            ['9279-1', 14],
            ['8310-5', 36.8],
            ['8480-6', 120],
          ].map(([code, value]) => ({ code, value })),
        };
        sends.push(observe(c.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, JSON.stringify(body), { qos: 1 }).then(onAck)));
        if (seq % 50 === 0) await new Promise((r) => setTimeout(r, 150));
      }
      await Promise.all(sends);
      await c.endAsync();
    });
    const model = createEcgModel({ seed: 42, fs: FS });
    const ecgStart = Date.now() - 400_000;
    const ecg = (async () => {
      const c = await mqtt.connectAsync(url, {
        clientId: `rel-${ecgDevice.id}`,
        protocolVersion: 4,
        reconnectPeriod: 250,
        username: ecgDevice.id,
        password: ecgDevice.secret,
      });
      const sends = [];
      const rhythm = (s: number) => (s < 40 ? { hr: 72, rr: 15, af: false } : s < 190 ? { hr: 110, rr: 15, af: true } : { hr: 72, rr: 15, af: false });
      for (let s = 0; s < 250; s++) {
        sends.push(
          observe(
            c.publishAsync(
              `vigil/v1/devices/${ecgDevice.id}/ecg`,
              JSON.stringify({ ts: ecgStart + s * 1000, seq: s, fs: FS, lead: 'II', unit: 'uV', samples: model.next(FS, rhythm(s)) }),
              { qos: 1 },
            ),
          ),
        );
        if (s % 25 === 0) await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all(sends);
      await c.endAsync();
    })();
    await Promise.all([...telemetry, ecg]);
    await Promise.all(chaos.map((c) => c.done));
    expect(chaos.every((c) => c.done)).toBe(true);
    expect(acked).toBe(total);

    // Every acknowledged reading, exactly once.
    const ids = devices.map((d) => d.id);
    const count = async () =>
      Number(
        (
          await db.query(`SELECT count(*) AS n FROM readings WHERE device_id = ANY($1) AND method IS NULL`, [ids]).catch(async () => {
            await db.end().catch(() => undefined);
            db = new pg.Client({ connectionString: pgServer.url });
            db.on('error', () => undefined);
            await db.connect();
            return db.query(`SELECT count(*) AS n FROM readings WHERE device_id = ANY($1) AND method IS NULL`, [ids]);
          })
        ).rows[0].n,
      );
    await eventually(count, (n) => n >= total * READINGS, 300_000);
    const [row] = (
      await db.query(`SELECT count(*) AS n, count(DISTINCT (device_id, seq, code)) AS d FROM readings WHERE device_id = ANY($1) AND method IS NULL`, [ids])
    ).rows;
    expect(Number(row.n), `stored ${row.n} of ${total * READINGS}; instance B said: ${b.output().slice(-4000)}`).toBe(total * READINGS);
    expect(Number(row.d)).toBe(total * READINGS);
    const chunks = await eventually(
      async () => Number((await db.query(`SELECT count(*) AS n FROM ecg_chunks WHERE device_id = $1`, [ecgDevice.id])).rows[0].n),
      (n) => n >= 250,
      120_000,
    );
    expect(chunks).toBe(250);

    // The killed instance comes back (same data dir), so both dashboards can be compared.
    a = await boot(dirs[0]);
    const admin = a.token;

    // The AF episode (AF from 40 s to 190 s of the record): found exactly once, whatever instance analysed
    // which part of it, with one AF alert. Waited for: a catch-up of chunks stored while nobody owned the
    // device runs within seconds of the next owner claiming it.
    const afEpisodes = async () =>
      (
        await db.query(`SELECT ts, value FROM readings WHERE patient_id = $1 AND code = $2 AND method IS NOT NULL`, [
          ecgDevice.patientId,
          DERIVED_CODES.afEpisode.code,
        ])
      ).rows as Array<{ ts: Date; value: number }>;
    const diagnose = async () =>
      JSON.stringify({
        ecgStart: new Date(ecgStart),
        episodes: await afEpisodes(),
        position: (await db.query(`SELECT * FROM ecg_analysis_positions WHERE device_id = $1`, [ecgDevice.id])).rows,
        a: a.output().slice(-3000),
        b: b.output().slice(-3000),
      });
    const episodes = await eventually(afEpisodes, (rows) => rows.length >= 1, 120_000);
    expect(episodes.length, `no AF episode stored: ${await diagnose()}`).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 5_000)); // a second one (a handover that doubled it) would show by now
    expect((await afEpisodes()).length, await diagnose()).toBe(1);
    // ~150 s of AF (149 s offline on the whole record). Found once is the requirement; its length is a
    // sanity bound: under heavy load the chunks of the episode's first part can come back (redelivered after
    // the failures) later than the analyzer waits for a hole (35 s), and the episode then starts where the
    // analyzer picked the rhythm up again (seen at load ~26: 65 s starting 112 s in). A clinical AF episode is
    // at least 30 s.
    expect(Number(episodes[0].value), await diagnose()).toBeGreaterThanOrEqual(30);
    expect(Number(episodes[0].value), await diagnose()).toBeLessThan(200);
    console.log(`reliability: AF episode of ${episodes[0].value} s starting ${((episodes[0].ts.getTime() - ecgStart) / 1000).toFixed(1)} s into the record`);
    // Its alert: the rules may still be working through the readings' backlog, so waited for, then counted.
    const afAlerts = async () =>
      Number((await db.query(`SELECT count(*) AS n FROM alerts WHERE patient_id = $1 AND rule_key = 'af'`, [ecgDevice.patientId])).rows[0].n);
    await eventually(afAlerts, (n) => n >= 1, 180_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await afAlerts(), await diagnose()).toBe(1);

    // The tachycardia alert: opened exactly once, escalated exactly once.
    const alerts = (await db.query(`SELECT id, status, resolution_note FROM alerts WHERE patient_id = $1 AND rule_key = 'hr-rel'`, [devices[0].patientId]))
      .rows as Array<{ id: string; status: string; resolution_note: string | null }>;
    expect(alerts, JSON.stringify(alerts)).toHaveLength(1);
    expect(alerts[0].status).not.toBe('resolved');
    const escalations = async () =>
      Number((await db.query(`SELECT count(*) AS n FROM audit_log WHERE action = 'alert.escalated' AND entity_id = $1`, [alerts[0].id])).rows[0].n);
    await eventually(escalations, (n) => n >= 1, 30_000);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await escalations()).toBe(1);
    // No other patient has an hr-rel alert.
    expect(Number((await db.query(`SELECT count(*) AS n FROM alerts WHERE rule_key = 'hr-rel' AND patient_id <> $1`, [devices[0].patientId])).rows[0].n)).toBe(
      0,
    );

    // Both instances' panels agree (open alerts and NEWS2 for every patient).
    const panel = async (s: ServerProcess) => {
      const rows = (
        await api<Array<{ id: string; openAlerts: number; news2: { score: number | null; partialScore: number } }>>(s, admin, 'GET', '/api/v1/patients')
      ).body;
      return JSON.stringify(rows.map((p) => [p.id, p.openAlerts, p.news2?.score ?? null]).sort());
    };
    let [pa, pb] = ['', '-'];
    for (let i = 0; i < 120 && pa !== pb; i++) {
      if (i) await new Promise((r) => setTimeout(r, 500));
      [pa, pb] = [await panel(a), await panel(b)];
    }
    expect(pb).toBe(pa);
    expect(JSON.parse(pa)).toHaveLength(DEVICES + 1);
    console.log(`reliability: ${total * READINGS} readings in ${((Date.now() - t0) / 1000).toFixed(1)} s with ${chaos.map((c) => c.what).join(', ')}`);
  }, 900_000);
});
