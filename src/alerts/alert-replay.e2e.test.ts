/**
 * Readings acknowledged but not yet evaluated when an instance dies (kill -9 after the commit, before the
 * in-memory `readings.stored` event reached the alert engine) still raise their alert: a restart replays the
 * recent stored readings through the threshold rules (alert-monitor.ts `replay`) and scores NEWS2 for the
 * patients with recent readings (derived-observations.ts). Found by review: 34 readings
 * of SpO2 85 stored, Vigil killed after the last acknowledgement, restarted: no alert at all.
 * Two boots of the real server on one PostgreSQL database; the readings are written as the ingest commit
 * writes them (readings and latest_readings), without the event, which is exactly what a crash leaves.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../test/support/app.ts';
import { createTestDatabase, postgresAvailable } from '../../test/support/services.ts';
import { eventually } from '../../test/support/eventually.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp)('alert replay after a restart', () => {
  const apps: TestApp[] = [];
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    for (const a of apps) await a.stop();
    await drop?.();
  });

  it('raises the alert of readings stored before the crash once, resumes a pending duration, and leaves a resolved alert resolved', async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    const first = await bootApp({ databaseUrl: db.url });
    apps.push(first);
    const s = first.services;
    const now = Date.now();
    const mk = async (name: string) => {
      const id = (await s.patientService.create({ name }, 'system')).id;
      const device = (await s.deviceService.provision({ patientId: id, type: 'pulse-oximeter' }, 'system')).id;
      return { id, device };
    };
    const crashed = await mk('Crashed Before Evaluation');
    const pending = await mk('Pending Duration');
    const resolved = await mk('Resolved Already');
    const spo2 = (p: { id: string; device: string }, from: number, to: number, value: number) =>
      Array.from({ length: Math.floor((to - from) / 10_000) + 1 }, (_, i) => ({
        patientId: p.id,
        deviceId: p.device,
        code: '59408-5',
        value,
        unit: '%',
        ts: from + i * 10_000,
        seq: null,
      }));
    // 160 s below 90 % (spo2-low needs 2 min): stored, never evaluated.
    // 90 s below 90 %: not yet an alert, but the 2 minutes are under way.
    // Below 90 % for 3 min, but its alert was opened and resolved by a nurse a moment ago: not again from those readings.
    await s.db.transaction((tx) =>
      s.repos.readings.insertBatch(tx, [
        ...spo2(crashed, now - 160_000, now - 10_000, 85),
        ...spo2(pending, now - 90_000, now - 10_000, 86),
        ...spo2(resolved, now - 180_000, now - 10_000, 84),
      ]),
    );
    const rule = (await s.alerts.rules.effectiveFor(resolved.id)).find((r) => r.key === 'spo2-low')!;
    const done = await s.alerts.service.raise({ patientId: resolved.id, rule, subject: '', severity: 'critical', value: 84, message: 'SpO2 low' });
    expect(done).toBeTruthy();
    // Its NEWS2 alert (SpO2 ≤ 91 % scores 3) was resolved by the nurse too: the score at restart must not reopen it.
    const news2Rule = (await s.alerts.rules.effectiveFor(resolved.id)).find((r) => r.key === 'news2')!;
    expect(
      await s.alerts.service.raise({ patientId: resolved.id, rule: news2Rule, subject: '', severity: 'warning', value: 3, message: 'NEWS2 3' }),
    ).toBeTruthy();
    await s.db.query(`UPDATE alerts SET status = 'resolved', resolved_at = now(), resolved_by = 'usr_nurse' WHERE patient_id = $1`, [resolved.id]);
    // A thermometer whose clock runs 4 min ahead (allowed: up to 5): its fever alert was resolved by a nurse.
    // The reading's own time is after the resolution, but it was received before: not raised again.
    const ahead = (await s.patientService.create({ name: 'Clock Ahead' }, 'system')).id;
    const thermo = (await s.deviceService.provision({ patientId: ahead, type: 'thermometer' }, 'system')).id;
    await s.db.transaction((tx) =>
      s.repos.readings.insertBatch(tx, [{ patientId: ahead, deviceId: thermo, code: '8310-5', value: 39.7, unit: 'Cel', ts: now + 240_000, seq: null }]),
    );
    const fever = (await s.alerts.rules.effectiveFor(ahead)).find((r) => r.key === 'temp-high')!;
    expect(await s.alerts.service.raise({ patientId: ahead, rule: fever, subject: '', severity: 'warning', value: 39.7, message: 'fever' })).toBeTruthy();
    await s.db.query(`UPDATE alerts SET status = 'resolved', resolved_at = now(), resolved_by = 'usr_nurse' WHERE patient_id = $1`, [ahead]);
    // Imported history never raises alerts, not even when a restart replays the last minutes.
    const imported = (await s.patientService.create({ name: 'Imported Fever', mrn: 'IMP-1' }, 'system')).id;
    const result = await s.csvImport.importBatch('cli', [{ line: 2, patient: 'IMP-1', code: '8310-5', value: 39.9, unit: 'Cel', ts: now - 120_000 }]);
    expect(result.stored).toBe(1);
    const before = await s.db.query('SELECT 1 FROM alerts WHERE patient_id = $1', [crashed.id]);
    expect(before).toEqual([]); // the first instance never evaluated them

    // The restart (the first instance is gone: a second boot on the same database).
    await first.stop();
    apps.length = 0;
    const second = await bootApp({ databaseUrl: db.url });
    apps.push(second);
    const alertsOf = (patientId: string, rule = 'spo2-low') =>
      second.services.db.query<{ rule_key: string; status: string }>(
        'SELECT rule_key, status FROM alerts WHERE patient_id = $1 AND rule_key = $2 ORDER BY id',
        [patientId, rule],
      );
    expect(
      await eventually(
        () => alertsOf(crashed.id),
        (a) => a.length > 0,
      ),
    ).toEqual([{ rule_key: 'spo2-low', status: 'open' }]);
    // NEWS2 is scored at start for the patients with recent readings (SpO2 ≤ 91 % alone scores 3: a single red parameter).
    expect(
      await eventually(
        () => alertsOf(crashed.id, 'news2'),
        (a) => a.length > 0,
      ),
    ).toEqual([{ rule_key: 'news2', status: 'open' }]);
    expect(await alertsOf(pending.id)).toEqual([]);
    expect(await alertsOf(resolved.id)).toEqual([{ rule_key: 'spo2-low', status: 'resolved' }]);
    await new Promise((r) => setTimeout(r, 1500)); // the start-up NEWS2 scoring has run (it did open the crashed patient's)
    expect(await alertsOf(resolved.id, 'news2')).toEqual([{ rule_key: 'news2', status: 'resolved' }]);
    expect(await alertsOf(ahead, 'temp-high')).toEqual([{ rule_key: 'temp-high', status: 'resolved' }]);
    expect(await alertsOf(imported, 'temp-high')).toEqual([]);
    // 40 s later the pending patient is still below 90 %: 130 s in all, so the alert opens now (not 2 min from the restart).
    const ok = await second.services.ingest.acceptTelemetry(pending.device, JSON.stringify({ ts: Date.now() + 30_000, seq: 1, spo2: 86 }));
    expect(ok.ok).toBe(true);
    expect(
      await eventually(
        () => alertsOf(pending.id),
        (a) => a.length > 0,
      ),
    ).toEqual([{ rule_key: 'spo2-low', status: 'open' }]);
  });
});
