/**
 * ONC §170.315(d)(2): the audit entry of a change is "written in the same transaction as the change".
 * For every kind of write of patient data and every security-relevant write, on a real server and database:
 *  1. the audit insert is made to fail (a BEFORE INSERT trigger on audit_log refusing that action): the request
 *     answers 503 and the change is not there — it was rolled back with its entry;
 *  2. the trigger removed, the same request succeeds, and the change and its audit entry are both there.
 * Every case also checks that nothing else was audited for that action while it was refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { AppError } from '../src/platform/errors.ts';
import type { Principal } from '../src/domain/types.ts';
import { generate } from 'otplib';
import { VisitClient } from './support/visit-client.ts';
import { expectEventually } from './support/clinic.ts';

let app: TestApp;
let admin: string;
let nurse: { token: string; email: string; practitionerId: string | null };
let patientId: string;
let deviceId: string;
let threadId: string;
let messageId: string;
const tag = `r${Date.now().toString(36)}`;

const count = async (sql: string, params: unknown[] = []) => Number((await app.services.db.query<{ n: string }>(sql, params))[0].n);
const auditCount = (action: string) => count('SELECT count(*) AS n FROM audit_log WHERE action = $1', [action]);
/** A service call's outcome as the HTTP status its error maps to. */
const statusOf = async (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (err) => (err instanceof AppError ? err.status : 500),
  );
const principalOf = async (token: string) => (await app.services.auth.principalFromToken(token))!;
/** The same person signed in with a session (second factors are managed from a session, never a token). */
const sessionPrincipalOf = async (token: string) =>
  ({ ...(await principalOf(token)), credential: { kind: 'session', id: 'ses_test', scope: 'write', patients: null, stage: 'full' } }) as Principal;

