/**
 * Device commands end to end on the real app with a real mqtt.js device: MEASURE round trip with the
 * linked reading, queueing for an offline device, expiry, access rules, and the simulator answering.
 * Runs on PGlite + embedded aedes, and on PostgreSQL + Mosquitto when they are available.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, mosquittoAvailable, postgresAvailable, skipNote, startMosquitto } from './support/services.ts';
import { createSimulator, makeVirtualPatients } from '../src/simulator/index.ts';

const external = (await postgresAvailable()) && mosquittoAvailable();
if (!external) skipNote('PostgreSQL + Mosquitto (device commands through an external broker)');

const setups = [
  {
    name: 'PGlite + embedded aedes',
    enabled: true,
    async start() {
      const app = await bootApp();
      return { app, brokerUrl: `mqtt://127.0.0.1:${app.mqttPort}`, cleanup: () => app.stop() };
    },
  },
  {
    name: 'PostgreSQL + Mosquitto',
    enabled: external,
    async start() {
      const db = await createTestDatabase();
      const broker = await startMosquitto();
      const app = await bootApp({ databaseUrl: db.url, mqttUrl: broker.url });
      return {
        app,
        brokerUrl: broker.url,
        async cleanup() {
          await app.stop();
          await broker.stop();
          await db.drop();
        },
      };
    },
  },
];

interface CommandBody {
  id: string;
  status: string;
  readings: Array<{ code: string; value: number }>;
  message: string | null;
  sentAt: string | null;
  completedAt: string | null;
  patientId: string;
  name: string;
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await read();
  while (!ok(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}

for (const setup of setups)
  describe.skipIf(!setup.enabled)(`device commands end to end on ${setup.name}`, () => {
    let app: TestApp;
    let brokerUrl: string;
    let cleanup: () => Promise<void>;
    let clinician: string;
    let patientId: string;
    const devices: Array<{ id: string; secret: string }> = [];
    const clients: MqttClient[] = [];

    const newDevice = async () => {
      const res = await app.api<{ id: string; secret: string }>(clinician, 'POST', '/api/v1/devices', { patientId, type: 'thermometer' });
      expect(res.status).toBe(201);
      devices.push(res.body);
      return res.body;
    };

    /** A device that answers MEASURE with a tagged temperature and a done result, like the simulator. */
    const connectDevice = async (d: { id: string; secret: string }, answer = true) => {
      const seen: Array<{ id: string; name: string; args: Record<string, unknown> }> = [];
      const client = await mqtt.connectAsync(brokerUrl, { username: d.id, password: d.secret, clientId: d.id, clean: true, reconnectPeriod: 0 });
      clients.push(client);
      client.on('message', (_topic, payload) => {
        const cmd = JSON.parse(payload.toString());
        seen.push(cmd);
        if (!answer) return;
        void (async () => {
          await client.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, JSON.stringify({ seq: seen.length, temp: 36.8, command: cmd.id }), { qos: 1 });
          await client.publishAsync(`vigil/v1/devices/${d.id}/commands/${cmd.id}/result`, JSON.stringify({ status: 'done', message: 'measured' }), { qos: 1 });
        })();
      });
      await client.subscribeAsync(`vigil/v1/devices/${d.id}/commands`, { qos: 1 });
      // Like a real device: announce itself (an external broker tells Vigil nothing about connections).
      await client.publishAsync(`vigil/v1/devices/${d.id}/status`, JSON.stringify({ online: true }), { qos: 1 });
      return { client, seen };
    };

    const getCommand = (id: string, token = clinician) => app.api<CommandBody>(token, 'GET', `/api/v1/commands/${id}`);

    beforeAll(async () => {
      ({ app, brokerUrl, cleanup } = await setup.start());
      const c = await app.tokenFor('clinician');
      clinician = c.token;
      patientId = (await app.services.patientService.create({ name: 'Grace Hopper', birthDate: '1946-12-09' }, 'system')).id;
      await app.services.patientService.assignClinician(patientId, c.practitionerId!, 'system');
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await cleanup?.();
    });

    it('MEASURE reaches an online device and comes back done with the linked reading', async () => {
      const d = await newDevice();
      const { seen } = await connectDevice(d);
      await until(async () => (await app.api<{ online: boolean }>(clinician, 'GET', `/api/v1/devices/${d.id}`)).body.online, Boolean);

      const created = await app.api<{ id: string; status: string }>(clinician, 'POST', `/api/v1/devices/${d.id}/commands`, { name: 'MEASURE', args: {} });
      expect(created.status).toBe(201);
      expect(['sent', 'done']).toContain(created.body.status); // a fast device may answer before the response (command.service deliver)

      const done = await until(
        () => getCommand(created.body.id),
        (r) => r.body.status === 'done' && r.body.readings.length > 0,
      );
      expect(seen.map((c) => c.name)).toEqual(['MEASURE']);
      expect(done.body).toMatchObject({ id: created.body.id, name: 'MEASURE', status: 'done', message: 'measured', patientId });
      expect(done.body.readings).toEqual([expect.objectContaining({ code: '8310-5', value: 36.8 })]);
      expect(done.body.sentAt).not.toBeNull();
      expect(done.body.completedAt).not.toBeNull();

      const list = await app.api<CommandBody[]>(clinician, 'GET', `/api/v1/devices/${d.id}/commands`);
      expect(list.body.map((c) => c.id)).toEqual([created.body.id]);
      // Audited: who asked, and the outcome.
      const audit = await app.services.db.query<{ action: string; actor: string; outcome: string }>(
        "SELECT action, actor, outcome FROM audit_log WHERE entity_id = $1 AND action NOT IN ('read', 'access.refused') ORDER BY id",
        [created.body.id],
      );
      expect(audit.map((a) => a.action)).toEqual(['command.request', 'command.result']);
      expect(audit[0].actor).toMatch(/^user:/);
      expect(audit[1]).toMatchObject({ actor: `device:${d.id}`, outcome: 'success' });
    });

    it('queues a command for an offline device and delivers it when the device connects', async () => {
      const d = await newDevice();
      const created = await app.api<{ id: string; status: string }>(clinician, 'POST', `/api/v1/devices/${d.id}/commands`, {
        name: 'SET_INTERVAL',
        args: { seconds: 30 },
      });
      expect(created.body.status).toBe('queued');
      await new Promise((r) => setTimeout(r, 300));
      expect((await getCommand(created.body.id)).body.status).toBe('queued');

      const { seen } = await connectDevice(d);
      const done = await until(
        () => getCommand(created.body.id),
        (r) => r.body.status === 'done',
      );
      expect(done.body.status).toBe('done');
      expect(seen).toEqual([{ id: created.body.id, name: 'SET_INTERVAL', args: { seconds: 30 } }]);
    });

    it('expires a command that gets no answer, saying why', async () => {
      const d = await newDevice();
      const { seen } = await connectDevice(d, false);
      await until(async () => (await app.api<{ online: boolean }>(clinician, 'GET', `/api/v1/devices/${d.id}`)).body.online, Boolean);
      const created = await app.api<{ id: string; status: string }>(clinician, 'POST', `/api/v1/devices/${d.id}/commands`, {
        name: 'IDENTIFY',
        timeoutSeconds: 1,
      });
      expect(created.body.status).toBe('sent');
      const expired = await until(
        () => getCommand(created.body.id),
        (r) => r.body.status === 'expired',
        5000,
      );
      expect(expired.body.status).toBe('expired');
      expect(expired.body.message).toMatch(/no answer/);
      expect(seen).toHaveLength(1);
      // A late answer does not resurrect it.
      await clients.at(-1)!.publishAsync(`vigil/v1/devices/${d.id}/commands/${created.body.id}/result`, JSON.stringify({ status: 'done' }), { qos: 1 });
      await new Promise((r) => setTimeout(r, 200));
      expect((await getCommand(created.body.id)).body.status).toBe('expired');
    });

    it('re-sends an unanswered command when the device reconnects', async () => {
      const d = await newDevice();
      const first = await connectDevice(d, false);
      await until(async () => (await app.api<{ online: boolean }>(clinician, 'GET', `/api/v1/devices/${d.id}`)).body.online, Boolean);
      const created = await app.api<{ id: string; status: string }>(clinician, 'POST', `/api/v1/devices/${d.id}/commands`, { name: 'MEASURE' });
      expect(created.body.status).toBe('sent');
      await until(
        async () => first.seen.length,
        (n) => n === 1,
      );
      await first.client.endAsync(true); // gone before answering (battery, network…)

      const second = await connectDevice(d);
      const done = await until(
        () => getCommand(created.body.id),
        (r) => r.body.status === 'done',
      );
      expect(done.body.status).toBe('done');
      expect(second.seen.map((c) => c.id)).toEqual([created.body.id]);
    });

    it('expires a command queued for a device that never connects', async () => {
      const d = await newDevice();
      const created = await app.api<{ id: string; status: string }>(clinician, 'POST', `/api/v1/devices/${d.id}/commands`, {
        name: 'MEASURE',
        expiresInSeconds: 1,
      });
      expect(created.body.status).toBe('queued');
      const expired = await until(
        () => getCommand(created.body.id),
        (r) => r.body.status === 'expired',
      );
      expect(expired.body.message).toMatch(/not delivered/);
      // Connecting later does not deliver it.
      const { seen } = await connectDevice(d);
      await new Promise((r) => setTimeout(r, 800));
      expect(seen).toEqual([]);
    });

    it('validates commands per name', async () => {
      const d = devices[0];
      const noSeconds = await app.api<{ error: { message: string } }>(clinician, 'POST', `/api/v1/devices/${d.id}/commands`, {
        name: 'SET_INTERVAL',
        args: {},
      });
      expect(noSeconds.status).toBe(400);
      expect(noSeconds.body.error.message).toMatch(/seconds/);
      expect((await app.api(clinician, 'POST', `/api/v1/devices/${d.id}/commands`, { name: 'REBOOT' })).status).toBe(400);
      expect((await app.api(clinician, 'POST', '/api/v1/devices/dev_nope/commands', { name: 'MEASURE' })).status).toBe(404);
    });

    it('lets neither the patient nor a clinician outside the care team send or read commands', async () => {
      const d = devices[0];
      const patient = (await app.tokenFor('patient', { patientId })).token;
      const outsider = (await app.tokenFor('clinician')).token;
      expect((await app.api(patient, 'POST', `/api/v1/devices/${d.id}/commands`, { name: 'MEASURE' })).status).toBe(403);
      expect((await app.api(outsider, 'POST', `/api/v1/devices/${d.id}/commands`, { name: 'MEASURE' })).status).toBe(404);
      const [existing] = (await app.api<CommandBody[]>(clinician, 'GET', `/api/v1/devices/${d.id}/commands`)).body;
      expect((await getCommand(existing.id, outsider)).status).toBe(404);
      expect((await app.api(outsider, 'GET', `/api/v1/devices/${d.id}/commands`)).status).toBe(404);
      expect((await app.api('', 'POST', `/api/v1/devices/${d.id}/commands`, { name: 'MEASURE' })).status).toBe(401);
    });

    it('the simulator answers MEASURE like a real device', async () => {
      const d = await newDevice();
      const [v] = makeVirtualPatients(1, 3);
      const sim = createSimulator({
        mqttUrl: brokerUrl,
        patients: [{ patientId, name: v.name, profile: v.profile, devices: [{ deviceId: d.id, secret: d.secret, kind: 'thermometer' }] }],
      });
      await sim.start();
      try {
        await until(async () => (await app.api<{ online: boolean }>(clinician, 'GET', `/api/v1/devices/${d.id}`)).body.online, Boolean);
        const created = await app.api<{ id: string }>(clinician, 'POST', `/api/v1/devices/${d.id}/commands`, { name: 'MEASURE' });
        const done = await until(
          () => getCommand(created.body.id),
          (r) => r.body.status === 'done' && r.body.readings.length > 0,
        );
        expect(done.body.status).toBe('done');
        expect(done.body.readings.map((r) => r.code)).toContain('8310-5');
      } finally {
        await sim.stop();
      }
    });
  });
