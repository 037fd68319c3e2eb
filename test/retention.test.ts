/**
 * Issue 11 defect 7 (tables): ingested_messages, rejections, finished notification jobs and expired
 * sessions are pruned by age, in batches, on PGlite and PostgreSQL; what is still useful stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootAppOn, STORES, type TestApp } from './support/app.ts';
import { postgresAvailable, skipNote } from './support/services.ts';
import { createRetention } from '../src/store/retention.ts';
import { createLogger } from '../src/platform/logger.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (retention on PostgreSQL)');
const DAY = 86_400_000;

for (const setup of STORES) {
  describe.skipIf(setup.pg && !hasPg)(`retention on ${setup.name}`, () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await bootAppOn(setup);
    }, 180_000);
    afterAll(async () => {
      await app?.stop();
    });

    it('deletes old de-duplication keys, rejections, finished jobs and expired sessions, and nothing still in use', async () => {
      const db = app.services.db;
      const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();
      // 12,000 old keys (more than one delete batch) and 3 recent ones.
      await db.query(`INSERT INTO ingested_messages (device_id, seq, received_at) SELECT 'dev_old', g, $1 FROM generate_series(1, 12000) g`, [ago(20)]);
      await db.query(`INSERT INTO ingested_messages (device_id, seq, received_at) SELECT 'dev_new', g, $1 FROM generate_series(1, 3) g`, [ago(1)]);
      await db.query(`INSERT INTO rejected_payloads (device_id, topic, reason, received_at) VALUES ('d', 't', 'old', $1), ('d', 't', 'new', $2)`, [
        ago(40),
        ago(2),
      ]);
      const jobs = [
        ['old-sent', 'sent', 100],
        ['old-failed', 'failed', 100],
        ['old-pending', 'pending', 100],
        ['new-sent', 'sent', 5],
      ] as const;
      for (const [key, status, days] of jobs) {
        await db.query(
          `INSERT INTO notification_jobs (idempotency_key, alert_id, channel, target, payload, status, next_attempt_at, created_at) VALUES ($1, 'alt_x', 'email', 'x@y', '{}', $2, now(), $3)`,
          [key, status, ago(days)],
        );
      }
      const user = await app.tokenFor('clinician');
      const [{ id: userId }] = await db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [user.email]);
      await db.query(`INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ('expired', $1, $2), ('valid', $1, $3)`, [userId, ago(3), ago(-3)]);
      await db.query(
        `INSERT INTO api_tokens (id, user_id, token_hash, name, revoked_at, expires_at) VALUES
           ('tok_revoked_old', $1, 'h1', 'x', $2, NULL), ('tok_expired_old', $1, 'h2', 'x', NULL, $2),
           ('tok_revoked_new', $1, 'h3', 'x', $3, NULL), ('tok_live', $1, 'h4', 'x', NULL, $4)`,
        [userId, ago(40), ago(2), ago(-30)],
      );
      // Sign-in throttle counts: one older than a day (counts for nothing), one recent, one old but claimed now.
      await db.query(
        `INSERT INTO auth_throttle (key, failures, last_at, busy_until) VALUES ('old', 3, $1, NULL), ('recent', 3, $2, NULL), ('claimed', 0, $1, $3)`,
        [ago(2), ago(0.5), ago(-0.0003)],
      );

      // Visit rejoin secrets: one whose window ended two days ago, one in the visit (no end), one still in its window.
      const [{ id: pid }] = await db.query<{ id: string }>(`INSERT INTO patients (id, name) VALUES ('pat_ret', 'Ret') RETURNING id`);
      await db.query(`INSERT INTO appointments (id, patient_id, status, start_at, end_at, created_by) VALUES ('apt_ret', $1, 'arrived', $2, $2, 'system')`, [
        pid,
        ago(2),
      ]);
      await db.query(
        `INSERT INTO visit_rejoin (appointment_id, participant_key, secret_hash, until) VALUES ('apt_ret', 'user:a', 'h1', $1), ('apt_ret', 'user:a', 'h2', NULL), ('apt_ret', 'user:b', 'h3', $2)`,
        [ago(2), ago(-0.001)],
      );

      const retention = createRetention({ db, audit: app.services.audit, clock: { now: () => Date.now() }, logger: createLogger('silent') });
      const entriesBefore = (await db.query(`SELECT 1 FROM audit_log WHERE action = 'retention.delete'`)).length;
      const deleted = await retention.sweep();
      expect(deleted).toEqual({
        ingested_messages: 12000,
        rejected_payloads: 1,
        notification_jobs: 2,
        sessions: 1,
        api_tokens: 2,
        auth_throttle: 1,
        visit_rejoin: 1,
      });
      expect((await db.query<{ h: string }>(`SELECT secret_hash AS h FROM visit_rejoin WHERE appointment_id = 'apt_ret' ORDER BY h`)).map((r) => r.h)).toEqual([
        'h2',
        'h3',
      ]);
      expect(
        (await db.query<{ key: string }>(`SELECT key FROM auth_throttle WHERE key IN ('old', 'recent', 'claimed') ORDER BY key`)).map((r) => r.key),
      ).toEqual(['claimed', 'recent']);

      expect(await db.query(`SELECT device_id, count(*)::int AS n FROM ingested_messages WHERE device_id LIKE 'dev_%' GROUP BY device_id`)).toEqual([
        { device_id: 'dev_new', n: 3 },
      ]);
      expect((await db.query<{ reason: string }>(`SELECT reason FROM rejected_payloads WHERE device_id = 'd'`)).map((r) => r.reason)).toEqual(['new']);
      expect((await db.query<{ k: string }>(`SELECT idempotency_key AS k FROM notification_jobs ORDER BY k`)).map((r) => r.k)).toEqual([
        'new-sent',
        'old-pending',
      ]);
      expect((await db.query<{ t: string }>(`SELECT token_hash AS t FROM sessions WHERE user_id = $1`, [userId])).map((r) => r.t)).toEqual(['valid']);
      expect(
        (
          await db.query<{ id: string }>(`SELECT id FROM api_tokens WHERE id = ANY($1::text[]) ORDER BY id`, [
            ['tok_revoked_old', 'tok_expired_old', 'tok_revoked_new', 'tok_live'],
          ])
        ).map((r) => r.id),
      ).toEqual(['tok_live', 'tok_revoked_new']);
      // (d)(2): one retention.delete entry per table that lost rows (what, how many, the cut-off), by the system.
      const entries = await db.query<{ actor: string; entity_id: string; details: { deleted: number; cutoff: string; days: number } }>(
        `SELECT actor, entity_id, details FROM audit_log WHERE action = 'retention.delete' ORDER BY id OFFSET $1`,
        [entriesBefore],
      );
      expect(entries.map((e) => [e.actor, e.entity_id, e.details.deleted])).toEqual([
        ['system', 'ingested_messages', 12000],
        ['system', 'rejected_payloads', 1],
        ['system', 'notification_jobs', 2],
        ['system', 'sessions', 1],
        ['system', 'api_tokens', 2],
        ['system', 'auth_throttle', 1],
        ['system', 'visit_rejoin', 1],
      ]);
      expect(Date.parse(entries[0].details.cutoff)).toBeLessThan(Date.now() - 13 * DAY);
      expect(entries[0].details.days).toBe(14);
      // A second sweep finds nothing more, and records nothing.
      expect(Object.values(await retention.sweep()).every((n) => n === 0)).toBe(true);
      expect((await db.query(`SELECT 1 FROM audit_log WHERE action = 'retention.delete'`)).length).toBe(entriesBefore + 7);
    });

    it('a deletion whose audit entry cannot be written is rolled back, then done with its entry', async () => {
      const db = app.services.db;
      await db.query(`INSERT INTO rejected_payloads (device_id, topic, reason, received_at) VALUES ('r', 't', 'old', $1)`, [
        new Date(Date.now() - 40 * DAY).toISOString(),
      ]);
      await db.exec(`CREATE FUNCTION test_refuse_retention() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.action = 'retention.delete' THEN RAISE EXCEPTION 'injected audit failure'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER test_refuse_retention BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_refuse_retention();`);
      const retention = createRetention({ db, audit: app.services.audit, clock: { now: () => Date.now() }, logger: createLogger('silent') });
      const before = (await db.query(`SELECT 1 FROM audit_log WHERE action = 'retention.delete'`)).length;
      try {
        await expect(retention.sweep()).rejects.toMatchObject({ status: 503 });
      } finally {
        await db.exec('DROP TRIGGER test_refuse_retention ON audit_log; DROP FUNCTION test_refuse_retention();');
      }
      expect(await db.query(`SELECT reason FROM rejected_payloads WHERE device_id = 'r'`)).toEqual([{ reason: 'old' }]);
      expect((await db.query(`SELECT 1 FROM audit_log WHERE action = 'retention.delete'`)).length).toBe(before);
      expect((await retention.sweep()).rejected_payloads).toBe(1);
      expect(await db.query(`SELECT reason FROM rejected_payloads WHERE device_id = 'r'`)).toEqual([]);
      const [e] = await db.query<{ entity_id: string; details: { deleted: number } }>(
        `SELECT entity_id, details FROM audit_log WHERE action = 'retention.delete' ORDER BY id DESC LIMIT 1`,
      );
      expect(e).toMatchObject({ entity_id: 'rejected_payloads', details: { deleted: 1 } });
      expect((await app.services.audit.verify()).bad).toEqual([]);
    });
  });
}