/** Boots a server on `databaseUrl` (PGlite when absent) with a patient, a device, a thread, and the failure switch. */
async function setUp(databaseUrl?: string) {
  app = await bootApp({ databaseUrl });
  admin = (await app.tokenFor('admin')).token;
  nurse = await app.tokenFor('clinician');
  patientId = (await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/patients', { name: `Txn Patient ${tag}` })).body.id;
  deviceId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body.id;
  const t = await app.api<{ id: string; messages?: Array<{ id: string }> }>(nurse.token, 'POST', `/api/v1/patients/${patientId}/threads`, {
    subject: 'Follow-up',
    text: 'How are you today?',
  });
  expect(t.status).toBe(201);
  threadId = t.body.id;
  messageId = (await app.services.db.query<{ id: string }>('SELECT id FROM messages WHERE thread_id = $1', [threadId]))[0].id;
  await app.services.db.exec(`CREATE TABLE test_refuse_audit (action text PRIMARY KEY);
    CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM test_refuse_audit WHERE action = NEW.action) THEN RAISE EXCEPTION 'injected audit failure for %', NEW.action; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_refuse_audit();`);
}

interface Case {
  action: string;
  /** Performs the write; answers the HTTP status. Called twice: refused, then allowed. */
  run(): Promise<number>;
  /** Whether the change is in the database. */
  changed(): Promise<boolean>;
  /** The expected success status (default 2xx). */
  ok?: number;
}

/** Fresh cases per engine (some remember what they created on their first run). */
function makeCases(): Case[] {
  let careTeamTarget: string | undefined;
  let erPrincipal: Principal | undefined;
  return [
    {
      action: 'patient.create',
      run: async () => (await app.api(nurse.token, 'POST', '/api/v1/patients', { name: `New Patient ${tag}` })).status,
      changed: async () => (await count('SELECT count(*) AS n FROM patients WHERE name = $1', [`New Patient ${tag}`])) > 0,
    },
    {
      action: 'careteam.add',
      run: async () => {
        const other = await app.tokenFor('clinician');
        return (await app.api(admin, 'POST', `/api/v1/patients/${patientId}/care-team`, { practitionerId: (careTeamTarget ??= other.practitionerId!) })).status;
      },
      changed: async () =>
        (await count('SELECT count(*) AS n FROM care_team_members WHERE patient_id = $1 AND practitioner_id = $2', [patientId, careTeamTarget])) > 0,
    },
    {
      action: 'patient.settings',
      run: async () => (await app.api(nurse.token, 'PATCH', `/api/v1/patients/${patientId}/settings`, { onOxygen: true })).status,
      changed: async () => (await count(`SELECT count(*) AS n FROM patients WHERE id = $1 AND settings->>'onOxygen' = 'true'`, [patientId])) > 0,
    },
    {
      action: 'fhir.update',
      run: async () => {
        const fhirId = patientId.replaceAll('_', '-');
        const current = await app.api<Record<string, unknown>>(nurse.token, 'GET', `/fhir/R4/Patient/${fhirId}`);
        return (await app.api(nurse.token, 'PUT', `/fhir/R4/Patient/${fhirId}`, { ...current.body, name: [{ text: `Renamed ${tag}` }] })).status;
      },
      changed: async () => (await count('SELECT count(*) AS n FROM patients WHERE id = $1 AND name = $2', [patientId, `Renamed ${tag}`])) > 0,
    },
    {
      action: 'fhir.create',
      run: async () =>
        (
          await app.api(nurse.token, 'POST', '/fhir/R4/Observation', {
            resourceType: 'Observation',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
            subject: { reference: `Patient/${patientId.replaceAll('_', '-')}` },
            effectiveDateTime: '2026-01-02T03:04:05Z',
            valueQuantity: { value: 71, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
          })
        ).status,
      changed: async () =>
        (await count(`SELECT count(*) AS n FROM readings WHERE patient_id = $1 AND code = '8867-4' AND ts = '2026-01-02T03:04:05Z'`, [patientId])) > 0,
    },
    {
      action: 'device.provision',
      run: async () => (await app.api(admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter', name: `Oximeter ${tag}` })).status,
      changed: async () => (await count('SELECT count(*) AS n FROM devices WHERE name = $1', [`Oximeter ${tag}`])) > 0,
    },
    (() => {
      let before = '';
      return {
        action: 'device.secret.rotate',
        run: async () => {
          before ||= (await app.services.db.query<{ h: string }>('SELECT secret_hash AS h FROM devices WHERE id = $1', [deviceId]))[0].h;
          return (await app.api(admin, 'POST', `/api/v1/devices/${deviceId}/secret`, {})).status;
        },
        changed: async () => (await app.services.db.query<{ h: string }>('SELECT secret_hash AS h FROM devices WHERE id = $1', [deviceId]))[0].h !== before,
      };
    })(),
    {
      action: 'command.request',
      run: async () => (await app.api(nurse.token, 'POST', `/api/v1/devices/${deviceId}/commands`, { name: 'MEASURE' })).status,
      changed: async () => (await count('SELECT count(*) AS n FROM device_commands WHERE device_id = $1', [deviceId])) > 0,
    },
    {
      action: 'alert-rule.save',
      run: async () =>
        (
          await app.api(nurse.token, 'PUT', '/api/v1/alert-rules/txn-test', {
            scope: 'patient',
            scopeId: patientId,
            definition: { kind: 'threshold', code: '8867-4', op: 'above', value: 140, clearAt: 130, severity: 'critical' },
          })
        ).status,
      changed: async () => (await count(`SELECT count(*) AS n FROM alert_rules WHERE key = 'txn-test'`)) > 0,
    },
    (() => {
      // The description is sealed with the patient's key: the appointment is found by its patient and start.
      const start = new Date(Math.floor((Date.now() + 3 * 86_400_000) / 60_000) * 60_000).toISOString();
      return {
        action: 'appointment.create',
        run: async () => (await app.api(nurse.token, 'POST', '/api/v1/appointments', { patientId, start, description: `Visit ${tag}` })).status,
        changed: async () => (await count('SELECT count(*) AS n FROM appointments WHERE patient_id = $1 AND start_at = $2', [patientId, start])) > 0,
      };
    })(),
    (() => {
      let id = '';
      return {
        action: 'appointment.cancel',
        run: async () => {
          id ||= (
            await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', {
              patientId,
              start: new Date(Date.now() + 4 * 86_400_000).toISOString(),
            })
          ).body.id;
          return (await app.api(nurse.token, 'POST', `/api/v1/appointments/${id}/cancel`, {})).status;
        },
        changed: async () => (await count(`SELECT count(*) AS n FROM appointments WHERE id = $1 AND status = 'cancelled'`, [id])) > 0,
      };
    })(),
    {
      action: 'message.send',
      run: async () => (await app.api(nurse.token, 'POST', `/api/v1/threads/${threadId}/messages`, { text: `Reply ${tag}` })).status,
      changed: async () => (await count('SELECT count(*) AS n FROM messages WHERE thread_id = $1', [threadId])) > 1,
    },
    {
      action: 'task.create',
      run: async () => (await app.api(nurse.token, 'POST', `/api/v1/messages/${messageId}/task`, { note: `Task ${tag}` })).status,
      changed: async () => (await count('SELECT count(*) AS n FROM message_tasks WHERE message_id = $1', [messageId])) > 0,
    },
    {
      action: 'task.update',
      run: async () => {
        const [t] = await app.services.db.query<{ id: string }>('SELECT id FROM message_tasks WHERE message_id = $1', [messageId]);
        return (await app.api(nurse.token, 'PATCH', `/api/v1/tasks/${t.id}`, { status: 'in-progress' })).status;
      },
      changed: async () => (await count(`SELECT count(*) AS n FROM message_tasks WHERE message_id = $1 AND status = 'in-progress'`, [messageId])) > 0,
    },
    {
      action: 'consent.grant',
      run: async () => (await app.api(admin, 'POST', `/api/v1/patients/${patientId}/consents`, { kind: 'research' })).status,
      changed: async () => (await count(`SELECT count(*) AS n FROM consents WHERE patient_id = $1 AND kind = 'research'`, [patientId])) > 0,
    },
    {
      action: 'access.emergency',
      run: async () => {
        const er = await app.tokenFor('clinician');
        const p = (erPrincipal ??= {
          ...(await principalOf(er.token)),
          credential: { kind: 'session', id: 'ses_test', scope: 'write', patients: null, stage: 'full' },
        } as Principal);
        return statusOf(app.services.emergency.open(p, patientId, 'unconscious in ED, no carer reachable'));
      },
      changed: async () => (await count('SELECT count(*) AS n FROM emergency_access WHERE patient_id = $1', [patientId])) > 0,
    },
    {
      action: 'user.create',
      run: async () =>
        (
          await app.api(admin, 'POST', '/api/v1/users', {
            email: `carer-${tag}@family.test`,
            role: 'caregiver',
            displayName: 'Carer',
            password: 'correct horse battery',
          })
        ).status,
      changed: async () => (await count('SELECT count(*) AS n FROM users WHERE email = $1', [`carer-${tag}@family.test`])) > 0,
    },
    (() => {
      let userId = '';
      return {
        action: 'user.disable',
        run: async () => {
          userId ||= (await app.services.auth.createUser({ email: `leaver-${tag}@test.vigil`, role: 'clinician', password: 'correct horse battery' }, 'system'))
            .id;
          return (await app.api(admin, 'POST', `/api/v1/users/${userId}/disable`, {})).status;
        },
        changed: async () => (await count('SELECT count(*) AS n FROM users WHERE id = $1 AND disabled_at IS NOT NULL', [userId])) > 0,
      };
    })(),
    (() => {
      let user: { token: string; email: string } | null = null;
      let before = '';
      return {
        action: 'auth.password.change',
        run: async () => {
          user ??= await app.tokenFor('clinician');
          before ||= (await app.services.db.query<{ h: string }>('SELECT password_hash AS h FROM users WHERE email = $1', [user.email]))[0].h;
          return statusOf(app.services.auth.changePassword(await principalOf(user.token), 'correct horse battery', 'a much better passphrase'));
        },
        changed: async () =>
          (await app.services.db.query<{ h: string }>('SELECT password_hash AS h FROM users WHERE email = $1', [user!.email]))[0].h !== before,
      };
    })(),
    (() => {
      let user: { token: string; email: string } | null = null;
      let before = '';
      return {
        action: 'auth.password.reset',
        run: async () => {
          user ??= await app.tokenFor('clinician');
          const [row] = await app.services.db.query<{ id: string; h: string }>('SELECT id, password_hash AS h FROM users WHERE email = $1', [user.email]);
          before ||= row.h;
          return statusOf(app.services.auth.resetPassword(row.id, 'another fine passphrase', { via: 'admin' }));
        },
        changed: async () =>
          (await app.services.db.query<{ h: string }>('SELECT password_hash AS h FROM users WHERE email = $1', [user!.email]))[0].h !== before,
      };
    })(),
    (() => {
      let user: { email: string; id: string } | null = null;
      return {
        action: 'auth.login',
        run: async () => {
          user ??= {
            email: `signin-${tag}@test.vigil`,
            id: (await app.services.auth.createUser({ email: `signin-${tag}@test.vigil`, role: 'clinician', password: 'correct horse battery' }, 'system')).id,
          };
          const res = await fetch(`${app.httpUrl}/api/v1/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: user.email, password: 'correct horse battery' }),
          });
          return res.status;
        },
        changed: async () => (await count('SELECT count(*) AS n FROM sessions WHERE user_id = $1', [user!.id])) > 0,
      };
    })(),
    (() => {
      let session = '';
      return {
        action: 'auth.logout',
        run: async () => {
          if (!session) {
            const email = `signout-${tag}@test.vigil`;
            await app.services.auth.createUser({ email, role: 'patient', patientId, password: 'correct horse battery' }, 'system');
            session = (await app.services.auth.login(email, 'correct horse battery')).token;
          }
          return statusOf(app.services.auth.logout(session));
        },
        changed: async () => (await app.services.auth.principalFromSession(session)) === null,
      };
    })(),
    (() => {
      let user: { p: Principal; secret: string } | null = null;
      return {
        action: 'auth.mfa.enrol',
        run: async () => {
          if (!user) {
            const p = await sessionPrincipalOf((await app.tokenFor('clinician')).token);
            user = { p, secret: (await app.services.auth.beginTotp(p)).secret };
          }
          // A full session adding its first factor gives the account's password (auth.service proveOwnerForFirstFactor).
          return statusOf(app.services.auth.confirmTotp(user.p, undefined, await generate({ secret: user.secret }), { password: 'correct horse battery' }));
        },
        changed: async () => (await count('SELECT count(*) AS n FROM mfa_factors WHERE user_id = $1 AND confirmed', [user!.p.userId])) > 0,
      };
    })(),
    (() => {
      let userId = '';
      return {
        action: 'auth.mfa.reset',
        run: async () => {
          if (!userId) {
            const p = await sessionPrincipalOf((await app.tokenFor('clinician')).token);
            const { secret } = await app.services.auth.beginTotp(p);
            await app.services.auth.confirmTotp(p, undefined, await generate({ secret }), { password: 'correct horse battery' });
            userId = p.userId;
          }
          return (await app.api(admin, 'POST', `/api/v1/users/${userId}/mfa/reset`, {})).status;
        },
        changed: async () => (await count('SELECT count(*) AS n FROM mfa_factors WHERE user_id = $1', [userId])) === 0,
      };
    })(),
    {
      action: 'token.create',
      run: async () => (await app.api(nurse.token, 'POST', '/api/v1/tokens', { name: `token ${tag}` })).status,
      changed: async () => (await count('SELECT count(*) AS n FROM api_tokens WHERE name = $1', [`token ${tag}`])) > 0,
    },
    {
      // A read receipt (admin reads the nurse's message): the receipt and its message.read entry.
      action: 'message.read',
      run: async () => (await app.api(admin, 'POST', `/api/v1/threads/${threadId}/read`, {})).status,
      changed: async () => (await count('SELECT count(*) AS n FROM message_reads WHERE message_id = $1', [messageId])) > 0,
    },
    {
      action: 'smart.app.register',
      run: async () => (await app.api(admin, 'POST', '/api/v1/smart/apps', { name: `App ${tag}`, redirectUris: ['https://app.example/cb'] })).status,
      changed: async () => (await count('SELECT count(*) AS n FROM smart_clients WHERE name = $1', [`App ${tag}`])) > 0,
    },
    (() => {
      let id = '';
      return {
        action: 'token.revoke',
        run: async () => {
          id ||= (await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/tokens', { name: `to revoke ${tag}` })).body.id;
          return (await app.api(nurse.token, 'DELETE', `/api/v1/tokens/${id}`)).status;
        },
        changed: async () => (await count('SELECT count(*) AS n FROM api_tokens WHERE id = $1 AND revoked_at IS NOT NULL', [id])) > 0,
      };
    })(),
  ];
}

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (audit in the same transaction, server engine)');

for (const engine of ['pglite', 'postgres'] as const) {
  describe.skipIf(engine === 'postgres' && !hasPg)(`on ${engine}`, () => {
    let db: { drop(): Promise<void> } | null = null;
    beforeAll(async () => {
      const created = engine === 'postgres' ? await createTestDatabase() : null;
      db = created;
      await setUp(created?.url);
    }, 180_000);
    afterAll(async () => {
      await app?.stop();
      await db?.drop();
    });

    describe('(d)(2) every write and its audit entry commit in one transaction', () => {
      const cases = makeCases();
      for (const c of cases) {
        it(`${c.action}: refused with its audit entry, then written with it`, async () => {
          const entriesBefore = await auditCount(c.action);
          await app.services.db.query('INSERT INTO test_refuse_audit (action) VALUES ($1)', [c.action]);
          let refused: number;
          try {
            refused = await c.run();
          } finally {
            await app.services.db.query('DELETE FROM test_refuse_audit WHERE action = $1', [c.action]);
          }
          expect(refused, `${c.action} while its audit entry cannot be written`).toBe(503);
          expect(await c.changed(), `${c.action}: the change was rolled back with its audit entry`).toBe(false);
          expect(await auditCount(c.action)).toBe(entriesBefore);

          const status = await c.run();
          expect(status, `${c.action} once the audit works again`).toBeGreaterThanOrEqual(200);
          expect(status).toBeLessThan(300);
          expect(await c.changed()).toBe(true);
          expect(await auditCount(c.action)).toBeGreaterThan(entriesBefore);
        });
      }

      it('the audit chain written around these refusals verifies', async () => {
        const result = await app.services.audit.verify();
        expect(result.bad).toEqual([]);
        expect(result.checked).toBeGreaterThan(cases.length);
      });
    });

    describe('(d)(2) visit join and leave commit with their entries', () => {
      const refuse = (action: string) => app.services.db.query('INSERT INTO test_refuse_audit (action) VALUES ($1)', [action]);
      const allow = (action: string) => app.services.db.query('DELETE FROM test_refuse_audit WHERE action = $1', [action]);
      const clients: VisitClient[] = [];
      afterAll(() => clients.forEach((c) => c.ws.close()));
      it('a join or leave whose entry cannot be written changes nothing and the room stays as it was; then both are written', async () => {
        const apt = (await app.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', { patientId, start: new Date().toISOString() })).body.id;
        const invite = await app.api<{ url: string }>(nurse.token, 'POST', `/api/v1/visits/${apt}/invites`, { name: 'Interpreter' });
        const pass = (
          await app.api<{ pass: string }>('', 'POST', `/api/v1/visits/${apt}/guest-pass`, { token: invite.body.url.split('/').pop()!, name: 'Guest' })
        ).body.pass;
        const ws = (q: string, protocols?: string[]) => {
          const c = new VisitClient(`${app.httpUrl.replace('http', 'ws')}/api/v1/visits/${apt}/signal?${q}`, undefined, protocols);
          clients.push(c);
          return c;
        };
        const doc = ws(`token=${nurse.token}`);
        const guest = ws('', ['vigil.visit', `vigil.visit-pass.${pass}`]);
        await doc.next('hello');
        await guest.next('hello');
        const encounters = () => count('SELECT count(*) AS n FROM encounters WHERE appointment_id = $1', [apt]);
        const participants = (open: boolean) =>
          count(
            `SELECT count(*) AS n FROM encounter_participants p JOIN encounters e ON e.id = p.encounter_id WHERE e.appointment_id = $1 AND p.left_at IS ${open ? '' : 'NOT '}NULL`,
            [apt],
          );
        const entries = (action: string) => count('SELECT count(*) AS n FROM audit_log WHERE action = $1 AND entity_id = $2', [action, apt]);
        const errors = (c: VisitClient) => c.seen.filter((m) => m.type === 'error' && /did not work/.test(m.message as string)).length;

        doc.send({ type: 'join' });
        await doc.next('admitted');
        expect(await entries('visit.join')).toBe(1);
        guest.send({ type: 'join' });
        await doc.next('waiting', (m) => (m.waiting as unknown[]).length === 1);

        // Admitting the guest starts the Encounter: refused with its visit.join entry, nothing of it is written.
        await refuse('visit.join');
        try {
          doc.send({ type: 'admit', id: guest.id });
          await expectEventually(() => expect(errors(doc)).toBe(1), 15_000);
        } finally {
          await allow('visit.join');
        }
        expect(await encounters()).toBe(0);
        expect(await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'visit.start' AND patient_id = $1`, [patientId])).toBe(0);
        expect(await entries('visit.join')).toBe(1);
        expect(guest.seen.some((m) => m.type === 'admitted')).toBe(false);

        doc.send({ type: 'admit', id: guest.id });
        await guest.next('admitted');
        expect(await encounters()).toBe(1);
        expect(await participants(true)).toBe(2);
        expect(await entries('visit.join')).toBe(2);

        // The guest leaves: refused, the participant row stays open and the guest stays in the room.
        await refuse('visit.leave');
        try {
          guest.send({ type: 'leave' });
          await expectEventually(() => expect(errors(guest)).toBe(1), 15_000);
        } finally {
          await allow('visit.leave');
        }
        expect(await participants(false)).toBe(0);
        expect(await entries('visit.leave')).toBe(0);
        expect(doc.seen.some((m) => m.type === 'peer-left')).toBe(false);

        guest.send({ type: 'leave' });
        await doc.next('peer-left');
        expect(await participants(false)).toBe(1);
        expect(await entries('visit.leave')).toBe(1);
        // The last one out ends the Encounter with visit.leave and visit.end in one transaction.
        doc.send({ type: 'leave' });
        await expectEventually(async () => expect(await entries('visit.leave')).toBe(2), 15_000);
        expect(await count(`SELECT count(*) AS n FROM encounters WHERE appointment_id = $1 AND status = 'finished'`, [apt])).toBe(1);
        expect(await participants(true)).toBe(0);
        expect([...doc.offContract, ...guest.offContract]).toEqual([]);
      });
    });

    describe('(d)(2) refused access and failed sign-in are audited', () => {
      it('a wrong password is an auth.login failure entry with the address; an outsider refused a chart is access.refused', async () => {
        const before = await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'auth.login' AND outcome = 'failure'`);
        const res = await fetch(`${app.httpUrl}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: nurse.email, password: 'not the password at all' }),
        });
        expect(res.status).toBe(401);
        const [failed] = await app.services.db.query<{ entity_id: string; details: { ip?: string } }>(
          `SELECT entity_id, details FROM audit_log WHERE action = 'auth.login' AND outcome = 'failure' ORDER BY id DESC LIMIT 1`,
        );
        expect(await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'auth.login' AND outcome = 'failure'`)).toBe(before + 1);
        expect(failed.details.ip).toBe('127.0.0.1');
        const outsider = await app.tokenFor('clinician');
        expect((await app.api(outsider.token, 'GET', `/api/v1/patients/${patientId}`)).status).toBe(404);
        const [refused] = await app.services.db.query<{ actor: string; outcome: string; patient_id: string }>(
          `SELECT actor, outcome, patient_id FROM audit_log WHERE action = 'access.refused' ORDER BY id DESC LIMIT 1`,
        );
        expect(refused).toMatchObject({ outcome: 'failure', patient_id: patientId });
        expect(refused.actor).toMatch(/^user:/);
      });
    });
  });
}
