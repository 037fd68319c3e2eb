/**
 * The live feed's scoping on the real server: every message goes only to users who may see its patient
 * (clinician: their care team; patient: themself; admin: all), ECG only after subscribing to a visible
 * patient, and every message the server sends parses as the versioned wire union (api/contracts/live.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bootApp, type TestApp } from '../../test/support/app.ts';
import { eventually } from '../../test/support/eventually.ts';
import { LIVE_PROTOCOL_VERSION, LiveServerMessage } from './contracts/index.ts';

interface Client {
  ws: WebSocket;
  got: LiveServerMessage[];
  invalid: unknown[];
  send(m: unknown): void;
  close(): void;
}

describe('live gateway scoping', () => {
  let app: TestApp;
  let a: string;
  let b: string;
  const devices: Record<string, { id: string; secret: string }> = {};
  const clients: Client[] = [];

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    a = (await s.patientService.create({ name: 'Scoped A' }, 'system')).id;
    b = (await s.patientService.create({ name: 'Scoped B' }, 'system')).id;
    devices.a = await s.deviceService.provision({ patientId: a, type: 'multi' }, 'system');
    devices.b = await s.deviceService.provision({ patientId: b, type: 'multi' }, 'system');
    devices.ecgA = await s.deviceService.provision({ patientId: a, type: 'ecg' }, 'system');
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    if (app) await app.stop();
  });

  async function connect(token: string): Promise<Client> {
    const ws = new WebSocket(`${app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${token}`);
    const c: Client = { ws, got: [], invalid: [], send: (m) => ws.send(JSON.stringify(m)), close: () => ws.close() };
    ws.on('message', (raw, isBinary) => {
      if (isBinary) c.invalid.push({ binaryFrame: raw.toString() }); // browsers JSON.parse text frames; a binary one arrives as a Blob
      const parsed = LiveServerMessage.safeParse(JSON.parse(raw.toString()));
      if (parsed.success) c.got.push(parsed.data);
      else c.invalid.push(JSON.parse(raw.toString()));
    });
    await new Promise((r) => ws.once('open', r));
    await eventually(
      () => c.got.some((m) => m.type === 'hello'),
      (v) => v,
    );
    clients.push(c);
    return c;
  }

  const post = (d: { id: string; secret: string }, kind: 'telemetry' | 'ecg', body: unknown) =>
    fetch(`${app.httpUrl}/api/v1/devices/${d.id}/${kind}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${d.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const readingsOf = (c: Client) => c.got.filter((m): m is Extract<LiveServerMessage, { type: 'readings' }> => m.type === 'readings').map((m) => m.patientId);

  it('sends each patient’s readings only to those who may see that patient', async () => {
    const nurse = await app.tokenFor('clinician');
    await app.services.patientService.assignClinician(a, nurse.practitionerId!, 'system');
    const [admin, clinicianA, outsider, patientA] = await Promise.all([
      app.tokenFor('admin').then((t) => connect(t.token)),
      connect(nurse.token),
      app.tokenFor('clinician').then((t) => connect(t.token)),
      app.tokenFor('patient', { patientId: a }).then((t) => connect(t.token)),
    ]);
    const hello = clinicianA.got.find((m) => m.type === 'hello');
    expect(hello).toMatchObject({ type: 'hello', protocol: LIVE_PROTOCOL_VERSION, role: 'clinician' });

    const now = Date.now();
    expect((await post(devices.a, 'telemetry', { ts: now, seq: 1, hr: 71 })).status).toBe(202);
    expect((await post(devices.b, 'telemetry', { ts: now, seq: 1, hr: 72 })).status).toBe(202);
    await eventually(
      () => readingsOf(admin),
      (v) => v.includes(a) && v.includes(b),
    );
    await new Promise((r) => setTimeout(r, 300)); // time for any wrongly routed message to arrive

    expect(new Set(readingsOf(admin))).toEqual(new Set([a, b]));
    expect(new Set(readingsOf(clinicianA))).toEqual(new Set([a]));
    expect(new Set(readingsOf(patientA))).toEqual(new Set([a]));
    expect(readingsOf(outsider)).toEqual([]);
    // Nothing about B reaches the others in any message type.
    for (const c of [clinicianA, patientA, outsider]) expect(JSON.stringify(c.got)).not.toContain(b);
    for (const c of [admin, clinicianA, outsider, patientA]) expect(c.invalid).toEqual([]);
  });

  it('streams ECG only after subscribing, and refuses a subscription to a patient out of scope', async () => {
    const nurse = await app.tokenFor('clinician');
    await app.services.patientService.assignClinician(a, nurse.practitionerId!, 'system');
    const c = await connect(nurse.token);
    const chunk = (seq: number) => ({
      ts: Date.now(),
      seq,
      fs: 250,
      lead: 'II',
      unit: 'uV',
      samples: Array.from({ length: 250 }, (_, i) => Math.round(300 * Math.sin(i / 10))),
    });

    expect((await post(devices.ecgA, 'ecg', chunk(1))).status).toBe(202);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.got.filter((m) => m.type === 'ecg')).toEqual([]);

    c.send({ type: 'subscribe-ecg', patientId: b });
    await eventually(
      () => c.got.filter((m) => m.type === 'error'),
      (v) => v.length > 0,
    );
    expect(c.got.find((m) => m.type === 'error')).toEqual({ type: 'error', message: `patient ${b} not found` });

    c.send({ type: 'subscribe-ecg', patientId: a });
    await new Promise((r) => setTimeout(r, 200));
    expect((await post(devices.ecgA, 'ecg', chunk(2))).status).toBe(202);
    const ecg = await eventually(
      () => c.got.filter((m) => m.type === 'ecg'),
      (v) => v.length > 0,
    );
    expect(ecg[0]).toMatchObject({ type: 'ecg', patientId: a, deviceId: devices.ecgA.id, fs: 250, lead: 'II' });

    c.send({ type: 'ping' });
    await eventually(
      () => c.got.some((m) => m.type === 'pong'),
      (v) => v,
    );
    c.send('not json at all');
    expect(c.invalid).toEqual([]);
  });

  it('closes an unauthenticated socket with 4401', async () => {
    const ws = new WebSocket(`${app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=vgl_forged`);
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(4401);
  });

  it('in strict mode (tests, CI) a message that drifts from the wire union is not sent: the client is told, naming the field', async () => {
    const admin = await connect((await app.tokenFor('admin')).token);
    // A producer bug: an alert event whose alert lacks most of its fields.
    app.services.events.emit('alert.changed', { event: 'opened', patientId: a, alert: { id: 'alr_broken', patientId: a } } as never);
    const told = await eventually(
      () => admin.invalid.concat(admin.got.filter((m) => m.type === 'error')),
      (v) => v.length > 0,
    );
    expect((told[0] as { message: string }).message).toMatch(/^live message "alert" does not match its contract at alert\.\w+/);
    expect(admin.got.some((m) => m.type === 'alert')).toBe(false);
  });
});
