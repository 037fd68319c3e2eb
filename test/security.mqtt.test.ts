/**
 * Issue 9 (F13–F18), hostile devices on the embedded broker: a 64 MB packet, thousands of readings in one
 * message, hundreds of sessions on one credential, a client id that kicks another device off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import net from 'node:net';
import { bootApp, type TestApp } from './support/app.ts';

let app: TestApp;
let a: { id: string; secret: string };
let b: { id: string; secret: string };
let patientId: string;
let adminToken: string;
const url = () => `mqtt://127.0.0.1:${app.mqttPort}`;
const count = async () => Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings WHERE patient_id = $1', [patientId]))[0].n);

beforeAll(async () => {
  app = await bootApp();
  const admin = await app.tokenFor('admin');
  adminToken = admin.token;
  patientId = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Mqtt Target' })).body.id;
  a = (await app.api<{ id: string; secret: string }>(admin.token, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
  b = (await app.api<{ id: string; secret: string }>(admin.token, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
});
afterAll(async () => app?.stop());

const connect = (d: { id: string; secret: string }, clientId = d.id) =>
  mqtt.connectAsync(url(), { username: d.id, password: d.secret, clientId, reconnectPeriod: 0, connectTimeout: 5000 });

describe('hostile MQTT devices', () => {
  it('closes a connection announcing a 64 MB packet from its header, and keeps serving others', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(app.mqttPort!, '127.0.0.1', () => {
        // PUBLISH fixed header with remaining length 64 MiB (varint 0x80 0x80 0x80 0x20), then a trickle of bytes.
        s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x20]));
        s.write(Buffer.alloc(1024, 0x61));
      });
      s.on('close', () => resolve(true));
      s.on('error', () => undefined);
      setTimeout(() => resolve(false), 5000);
    });
    expect(closed).toBe(true);
    const c = await connect(a);
    await c.publishAsync(`vigil/v1/devices/${a.id}/telemetry`, JSON.stringify({ hr: 70 }), { qos: 1 });
    await c.endAsync();
  });

  const rejectedOf = async (id: string) =>
    (await app.services.db.query<{ reason: string; topic: string }>('SELECT reason, topic FROM rejected_payloads WHERE device_id = $1 ORDER BY id', [id])).map(
      (r) => `${r.topic.split('/').slice(4).join('/')}: ${r.reason}`,
    );

  it('refuses a message with 5,000 readings (under the packet ceiling) with a reason an admin sees, acknowledged; the next normal one is stored', async () => {
    const before = await count();
    const c = await connect(a);
    const readings = Array.from({ length: 5_000 }, (_, i) => ({ code: '8867-4', value: 60 + (i % 30), unit: '/min', ts: Date.now() - i * 1000 }));
    await c.publishAsync(`vigil/v1/devices/${a.id}/telemetry`, JSON.stringify({ readings }), { qos: 1 });
    await c.publishAsync(`vigil/v1/devices/${a.id}/telemetry`, JSON.stringify({ hr: 71 }), { qos: 1 });
    await c.endAsync();
    expect(await count()).toBe(before + 1);
    expect(await rejectedOf(a.id)).toContain('telemetry: a telemetry message carries at most 500 readings (this one 5000): send them in several');
    // Over HTTP the same: a 4xx with the reason, nothing stored.
    const res = await fetch(`${app.httpUrl}/api/v1/devices/${a.id}/telemetry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ readings: readings.slice(0, 600) }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(JSON.stringify(await res.json())).toMatch(/at most 500 readings \(this one 600\)/);
    expect(await count()).toBe(before + 1);
  });

  it('keeps no retained message (a device could fill the broker with them), and counts a publish to an unknown subtopic', async () => {
    const c = await connect(b);
    await c.publishAsync(`vigil/v1/devices/${b.id}/junk/1`, Buffer.alloc(512 * 1024, 0x61), { qos: 1, retain: true });
    await c.publishAsync(`vigil/v1/devices/${b.id}/Telemetry`, JSON.stringify({ hr: 70 }), { qos: 1, retain: true });
    const retained: string[] = [];
    c.on('message', (topic) => retained.push(topic));
    await c.subscribeAsync(`vigil/v1/devices/${b.id}/#`, { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    await c.endAsync();
    expect(retained).toEqual([]);
    const reasons = await rejectedOf(b.id);
    expect(reasons).toContain(`junk/1: unknown topic: a device publishes to vigil/v1/devices/${b.id}/telemetry, /ecg, /status or /commands/{id}/result`);
    expect(reasons.some((r) => r.startsWith('Telemetry: unknown topic'))).toBe(true);
    const [dev] = await app.services.db.query<{ rejected_count: number }>('SELECT rejected_count FROM devices WHERE id = $1', [b.id]);
    expect(Number(dev.rejected_count)).toBe(2);
  });

  it("a device using another device's client id gets its own session and does not kick the other off", async () => {
    const victim = await connect(b);
    let kicked = false;
    victim.on('close', () => (kicked = true));
    const intruder = await connect(a, b.id);
    await new Promise((r) => setTimeout(r, 500));
    expect(kicked).toBe(false);
    expect(victim.connected).toBe(true);
    await intruder.endAsync();
    await victim.endAsync();
  });

  it('limits live sessions per device credential', async () => {
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await connect(a, `${a.id}-${i}`));
    await expect(connect(a, `${a.id}-x`)).rejects.toThrow();
    await Promise.all(clients.map((c) => c.endAsync()));
    await new Promise((r) => setTimeout(r, 200));
    const again = await connect(a, `${a.id}-y`);
    await again.endAsync();
  });

  it('rotating a device secret refuses the old one at once (MQTT and HTTP), and the new one works', async () => {
    const d = (await app.api<{ id: string; secret: string }>(adminToken, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    const old = await connect(d);
    await old.endAsync();
    const clinician = await app.tokenFor('clinician'); // not on this patient's care team
    expect((await app.api(clinician.token, 'POST', `/api/v1/devices/${d.id}/secret`)).status).toBe(404);
    const rotated = await app.api<{ id: string; secret: string }>(adminToken, 'POST', `/api/v1/devices/${d.id}/secret`);
    expect(rotated.status).toBe(201);
    expect(rotated.body.secret).not.toBe(d.secret);
    await expect(connect(d)).rejects.toThrow();
    const http = (secret: string) =>
      fetch(`${app.httpUrl}/api/v1/devices/${d.id}/telemetry`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ hr: 66 }),
      });
    expect((await http(d.secret)).status).toBe(401);
    expect((await http(rotated.body.secret)).status).toBe(202);
    const fresh = await connect({ id: d.id, secret: rotated.body.secret });
    await fresh.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, JSON.stringify({ hr: 67 }), { qos: 1 });
    await fresh.endAsync();
    const audit = await app.services.db.query<{ action: string }>("SELECT action FROM audit_log WHERE entity_id = $1 AND action = 'device.secret.rotate'", [
      d.id,
    ]);
    expect(audit).toHaveLength(1);
  });
});
