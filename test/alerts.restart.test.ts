/**
 * No lost alert, no double send: the server runs as a child process (`node bin/vigil.js start`), opens
 * alerts whose emails cannot be delivered yet (the SMTP server answers 451), is SIGKILLed, and restarted
 * with the SMTP server accepting. The alerts are still there and every pending email arrives exactly once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './support/ports.ts';
import { eventually, startSmtp } from './alerts.support.ts';

const MIN = 60_000;

describe('alerts survive a crash', () => {
  const children: ChildProcess[] = [];
  let dataDir = '';
  let smtp: Awaited<ReturnType<typeof startSmtp>> | null = null;

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await smtp?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; token: string }> {
    const child = spawn(process.execPath, ['bin/vigil.js', 'start'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await eventually(
      () => out,
      (o) => o.includes('Vigil is running') || child.exitCode !== null,
      60_000,
    );
    if (!out.includes('Vigil is running')) throw new Error(`server did not start:\n${out}`);
    const info = JSON.parse(await readFile(path.join(env.VIGIL_DATA_DIR!, 'server.json'), 'utf8')) as { url: string; token: string };
    return { child, url: info.url, token: info.token };
  }

  it('open alerts and pending notifications survive SIGKILL; each email is sent exactly once after restart', async () => {
    smtp = await startSmtp();
    smtp.accept = false;
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-alerts-crash-'));
    const env = {
      VIGIL_DATA_DIR: dataDir,
      VIGIL_HTTP_PORT: String(await freePort()),
      VIGIL_HTTP_HOST: '127.0.0.1',
      VIGIL_MQTT_PORT: String(await freePort()),
      VIGIL_DEMO: '0',
      VIGIL_LOG_LEVEL: 'warn',
      VIGIL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      VIGIL_DELIVERY_POLL_MS: '100',
      VIGIL_DELIVERY_BACKOFF_MS: '300',
      VIGIL_DELIVERY_MAX_BACKOFF_MS: '1000',
      VIGIL_DELIVERY_MAX_ATTEMPTS: '100',
      VIGIL_DELIVERY_LEASE_MS: '3000', // a job claimed at the instant of the kill is retried after this lease
    };
    let server = await startServer(env);
    const api = async <T = any>(method: string, url: string, body?: unknown, token = server.token) => {
      const res = await fetch(server.url + url, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json().catch(() => null)) as T };
    };

    // Two clinicians on one care team, two patients each with an oximeter sending SpO2 84 % for 3 min.
    const clinicians = [];
    for (const name of ['ann', 'ben']) {
      const u = await api<{ id: string; practitionerId: string }>('POST', '/api/v1/users', {
        email: `${name}@crash.test`,
        role: 'clinician',
        password: 'correct horse battery',
      });
      expect(u.status).toBe(201);
      clinicians.push(u.body);
    }
    const patients: string[] = [];
    for (const name of ['P One', 'P Two']) {
      const p = await api<{ id: string }>('POST', '/api/v1/patients', { name });
      patients.push(p.body.id);
      for (const c of clinicians) expect((await api('POST', `/api/v1/patients/${p.body.id}/care-team`, { practitionerId: c.practitionerId })).status).toBe(204);
      // NEWS2 off for this patient: one rule, one alert each, so the count below is exact.
      expect(
        (await api('PUT', '/api/v1/alert-rules/news2', { scope: 'patient', scopeId: p.body.id, enabled: false, definition: { kind: 'news2', bands: {} } }))
          .status,
      ).toBe(200);
      const d = await api<{ id: string; secret: string }>('POST', '/api/v1/devices', { patientId: p.body.id, type: 'pulse-oximeter' });
      const now = Date.now();
      for (let i = 0; i <= 6; i++) {
        const res = await fetch(`${server.url}/api/v1/devices/${d.body.id}/telemetry`, {
          method: 'POST',
          headers: { authorization: `Bearer ${d.body.secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ts: now - 3 * MIN + i * 30_000, spo2: 84 }),
        });
        expect(res.status).toBe(202);
      }
    }
    const open = await eventually(
      () => api<unknown[]>('GET', '/api/v1/alerts?status=open'),
      (r) => r.body.length === 2,
    );
    expect(open.body).toHaveLength(2);
    await eventually(
      () => smtp!.rejected,
      (n) => n >= 4,
    ); // every job tried at least once and refused (451): all pending
    expect(smtp.mails).toHaveLength(0);

    server.child.kill('SIGKILL');
    await new Promise((r) => server.child.once('exit', r));
    smtp.accept = true;
    server = await startServer(env);

    const after = await api<Array<{ id: string; status: string }>>('GET', '/api/v1/alerts?status=open');
    expect(after.body.map((a) => a.id).sort()).toEqual((open.body as Array<{ id: string }>).map((a) => a.id).sort());
    await eventually(
      () => smtp!.mails.length,
      (n) => n >= 4,
      40_000,
    );
    await new Promise((r) => setTimeout(r, 1500)); // any duplicate would arrive within a few poll cycles
    const ids = smtp.mails.map((m) => m.messageId);
    expect(ids).toHaveLength(4); // 2 alerts × 2 clinicians
    expect(new Set(ids).size).toBe(4);
    expect(smtp.mails.map((m) => m.to[0]).sort()).toEqual(['ann@crash.test', 'ann@crash.test', 'ben@crash.test', 'ben@crash.test']);
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
  });
});
