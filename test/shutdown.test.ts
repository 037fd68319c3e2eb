/**
 * Issue 11 defect 9, on real parts: shutdown drains ingest before monitoring stops; a dead PGlite worker
 * makes queries fail and /health answer 503 instead of hanging; `npm start` stopped with SIGTERM leaves no
 * node process behind.
 */
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootApp } from './support/app.ts';
import { observe } from './support/observe.ts';
import { freePort } from './support/ports.ts';
import { eventually } from './support/eventually.ts';
import { openPgliteWorker } from '../src/platform/db.ts';

describe('shutdown and failure', () => {
  it('readings acknowledged during the shutdown drain still reach the alert rules', async () => {
    const app = await bootApp();
    const dataDir = app.dataDir;
    let closed = false;
    try {
      const admin = (await app.tokenFor('admin')).token;
      const patientId = (await app.services.patientService.create({ name: 'Drain Test', birthDate: '1950-01-01' }, 'system')).id;
      const device = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
      const rule = await app.api(admin, 'PUT', '/api/v1/alert-rules/hr-drain-test', {
        scope: 'patient',
        scopeId: patientId,
        definition: { kind: 'threshold', code: '8867-4', op: 'above', value: 140, clearAt: 130, severity: 'critical' },
      });
      expect(rule.status).toBe(200);
      // A burst of normal readings, the alarming one last (so it lands in a late batch), then shut down at once.
      const accepted: Array<Promise<unknown>> = [];
      // Observed at once: one refused during the close below would otherwise be an unhandled rejection.
      for (let i = 0; i < 2000; i++) accepted.push(observe(app.services.ingest.acceptTelemetry(device.id, JSON.stringify({ seq: i, hr: 70 }))));
      accepted.push(observe(app.services.ingest.acceptTelemetry(device.id, JSON.stringify({ seq: 2000, hr: 170 }))));
      await app.close();
      closed = true;
      const results = await Promise.all(accepted);
      expect(results.every((r) => (r as { ok: boolean }).ok)).toBe(true);
      // Reopen the data dir: every acknowledged reading is there, and the alert the last one raised too.
      const db = await openPgliteWorker(path.join(dataDir));
      try {
        const [{ n }] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM readings WHERE patient_id = $1 AND code = '8867-4'`, [patientId]);
        expect(Number(n)).toBe(2001);
        const alerts = await db.query<{ rule: string; status: string }>('SELECT rule_key AS rule, status FROM alerts WHERE patient_id = $1', [patientId]);
        expect(alerts).toEqual([{ rule: 'hr-drain-test', status: 'open' }]);
      } finally {
        await db.close();
      }
    } finally {
      if (!closed) await app.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);

  it('a dead PGlite worker fails queries at once and /health answers 503 instead of hanging', async () => {
    const app = await bootApp();
    try {
      expect((await fetch(app.httpUrl + '/health')).status).toBe(200);
      const db = app.services.db as { worker?: Worker };
      expect(db.worker).toBeDefined();
      await db.worker!.terminate(); // the worker thread is gone, as after a WASM abort
      const started = Date.now();
      await expect(app.services.db.query('SELECT 1')).rejects.toThrow(/embedded database unavailable/);
      const health = await fetch(app.httpUrl + '/health');
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'unavailable', database: 'down' });
      const admin = await app.api<{ error: { message: string } }>('no-such-token', 'GET', '/api/v1/patients');
      expect(admin.status).toBeGreaterThanOrEqual(400); // answered, not hung
      expect(Date.now() - started).toBeLessThan(10_000); // milliseconds when idle; generous for a loaded CI machine
    } finally {
      await app.stop(); // closing with a dead database must not hang either
    }
  }, 180_000);

  it('`npm start` stopped with SIGTERM leaves no node process running', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-sigterm-'));
    const npm = spawn('npm', ['start'], {
      env: {
        ...process.env,
        VIGIL_DATA_DIR: dataDir,
        VIGIL_HTTP_PORT: String(await freePort()),
        VIGIL_HTTP_HOST: '127.0.0.1',
        VIGIL_MQTT_PORT: String(await freePort()),
        VIGIL_DEMO: '0',
        VIGIL_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const descendants = () => {
      const all: number[] = [];
      const walk = (pid: number) => {
        const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter(Boolean)
          .map(Number);
        for (const k of kids) {
          all.push(k);
          walk(k);
        }
      };
      walk(npm.pid!);
      return all;
    };
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    let pids: number[] = [];
    try {
      await eventually(
        () => out,
        (o) => o.includes('Vigil is running') || npm.exitCode !== null,
        180_000,
      );
      expect(out).toContain('Vigil is running');
      pids = descendants();
      expect(pids.length).toBeGreaterThan(0);
      npm.kill('SIGTERM');
      await new Promise((r) => (npm.exitCode !== null ? r(null) : npm.once('exit', r)));
      const left = await eventually(
        () => pids.filter(alive),
        (l) => l.length === 0,
        15_000,
      ).catch(() => pids.filter(alive));
      expect(left, `still running after SIGTERM: ${left.join(', ')}\n${out}`).toEqual([]);
    } finally {
      for (const pid of [npm.pid!, ...pids]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
