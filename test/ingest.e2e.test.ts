/**
 * End to end, on real parts: the real server on random ports, a real MQTT client (mqtt.js and Debian's
 * mosquitto_pub), the reading read back through the FHIR API and seen arriving on a dashboard WebSocket.
 * The same suite runs on PGlite + embedded aedes and on PostgreSQL + Mosquitto.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, mosquittoAvailable, postgresAvailable, skipNote, startMosquitto } from './support/services.ts';
import { eventually } from './support/eventually.ts';

const hasPg = await postgresAvailable();
const hasMosquitto = mosquittoAvailable();
if (!hasPg) skipNote('PostgreSQL (ingest suite on PostgreSQL + Mosquitto)');
if (!hasMosquitto) skipNote('Mosquitto (ingest suite on PostgreSQL + Mosquitto)');
const hasMosquittoPub = spawnSync('sh', ['-c', 'command -v mosquitto_pub']).status === 0;

interface Setup {
  name: string;
  enabled: boolean;
  start(): Promise<{ app: TestApp; brokerUrl: string; embedded: boolean; cleanup(): Promise<void> }>;
}

const setups: Setup[] = [
  {
    name: 'PGlite + embedded aedes',
    enabled: true,
    async start() {
      const app = await bootApp();
      return { app, brokerUrl: `mqtt://127.0.0.1:${app.mqttPort}`, embedded: true, cleanup: () => app.stop() };
    },
  },
  {
    name: 'PostgreSQL + Mosquitto',
    enabled: hasPg && hasMosquitto,
    async start() {
      const db = await createTestDatabase();
      const broker = await startMosquitto();
      const app = await bootApp({ databaseUrl: db.url, mqttUrl: broker.url });
      return {
        app,
        brokerUrl: broker.url,
        embedded: false,
        async cleanup() {
          await app.stop();
          await broker.stop();
          await db.drop();
        },
      };
    },
  },
];

for (const setup of setups) {
  describe.skipIf(!setup.enabled)(`ingest end to end on ${setup.name}`, () => {
    let env: Awaited<ReturnType<Setup['start']>>;
    let admin: string;
    let clinician: { token: string; practitionerId: string | null };
    let patientId: string;
    let device: { id: string; secret: string; topic: string };

    beforeAll(async () => {
      env = await setup.start();
      admin = (await env.app.tokenFor('admin')).token;
      clinician = await env.app.tokenFor('clinician');
      patientId = (await env.app.services.patientService.create({ name: 'Ada Lovelace', birthDate: '1950-12-10' }, 'system')).id;
      await env.app.services.patientService.assignClinician(patientId, clinician.practitionerId!, 'system');
      const res = await env.app.api<{ id: string; secret: string; topic: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' });
      expect(res.status).toBe(201);
      device = res.body;
    });
    afterAll(async () => env && (await env.cleanup()));

    const connect = (username: string, password: string) =>
      mqtt.connectAsync(env.brokerUrl, {
        username,
        password,
        clientId: `${username}-${Math.random().toString(36).slice(2, 6)}`,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });

    it('provisions a device with a secret shown once and its topic', () => {
      expect(device.topic).toBe(`vigil/v1/devices/${device.id}/telemetry`);
      expect(device.secret.length).toBeGreaterThanOrEqual(40);
    });

    it('stores a QoS 1 reading, serves it over FHIR, and pushes it to the dashboard WebSocket', async () => {
      const ws = new WebSocket(`${env.app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${clinician.token}`);
      const received: Array<{ type: string; patientId?: string; readings?: Array<{ code: string; value: number }> }> = [];
      ws.on('message', (m) => received.push(JSON.parse(m.toString())));
      await new Promise((r) => ws.once('open', r));
      await new Promise((r) => setTimeout(r, 200)); // the gateway resolves the user's patients on connect

      const client = env.embedded ? await connect(device.id, device.secret) : await connect(device.id, device.secret);
      const sentAt = Date.now();
      await client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, JSON.stringify({ ts: new Date().toISOString(), seq: 1, hr: 72, spo2: 97 }), {
        qos: 1,
      });
      await client.endAsync();

      // Within a second on the WebSocket…
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && !received.some((m) => m.type === 'readings')) await new Promise((r) => setTimeout(r, 20));
      const live = received.find((m) => m.type === 'readings');
      expect(live?.patientId).toBe(patientId);
      expect(live?.readings?.map((r) => r.code).sort()).toEqual(['59408-5', '8867-4']);
      expect(Date.now() - sentAt).toBeLessThan(3000);
      ws.close();

      // …and through FHIR.
      const fhir = await env.app.api<{
        total: number;
        entry: Array<{ resource: { code: { coding: Array<{ code: string }> }; valueQuantity: { value: number; unit: string } } }>;
      }>(clinician.token, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=http://loinc.org|8867-4`);
      expect(fhir.status).toBe(200);
      expect(fhir.body.total).toBe(1);
      expect(fhir.body.entry[0].resource.valueQuantity).toMatchObject({ value: 72, unit: '/min' });
    });

    it('de-duplicates a re-sent message on (device, seq)', async () => {
      const client = await connect(device.id, device.secret);
      const body = JSON.stringify({ seq: 2, temp: 37.1 });
      await client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, body, { qos: 1 });
      await client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, body, { qos: 1 });
      await client.endAsync();
      const count = await eventually(
        () => env.app.api<{ total: number }>(admin, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=8310-5&_summary=count`),
        (r) => r.body.total >= 1,
      );
      await new Promise((r) => setTimeout(r, 300)); // give a (wrong) second copy time to land
      expect((await env.app.api<{ total: number }>(admin, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=8310-5&_summary=count`)).body.total).toBe(1);
      expect(count.status).toBe(200);
    });

    it.skipIf(!hasMosquittoPub)('accepts a reading from Debian mosquitto_pub', async () => {
      const url = new URL(env.brokerUrl);
      // Asynchronous spawn: the server under test runs in this process and must keep answering.
      const pub = spawn('mosquitto_pub', [
        '-h',
        url.hostname,
        '-p',
        url.port,
        '-u',
        device.id,
        '-P',
        device.secret,
        '-i',
        `${device.id}-pub`,
        '-q',
        '1',
        '-t',
        `vigil/v1/devices/${device.id}/telemetry`,
        '-m',
        '{"seq":3,"rr":16}',
      ]);
      let stderr = '';
      pub.stderr.on('data', (d) => (stderr += d));
      const status = await new Promise<number | null>((r) => pub.once('exit', r));
      expect(status, stderr).toBe(0);
      const deadline = Date.now() + 3000;
      let total = 0;
      while (Date.now() < deadline && total === 0) {
        total = (await env.app.api<{ total: number }>(admin, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=9279-1&_summary=count`)).body.total;
        if (total === 0) await new Promise((res) => setTimeout(res, 50));
      }
      expect(total).toBe(1);
    });

    it('rejects bad payloads with a reason an admin can see, keeping the good part of a message', async () => {
      const client = await connect(device.id, device.secret);
      await client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, '{"hr": 7', { qos: 1 });
      await client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, JSON.stringify({ seq: 4, spo2: 140, hr: 64 }), { qos: 1 });
      // The connection survives bad payloads.
      await client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, JSON.stringify({ seq: 5, hr: 66 }), { qos: 1 });
      await client.endAsync();
      await eventually(
        () => env.app.api<{ total: number }>(admin, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=8867-4&_summary=count`),
        (r) => r.body.total >= 3,
      );
      const rejections = await env.app.api<Array<{ deviceId: string; reason: string }>>(admin, 'GET', `/api/v1/admin/rejections?device=${device.id}`);
      expect(rejections.status).toBe(200);
      const reasons = rejections.body.map((r) => r.reason).join('\n');
      expect(reasons).toMatch(/malformed JSON/);
      expect(reasons).toMatch(/spo2: 140 is outside the physical range/);
      const hr = await env.app.api<{ total: number }>(admin, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=8867-4&_summary=count`);
      expect(hr.body.total).toBe(3); // 72, 64 (kept beside the bad SpO2), 66
      const dev = await env.app.api<{ rejectedCount: number }>(admin, 'GET', `/api/v1/devices/${device.id}`);
      expect(dev.body.rejectedCount).toBe(2);
      // Clinicians do not see the admin view.
      expect((await env.app.api(clinician.token, 'GET', '/api/v1/admin/rejections')).status).toBe(403);
    });

    it('accepts ECG chunks and serves them as valueSampledData', async () => {
      const client = await connect(device.id, device.secret);
      const samples = Array.from({ length: 250 }, (_, i) => Math.round(1000 * Math.sin(i / 10)));
      await client.publishAsync(`vigil/v1/devices/${device.id}/ecg`, JSON.stringify({ ts: Date.now(), seq: 1, fs: 250, lead: 'II', unit: 'uV', samples }), {
        qos: 1,
      });
      await client.endAsync();
      const strip = await eventually(
        () => env.app.api<{ fs: number; samples: number[] }>(clinician.token, 'GET', `/api/v1/patients/${patientId}/ecg?seconds=10`),
        (r) => r.body.fs !== null,
      );
      expect(strip.body.fs).toBe(250);
      expect(strip.body.samples).toEqual(samples);
      const fhir = await env.app.api<{ entry: Array<{ resource: { valueSampledData: { period: number; data: string } } }> }>(
        clinician.token,
        'GET',
        `/fhir/R4/Observation?patient=${patientId}&code=131329`,
      );
      expect(fhir.body.entry[0].resource.valueSampledData.period).toBe(4);
      expect(fhir.body.entry[0].resource.valueSampledData.data.split(' ').map(Number)).toEqual(samples);
    });

    it('accepts telemetry over HTTP with the device secret, and refuses a wrong one', async () => {
      const ok = await env.app.api(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, { seq: 6, weight: 81.2 });
      expect(ok.status).toBe(202);
      const bad = await env.app.api('not-the-secret', 'POST', `/api/v1/devices/${device.id}/telemetry`, { seq: 7, weight: 81.2 });
      expect(bad.status).toBe(401);
      const malformed = await env.app.api<{ error: { message: string } }>(device.secret, 'POST', `/api/v1/devices/${device.id}/telemetry`, '{"weight": ');
      expect(malformed.status).toBe(422);
      expect(malformed.body.error.message).toMatch(/malformed JSON/);
    });

    it.skipIf(!setup.enabled)('refuses wrong credentials and topics outside the device subtree (embedded broker)', async () => {
      if (!env.embedded) return; // an external broker enforces its own password file and ACL (README)
      await expect(connect(device.id, 'wrong-secret')).rejects.toThrow(/Bad username or password|Not authorized/i);
      await expect(connect('dev_unknown', 'x')).rejects.toThrow();
      const client = await connect(device.id, device.secret);
      // SUBACK 0x80 for a topic outside the subtree (mqtt.js reports it as a failed subscribe).
      await expect(client.subscribeAsync('vigil/v1/devices/someone-else/commands', { qos: 1 })).rejects.toThrow(/Subscribe error/);
      const own = await client.subscribeAsync(`vigil/v1/devices/${device.id}/commands`, { qos: 1 });
      expect(own[0].qos).toBe(1);
      const closed = new Promise<void>((r) => client.once('close', () => r()));
      client.publish('vigil/v1/devices/someone-else/telemetry', '{"hr":70}', { qos: 1 });
      await closed; // publishing outside its subtree ends the device's connection
      client.end(true);
    });
  });
}
