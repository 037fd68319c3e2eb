/**
 * Issue 11 defect 7 (memory): the alert chain applies back-pressure to ingest, and per-patient engine
 * state that no longer matters is evicted. On the real app (PGlite + the real rule engine).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';

describe('alert chain back-pressure and state eviction', () => {
  let app: TestApp;
  let deviceId: string;
  let patientId: string;
  beforeAll(async () => {
    // Through the app's Config (nothing reads process.env after start): a low mark, so the flood overruns it.
    app = await bootApp({ env: { VIGIL_ALERT_BACKLOG_MAX: '100' } });
    patientId = (await app.services.patientService.create({ name: 'Flood', birthDate: '1950-01-01' }, 'system')).id;
    deviceId = (await app.services.deviceService.provision({ patientId, type: 'pulse-oximeter' }, 'system')).id;
  }, 180_000);
  afterAll(async () => app && (await app.stop()));

  it('a message waits for the rule backlog to fall below the high-water mark before it is written and acknowledged', async () => {
    const monitor = app.services.alerts.monitor;
    expect(monitor.stats().backlogMax).toBe(100);
    const accept = (seq: number, hr: number) => app.services.ingest.acceptTelemetry(deviceId, JSON.stringify({ seq, hr, spo2: 97 }));
    // A first wave fills the backlog far past 100 readings (one committed batch is evaluated as one job).
    const wave = Array.from({ length: 1500 }, (_, i) => accept(i, 70 + (i % 20)));
    await Promise.all(wave);
    // Messages arriving now meet the gate: each is acknowledged only once the backlog is under 100.
    const second = Array.from({ length: 200 }, (_, i) => accept(2000 + i, 80));
    const results = await Promise.all(second);
    expect(results.every((r) => r.ok && r.stored === 2)).toBe(true);
    expect(monitor.stats().maxBacklogSeen).toBeGreaterThan(100); // the first wave really overran the mark
    await monitor.idle();
    expect(monitor.stats().backlog).toBe(0);
    const [{ n }] = await app.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM readings WHERE patient_id = $1 AND code = '8867-4'`, [patientId]);
    expect(Number(n)).toBe(1700);
  });

  it('forgets idle, quiet engine state but keeps what is firing', async () => {
    const monitor = app.services.alerts.monitor;
    const p2 = (await app.services.patientService.create({ name: 'Firing', birthDate: '1950-01-01' }, 'system')).id;
    const d2 = (await app.services.deviceService.provision({ patientId: p2, type: 'pulse-oximeter' }, 'system')).id;
    const admin = (await app.tokenFor('admin')).token;
    expect(
      (
        await app.api(admin, 'PUT', '/api/v1/alert-rules/hr-evict-test', {
          scope: 'patient',
          scopeId: p2,
          definition: { kind: 'threshold', code: '8867-4', op: 'above', value: 140, clearAt: 130, severity: 'critical' },
        })
      ).status,
    ).toBe(200);
    await app.services.ingest.acceptTelemetry(d2, JSON.stringify({ seq: 1, hr: 170 }));
    await monitor.idle();
    const before = monitor.stats().states;
    expect(before).toBeGreaterThan(1);
    monitor.evict(Date.now() + 2 * 3_600_000); // two hours later, nothing new arrived
    const after = monitor.stats().states;
    expect(after).toBeLessThan(before);
    expect(after).toBeGreaterThanOrEqual(1); // the firing hr-evict-test state stays
    // The open alert still resolves through the kept state when the value recovers.
    await app.services.ingest.acceptTelemetry(d2, JSON.stringify({ seq: 2, hr: 90 }));
    await monitor.idle();
    const open = (await app.api<Array<{ rule: string }>>(admin, 'GET', `/api/v1/alerts?patient=${p2}&status=open`)).body;
    expect(open.filter((a) => a.rule === 'hr-evict-test')).toEqual([]);
  });
});
