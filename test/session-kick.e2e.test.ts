/**
 * Issue 9: credentials that end take their open connections with them, at once.
 * - An MQTT session open with a device's secret closes when the secret is rotated or the device is disabled
 *   (embedded broker), on every instance sharing the database; the old secret is then refused everywhere at
 *   once (not after the minute the authentication cache keeps an entry), and a disabled device's data is
 *   refused even when it arrives through an external broker (Mosquitto keeps its own credentials).
 * - A live WebSocket closes when its user is disabled, including a socket held by another instance.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, mosquittoAvailable, postgresAvailable, skipNote, startMosquitto } from './support/services.ts';
import { expectEventually } from './support/clinic.ts';

type Device = { id: string; secret: string };

const connect = (port: number, d: Device) =>
  mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: d.id,
    password: d.secret,
    clientId: `kick-${randomBytes(3).toString('hex')}`,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
/** Resolves when the broker drops the connection (the client does not reconnect: reconnectPeriod 0). */
const closedSoon = (c: MqttClient) => new Promise<void>((resolve) => c.once('close', () => resolve()));
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))]);
let seq = 0;
const reading = () => JSON.stringify({ seq: ++seq, spo2: 97 });

describe('device sessions on the embedded broker', () => {
  let app: TestApp;
  let admin: string;
  let patientId: string;

  beforeAll(async () => {
    app = await bootApp();
    admin = (await app.tokenFor('admin')).token;
    patientId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Kick Target' })).body.id;
  });
  afterAll(async () => app?.stop());
  const provision = async () => (await app.api<Device>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;

  it('closes an open session when its secret is rotated; the old secret is refused, the new one works', async () => {
    const d = await provision();
    const client = await connect(app.mqttPort!, d);
    await client.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, reading(), { qos: 1 });
    const closed = closedSoon(client);
    const rotated = await app.api<Device>(admin, 'POST', `/api/v1/devices/${d.id}/secret`);
    expect(rotated.status).toBe(201);
    await within(closed, 10_000, 'the session closing');
    await expect(connect(app.mqttPort!, d)).rejects.toThrow(/bad username or password|not authorized/i);
    const fresh = await connect(app.mqttPort!, { id: d.id, secret: rotated.body.secret });
    await fresh.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, reading(), { qos: 1 });
    await fresh.endAsync();
  });

  it('closes an open session when the device is disabled; nothing it sends is accepted until enabled', async () => {
    const d = await provision();
    const client = await connect(app.mqttPort!, d);
    const closed = closedSoon(client);
    const off = await app.api<{ disabled: boolean }>(admin, 'POST', `/api/v1/devices/${d.id}/disable`);
    expect(off.status).toBe(200);
    expect(off.body.disabled).toBe(true);
    await within(closed, 10_000, 'the session closing');
    await expect(connect(app.mqttPort!, d)).rejects.toThrow(/bad username or password|not authorized/i);
    const http = await fetch(`${app.httpUrl}/api/v1/devices/${d.id}/telemetry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${d.secret}`, 'content-type': 'application/json' },
      body: reading(),
    });
    expect(http.status).toBe(401);
    const on = await app.api<{ disabled: boolean }>(admin, 'POST', `/api/v1/devices/${d.id}/enable`);
    expect(on.body.disabled).toBe(false);
    const again = await connect(app.mqttPort!, d);
    await again.endAsync();
    const audit = await app.services.db.query<{ action: string }>("SELECT action FROM audit_log WHERE entity_id = $1 AND action LIKE 'device.%' ORDER BY id", [
      d.id,
    ]);
    expect(audit.map((a) => a.action)).toEqual(['device.provision', 'device.disable', 'device.enable']);
  });

  it('only an admin or the patient’s clinician may disable; bad ids are 404', async () => {
    const d = await provision();
    const outsider = await app.tokenFor('clinician');
    const patient = await app.tokenFor('patient', { patientId });
    expect((await app.api(outsider.token, 'POST', `/api/v1/devices/${d.id}/disable`)).status).toBe(404);
    expect((await app.api(patient.token, 'POST', `/api/v1/devices/${d.id}/disable`)).status).toBe(403);
    expect((await app.api(admin, 'POST', '/api/v1/devices/dev_nope/disable')).status).toBe(404);
    expect((await app.api<{ disabled: boolean }>(admin, 'GET', `/api/v1/devices/${d.id}`)).body.disabled).toBe(false);
  });

  it("closes a disabled user's live WebSocket at once", async () => {
    const u = await app.tokenFor('patient', { patientId });
    const ws = new WebSocket(app.httpUrl.replace('http', 'ws') + '/api/v1/stream', { headers: { authorization: `Bearer ${u.token}` } });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.once('message', r));
    const userId = (await app.services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [u.email]))[0].id;
    expect((await app.api(admin, 'POST', `/api/v1/users/${userId}/disable`)).status).toBe(200);
    expect(await within(closed, 10_000, 'the WebSocket closing')).toBe(4401);
  });
});

