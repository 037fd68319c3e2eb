/**
 * ONC §170.315(d)(9) trusted connection, served by Vigil itself: with VIGIL_TLS_CERT / VIGIL_TLS_KEY the web
 * app, APIs and WebSocket answer over HTTPS (HSTS, Secure cookies) and the embedded broker also takes MQTT
 * over TLS on VIGIL_MQTTS_PORT, with the same device credentials. A self-signed certificate made here with
 * openssl stands in for the clinic's; clients trust exactly it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { bootApp, type TestApp } from './support/app.ts';
import { freePort } from './support/ports.ts';
import { skipNote } from './support/services.ts';
import { loadConfig } from '../src/config/config.ts';
import { loadTls } from '../src/auth/tls.ts';

const haveOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0;
if (!haveOpenssl) skipNote('openssl (to make a test certificate) for the HTTPS/MQTTS test');

function get(url: string, ca: Buffer | undefined, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe.skipIf(!haveOpenssl)('HTTPS and MQTTS with a configured certificate', () => {
  let dir: string;
  let cert: Buffer;
  let app: TestApp;
  let mqttsPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = await readFile(path.join(dir, 'cert.pem'));
    mqttsPort = await freePort();
    app = await bootApp({ env: { VIGIL_TLS_CERT: path.join(dir, 'cert.pem'), VIGIL_TLS_KEY: path.join(dir, 'key.pem'), VIGIL_MQTTS_PORT: String(mqttsPort) } });
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with HSTS; a client that does not trust the certificate is refused', async () => {
    expect(app.httpUrl).toMatch(/^https:\/\/localhost:\d+$/);
    const health = await get(`${app.httpUrl}/health`, cert);
    expect(health.status).toBe(200);
    expect(String(health.headers['strict-transport-security'])).toMatch(/max-age=31536000/);
    await expect(get(`${app.httpUrl}/health`, undefined)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    // Plain HTTP on the HTTPS port gets no API answer.
    const plain = await fetch(app.httpUrl.replace('https:', 'http:') + '/health')
      .then((r) => r.status)
      .catch(() => 'refused');
    expect(plain).not.toBe(200);
  });

  it('sets the session cookie Secure (and httpOnly, SameSite=Strict)', async () => {
    const u = await app.tokenFor('admin');
    const r = await get(`${app.httpUrl}/api/v1/auth/login`, cert, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: u.email, password: 'correct horse battery' }),
    });
    expect(r.status).toBe(200);
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/;\s*Secure/i);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
  });

  it('takes device MQTT over TLS with the device secret; a wrong secret is refused', async () => {
    const admin = (await app.tokenFor('admin')).token;
    const patient = await get(`${app.httpUrl}/api/v1/patients`, cert, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Tls Patient' }),
    });
    const patientId = (JSON.parse(patient.body) as { id: string }).id;
    const dev = await get(`${app.httpUrl}/api/v1/devices`, cert, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ patientId, type: 'pulse-oximeter' }),
    });
    const d = JSON.parse(dev.body) as { id: string; secret: string };
    expect(app.gateway && (app.gateway as { mqttsPort?: number | null }).mqttsPort).toBe(mqttsPort);
    const client = await mqtt.connectAsync(`mqtts://localhost:${mqttsPort}`, {
      ca: cert,
      username: d.id,
      password: d.secret,
      clientId: 'tls-1',
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    await client.publishAsync(`vigil/v1/devices/${d.id}/telemetry`, JSON.stringify({ seq: 1, spo2: 96 }), { qos: 1 });
    await client.endAsync();
    const rows = await app.services.db.query('SELECT 1 FROM readings WHERE device_id = $1', [d.id]);
    expect(rows.length).toBe(1);
    await expect(
      mqtt.connectAsync(`mqtts://localhost:${mqttsPort}`, {
        ca: cert,
        username: d.id,
        password: 'wrong',
        clientId: 'tls-2',
        reconnectPeriod: 0,
        connectTimeout: 5000,
      }),
    ).rejects.toThrow(/bad username or password|not authorized/i);
  });

  it('names the setting when the certificate settings are incomplete or unreadable', async () => {
    expect(() => loadConfig({ VIGIL_TLS_CERT: '/x/cert.pem' })).toThrow(/VIGIL_TLS_KEY/);
    await expect(loadTls({ certFile: path.join(dir, 'missing.pem'), keyFile: path.join(dir, 'key.pem'), mqttsPort: 0 })).rejects.toThrow(
      /VIGIL_TLS_CERT: cannot read/,
    );
    await expect(loadTls({ certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'cert.pem'), mqttsPort: 0 })).rejects.toThrow(/VIGIL_TLS_KEY/);
  });
});
