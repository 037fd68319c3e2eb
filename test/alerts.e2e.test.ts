/**
 * Alerts end to end on real parts: the real app (PGlite + embedded aedes) on random ports, a device
 * publishing over MQTT, a clinician's WebSocket, a real SMTP server and a signed-webhook receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { loadConfig } from '../src/config/config.ts';
import { startApp, type RunningApp } from '../src/app.ts';
import { createLogger } from '../src/platform/logger.ts';
import { freePort } from './support/ports.ts';
import { eventually, movableClock, startSmtp, startWebhookReceiver } from './alerts.support.ts';

const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';
const MIN = 60_000;

describe('alerts end to end', () => {
  let app: RunningApp;
  let dataDir: string;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const clock = movableClock();
  let admin: string;
  let nurse: { token: string; email: string; id: string };
  let outsider: string;
  let patientId: string;
  let device: { id: string; secret: string };
  let client: mqtt.MqttClient;
  let ws: WebSocket;
  const live: Array<{ type: string; event?: string; alert?: { id: string; severity: string } }> = [];

  const api = async <T = any>(token: string, method: string, url: string, body?: unknown) => {
    const res = await fetch(app.httpUrl + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as T };
  };
  const user = async (role: 'admin' | 'clinician') => {
    const email = `${role}-${Math.random().toString(36).slice(2, 7)}@test.vigil`;
    const u = await app.services.auth.createUser({ email, role, password: 'correct horse battery' }, 'system');
    return { ...u, token: (await app.services.auth.createToken(email, 't', 'system')).token };
  };
  /** Publishes SpO2 readings `values` one every `stepMs` of device time, starting at `from`. */
  const publishSpo2 = async (values: number[], from: number, stepMs: number) => {
    for (const [i, v] of values.entries())
      await client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, JSON.stringify({ ts: from + i * stepMs, spo2: v }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    await app.services.alerts.monitor.idle();
  };
  const alertsOf = (token: string, q = '') =>
    api<Array<{ id: string; rule: string; severity: string; status: string; escalationLevel: number; resolutionNote: string | null; ruleVersion: number }>>(
      token,
      'GET',
      `/api/v1/alerts?patient=${patientId}${q}`,
    );

  beforeAll(async () => {
    smtp = await startSmtp();
    hook = await startWebhookReceiver(WEBHOOK_SECRET);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-alerts-'));
    const config = loadConfig({
      VIGIL_HTTP_PORT: '0',
      VIGIL_HTTP_HOST: '127.0.0.1',
      VIGIL_MQTT_PORT: String(await freePort()),
      VIGIL_DATA_DIR: dataDir,
      VIGIL_DEMO: '0',
      VIGIL_LOG_LEVEL: 'silent',
    });
    app = await startApp(config, {
      logger: createLogger('silent'),
      clock,
      alerts: {
        smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
        webhookUrl: hook.url,
        webhookSecret: WEBHOOK_SECRET,
        tickMs: 3_600_000,
        deliveryPollMs: 50,
        deliveryBackoffMs: 50,
      },
    });
    admin = (await user('admin')).token;
    const n = await user('clinician');
    nurse = { token: n.token, email: n.email, id: n.id };
    outsider = (await user('clinician')).token;
    patientId = (await app.services.patientService.create({ name: 'Grace Hopper' }, 'system')).id;
    await app.services.patientService.assignClinician(patientId, n.practitionerId!, 'system');
    device = (await api(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    // SpO2 88 % also scores 3 in NEWS2 (a second, legitimate alert); switch NEWS2 off for this patient to watch one rule.
    const off = await api(nurse.token, 'PUT', '/api/v1/alert-rules/news2', {
      scope: 'patient',
      scopeId: patientId,
      enabled: false,
      definition: { kind: 'news2', bands: {} },
    });
    expect(off.status).toBe(200);
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, {
      username: device.id,
      password: device.secret,
      clientId: `${device.id}-t`,
      reconnectPeriod: 0,
    });
    ws = new WebSocket(`${app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${nurse.token}`);
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString());
      if (msg.type === 'alert') live.push(msg);
    });
    await new Promise((r) => ws.once('open', r));
  });

  afterAll(async () => {
    ws?.close();
    await client?.endAsync();
    await app?.close();
    await smtp?.close();
    await hook?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a flapping SpO2 (88 ↔ 91 for 10 min) yields ONE alert, one email, one webhook — not hundreds', async () => {
    const start = Date.now() - 14.5 * MIN; // device time, in the past: later tests' readings must come after these (late readings are history)
    await publishSpo2(
      Array.from({ length: 300 }, (_, i) => (i % 2 ? 91 : 88)),
      start,
      2_000,
    );
    const open = await alertsOf(nurse.token, '&status=open');
    expect(open.status).toBe(200);
    expect(open.body).toHaveLength(1);
    expect(open.body[0]).toMatchObject({ rule: 'spo2-low', severity: 'critical', status: 'open', ruleVersion: 1 });
    expect(live.filter((m) => m.event === 'opened')).toHaveLength(1);
    const mails = await eventually(
      () => smtp.mails,
      (m) => m.length >= 1,
    );
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual([nurse.email]);
    expect(mails[0]!.subject).toMatch(/CRITICAL.*Grace Hopper.*SpO₂/);
    const hooks = await eventually(
      () => hook.received,
      (h) => h.length >= 1,
    );
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({ validSignature: true, body: { event: 'alert.opened' } });
    const panel = await api<Array<{ id: string; openAlerts: number; status: string }>>(nurse.token, 'GET', '/api/v1/patients');
    expect(panel.body.find((p) => p.id === patientId)).toMatchObject({ openAlerts: 1, status: 'alert' });
  });

  it('a clinician of another care team sees nothing and cannot act', async () => {
    expect((await api(outsider, 'GET', '/api/v1/alerts')).body).toEqual([]);
    expect((await alertsOf(outsider)).status).toBe(404);
    const id = (await alertsOf(nurse.token)).body[0]!.id;
    expect((await api(outsider, 'POST', `/api/v1/alerts/${id}/acknowledge`, {})).status).toBe(404);
    expect((await api(outsider, 'GET', `/api/v1/alerts/${id}`)).status).toBe(404);
  });

  it('escalates when nobody acknowledges (5 min → care team, 15 min → admins), then stops once acknowledged', async () => {
    const [alert] = (await alertsOf(nurse.token)).body;
    clock.advance(4 * MIN);
    await app.services.alerts.monitor.tick();
    expect((await alertsOf(nurse.token)).body[0]!.escalationLevel).toBe(0);
    clock.advance(2 * MIN);
    await app.services.alerts.monitor.tick();
    expect((await alertsOf(nurse.token)).body[0]!.escalationLevel).toBe(1);
    expect(live.filter((m) => m.event === 'escalated')).toHaveLength(1);
    await eventually(
      () => smtp.mails,
      (m) => m.length >= 2,
    );
    expect(smtp.mails[1]!.subject).toMatch(/escalated, level 1/);

    const ack = await api(nurse.token, 'POST', `/api/v1/alerts/${alert!.id}/acknowledge`, { note: 'calling patient' });
    expect(ack.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: nurse.id });
    clock.advance(30 * MIN);
    await app.services.alerts.monitor.tick();
    expect((await alertsOf(nurse.token)).body[0]!.escalationLevel).toBe(1);
    const audit = await app.services.db.query<{ action: string; actor: string }>(
      `SELECT action, actor FROM audit_log WHERE entity_id = $1 AND action NOT IN ('read', 'access.refused') ORDER BY id`,
      [alert!.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['alert.opened', 'alert.escalated', 'alert.acknowledged']);
    expect(audit[2]!.actor).toBe(`user:${nurse.id}`);
  });

  it('auto-resolves with a note once SpO2 stays above 92', async () => {
    clock.reset(); // back to device time: readings that seem > 15 min old are treated as backfill
    await publishSpo2([95, 96, 96, 97], Date.now() - 4 * MIN, 30_000);
    const all = (await alertsOf(nurse.token)).body;
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ status: 'resolved' });
    expect(all[0]!.resolutionNote).toMatch(/^auto: SpO₂ back to 9\d/);
  });

  it('snooze needs a reason; assign; resolve by hand', async () => {
    await publishSpo2([85, 85, 85, 85, 85], Date.now() - 2 * MIN - 20_000, 30_000);
    const [a] = (await alertsOf(nurse.token, '&status=open')).body;
    expect(a).toBeDefined();
    expect((await api(nurse.token, 'POST', `/api/v1/alerts/${a!.id}/snooze`, { minutes: 30 })).status).toBe(400);
    expect((await api(nurse.token, 'POST', `/api/v1/alerts/${a!.id}/snooze`, { minutes: 30, reason: 'on oxygen, rechecking' })).body).toMatchObject({
      snoozeReason: 'on oxygen, rechecking',
    });
    clock.advance(10 * MIN);
    await app.services.alerts.monitor.tick();
    expect((await alertsOf(nurse.token, '&status=open')).body[0]!.escalationLevel).toBe(0); // snoozed: no escalation
    expect((await api(nurse.token, 'POST', `/api/v1/alerts/${a!.id}/assign`, { userId: nurse.id })).body).toMatchObject({ assigneeId: nurse.id });
    expect((await api(nurse.token, 'POST', `/api/v1/alerts/${a!.id}/resolve`, { note: 'sensor off finger' })).body).toMatchObject({
      status: 'resolved',
      resolutionNote: 'sensor off finger',
    });
    expect((await api(nurse.token, 'POST', `/api/v1/alerts/${a!.id}/resolve`, {})).status).toBe(409);
  });

  it('rules are versioned data: a patient override makes a new version that the next alert records', async () => {
    const definition = { kind: 'threshold', code: '59408-5', op: 'below', value: 94, clearAt: 95, forMs: 0, severity: 'warning' };
    expect(
      (await api(nurse.token, 'PUT', '/api/v1/alert-rules/spo2-low', { scope: 'patient', scopeId: patientId, definition: { ...definition, clearAt: 90 } }))
        .status,
    ).toBe(400);
    expect((await api(outsider, 'PUT', '/api/v1/alert-rules/spo2-low', { scope: 'patient', scopeId: patientId, definition })).status).toBe(404);
    expect((await api(nurse.token, 'PUT', '/api/v1/alert-rules/spo2-low', { scope: 'clinic', definition })).status).toBe(403);
    const v1 = await api(nurse.token, 'PUT', '/api/v1/alert-rules/spo2-low', {
      scope: 'patient',
      scopeId: patientId,
      definition: { ...definition, value: 93 },
    });
    const v2 = await api(nurse.token, 'PUT', '/api/v1/alert-rules/spo2-low', { scope: 'patient', scopeId: patientId, definition });
    expect([v1.body.version, v2.body.version]).toEqual([1, 2]);
    expect(v2.body.id).toBe(v1.body.id);
    const eff = await api(nurse.token, 'GET', `/api/v1/alert-rules?patient=${patientId}`);
    expect(eff.body.effective.find((r: { key: string }) => r.key === 'spo2-low')).toMatchObject({ scope: 'patient', version: 2 });
    await publishSpo2([93], Date.now(), 1000);
    const [a] = (await alertsOf(nurse.token, '&status=open')).body;
    expect(a).toMatchObject({ rule: 'spo2-low', severity: 'warning', ruleVersion: 2 });
    const versions = await api(nurse.token, 'GET', `/api/v1/alert-rules/${v2.body.id}/versions`);
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
  });

  it('a lone spot SpO2 of 80 % raises at the tick once 2 min have passed with nothing after it (found by review: it never raised)', async () => {
    clock.reset();
    const pid = (await app.services.patientService.create({ name: 'Spot Check' }, 'system')).id;
    const dev = await app.services.deviceService.provision({ patientId: pid, type: 'pulse-oximeter' }, 'system');
    expect((await app.services.ingest.acceptTelemetry(dev.id, JSON.stringify({ ts: Date.now(), seq: 1, spo2: 80 }))).ok).toBe(true);
    const spo2Alerts = async () => (await app.services.db.query("SELECT id FROM alerts WHERE patient_id = $1 AND rule_key = 'spo2-low'", [pid])).length;
    await eventually(
      () => app.services.alerts.monitor.idle().then(() => true),
      (v) => v,
    );
    await app.services.alerts.monitor.tick();
    expect(await spo2Alerts()).toBe(0); // not at once: a streaming oximeter's next reading may contradict a blip
    clock.advance(2 * MIN + 1000);
    await app.services.alerts.monitor.tick();
    expect(await spo2Alerts()).toBe(1);
  });

  it("stamps a device's last contact with the app's Clock, not the machine's (device-offline and missing-data rules read it)", async () => {
    clock.advance(3 * 60 * MIN);
    await client.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, JSON.stringify({ spo2: 97 }), { qos: 1 });
    const seen = await eventually(
      async () => (await api<{ lastSeenAt: number | null }>(nurse.token, 'GET', `/api/v1/devices/${device.id}`)).body.lastSeenAt ?? 0,
      (t) => t >= Date.now() + 3 * 60 * MIN - MIN,
      15_000,
    );
    expect(seen).toBeGreaterThanOrEqual(Date.now() + 3 * 60 * MIN - MIN);
    expect(seen).toBeLessThanOrEqual(clock.now());
  });
});