const pgReady = await postgresAvailable();
if (!pgReady) skipNote('PostgreSQL for the two-instance session kick test');

describe.skipIf(!pgReady)('two instances on one PostgreSQL', () => {
  let a: TestApp;
  let b: TestApp;
  let drop: () => Promise<void>;
  let admin: string;
  let patientId: string;

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    const env = { VIGIL_MASTER_KEY: randomBytes(32).toString('base64'), VIGIL_AUDIT_KEY: randomBytes(32).toString('base64') };
    a = await bootApp({ databaseUrl: db.url, env });
    b = await bootApp({ databaseUrl: db.url, env });
    admin = (await a.tokenFor('admin')).token;
    patientId = (await a.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Two Instances' })).body.id;
  }, 120_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await drop?.();
  });

  it("rotating on one instance closes the device's session on the other, and the old secret is refused there at once", async () => {
    const d = (await a.api<Device>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    const client = await connect(b.mqttPort!, d); // B has the secret in its authentication cache now
    const closed = closedSoon(client);
    expect((await a.api(admin, 'POST', `/api/v1/devices/${d.id}/secret`)).status).toBe(201);
    await within(closed, 10_000, "instance B closing the device's session");
    await expectEventually(() => expect(connect(b.mqttPort!, d)).rejects.toThrow(/bad username or password|not authorized/i), 10_000);
  });

  it('disabling a user on one instance closes their WebSocket on the other', async () => {
    const u = await a.tokenFor('patient', { patientId });
    const ws = new WebSocket(b.httpUrl.replace('http', 'ws') + '/api/v1/stream', { headers: { authorization: `Bearer ${u.token}` } });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.once('message', r));
    const userId = (await a.services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [u.email]))[0].id;
    expect((await a.api(admin, 'POST', `/api/v1/users/${userId}/disable`)).status).toBe(200);
    expect(await within(closed, 10_000, 'the WebSocket on instance B closing')).toBe(4401);
  });
});

const mosqReady = mosquittoAvailable();
if (!mosqReady) skipNote('Mosquitto for the external-broker disabled-device test');

describe.skipIf(!mosqReady)('a disabled device behind an external broker', () => {
  let app: TestApp;
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  beforeAll(async () => {
    broker = await startMosquitto();
    app = await bootApp({ mqttUrl: broker.url });
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await broker?.stop();
  });

  it('its readings are refused (recorded as rejections), not stored', async () => {
    const admin = (await app.tokenFor('admin')).token;
    const patientId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'External Kick' })).body.id;
    const d = (await app.api<Device>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    expect((await app.api(admin, 'POST', `/api/v1/devices/${d.id}/disable`)).status).toBe(200);
    // Mosquitto here accepts anyone (its own password file is its business): the device still publishes.
    const client = await mqtt.connectAsync(broker.url, { clientId: `ext-${randomBytes(3).toString('hex')}`, reconnectPeriod: 0 });
    await client.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, reading(), { qos: 1 });
    await client.endAsync();
    await expectEventually(async () => {
      const r = await app.services.db.query<{ reason: string }>('SELECT reason FROM rejected_payloads WHERE device_id = $1', [d.id]);
      expect(r.map((x) => x.reason)).toContain(`device ${d.id} is disabled`);
    }, 20_000);
    expect((await app.services.db.query('SELECT 1 FROM readings WHERE device_id = $1', [d.id])).length).toBe(0);
  });
});
