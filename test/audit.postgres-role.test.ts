/**
 * ONC §170.315(d)(2) on a real PostgreSQL: "the app's database role cannot update or delete audit rows" —
 * even by dropping the append-only trigger. Two set-ups, each in its own database with its own login role:
 *  - the clinic's DBA runs `vigil audit protect --app-role R` (as the superuser here): afterwards R, the role
 *    Vigil runs as, is refused UPDATE, DELETE, TRUNCATE, DROP/DISABLE TRIGGER, replacing the trigger
 *    function and taking the owner role, while Vigil keeps working (writes audited, chain verifies);
 *  - Vigil's own role has CREATEROLE and owns the tables: the start-up step protects the table itself.
 * Before protection the same attacks succeed (shown inside a rolled-back transaction), so the test can fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { bootApp, type TestApp } from './support/app.ts';
import { PG_ADMIN_URL, postgresAvailable, skipNote } from './support/services.ts';
import { randomBytes } from 'node:crypto';
import { AUDIT_OWNER_ROLE, auditRoleStatus } from '../src/audit/audit-role.ts';
import protectCommand from '../src/cli/commands/audit-protect.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (separate audit-owner role)');

const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
const cleanups: Array<() => Promise<void>> = [];
// One clinic's keys across its restarts (each boot has a fresh data dir): the chain and the sealed data stay readable.
const env = { VIGIL_AUDIT_KEY: randomBytes(32).toString('base64'), VIGIL_MASTER_KEY: randomBytes(32).toString('base64') };
const statusAs = (url: string) => asRole(url, (c) => auditRoleStatus({ query: async (sql: string, params?: unknown[]) => (await c.query(sql, params)).rows }));

async function asAdmin<T>(fn: (c: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = '/' + database;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A login role (no superuser) owning a fresh database; its URL. */
async function roleWithDatabase(name: string, opts: { createrole: boolean }): Promise<string> {
  await asAdmin(async (c) => {
    await c.query(`CREATE ROLE ${name} LOGIN ${opts.createrole ? 'CREATEROLE' : ''}`);
    await c.query(`CREATE DATABASE ${name} OWNER ${name}`);
  });
  cleanups.push(() =>
    asAdmin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${name}`);
    }),
  );
  const url = new URL(PG_ADMIN_URL);
  url.username = name;
  url.pathname = '/' + name;
  return url.toString();
}

async function asRole<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Every way the application's role might change the audit trail; each answers null (refused) or 'done'. */
async function attacks(url: string): Promise<Record<string, string | null>> {
  return asRole(url, async (c) => {
    const out: Record<string, string | null> = {};
    const attempt = async (name: string, sql: string) => {
      await c.query('BEGIN');
      try {
        await c.query(sql);
        out[name] = 'done';
      } catch (err) {
        out[name] = null;
        out[`${name}:error`] = (err as Error).message;
      } finally {
        await c.query('ROLLBACK'); // never keep what an attack managed to do
      }
    };
    await attempt('update', `UPDATE audit_log SET actor = 'nobody'`);
    await attempt('delete', 'DELETE FROM audit_log');
    await attempt('truncate', 'TRUNCATE audit_log');
    await attempt('drop trigger then delete', 'DROP TRIGGER audit_log_no_update ON audit_log; DELETE FROM audit_log');
    await attempt('disable trigger', 'ALTER TABLE audit_log DISABLE TRIGGER USER');
    await attempt(
      'replace trigger function',
      `CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$`,
    );
    await attempt('take the owner role', `SET ROLE ${AUDIT_OWNER_ROLE}`);
    await attempt('insert', `INSERT INTO audit_log (actor, action, prev_hash, hash) VALUES ('x', 'x', 'x', 'x')`);
    await attempt('select', 'SELECT count(*) FROM audit_log');
    return out;
  });
}
const refusedAll = (a: Record<string, string | null>) => ({
  update: a.update,
  delete: a.delete,
  truncate: a.truncate,
  'drop trigger then delete': a['drop trigger then delete'],
  'disable trigger': a['disable trigger'],
  'replace trigger function': a['replace trigger function'],
  'take the owner role': a['take the owner role'],
});
const NONE_ALLOWED = {
  update: null,
  delete: null,
  truncate: null,
  'drop trigger then delete': null,
  'disable trigger': null,
  'replace trigger function': null,
  'take the owner role': null,
};

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe.skipIf(!hasPg)('PostgreSQL: the application role cannot alter audit rows (separate owner role)', () => {
  describe('a clinic whose DBA protects the table (`vigil audit protect`)', () => {
    const role = `vigil_app_${suffix}`;
    let url: string;
    let app: TestApp | null = null;
    beforeAll(async () => {
      url = await roleWithDatabase(role, { createrole: false });
      app = await bootApp({ databaseUrl: url, env }); // migrations run as the app role: it owns audit_log
      const admin = (await app.tokenFor('admin')).token;
      expect((await app.api(admin, 'POST', '/api/v1/patients', { name: 'Before Protection' })).status).toBe(201);
      await app.services.audit.flush();
    }, 180_000);
    afterAll(async () => app?.stop());

    it('unprotected, the owner role can drop the trigger and delete the trail (the hole this closes)', async () => {
      const status = await statusAs(url);
      expect(status.protected).toBe(false);
      expect(status.problems.join(' ')).toMatch(/owns audit_log/);
      const a = await attacks(url);
      expect(a.update).toBeNull(); // the trigger alone stops a plain UPDATE …
      expect(a['drop trigger then delete']).toBe('done'); // … but not its owner
    });

    it('after `vigil audit protect --app-role`, every attack is refused and Vigil keeps working', async () => {
      await app!.stop();
      app = null;
      const out = new PassThrough();
      let text = '';
      out.on('data', (d) => (text += d));
      const prev = process.env.DATABASE_URL;
      const dba = new URL(PG_ADMIN_URL); // the DBA's connection (the superuser here), to the clinic's database
      dba.pathname = '/' + role;
      process.env.DATABASE_URL = dba.toString();
      try {
        const code = await protectCommand.run(
          { positionals: [], flags: { 'app-role': role }, json: true },
          { stdout: out, stderr: out, stdin: new PassThrough() },
        );
        expect(code, text).toBe(0);
      } finally {
        if (prev === undefined) delete process.env.DATABASE_URL;
        else process.env.DATABASE_URL = prev;
      }
      expect(JSON.parse(text)).toMatchObject({ appRole: role, owner: AUDIT_OWNER_ROLE, protected: true, problems: [] });
      const a = await attacks(url);
      expect(refusedAll(a), JSON.stringify(a)).toEqual(NONE_ALLOWED);
      expect(a.insert).toBe('done');
      expect(a.select).toBe('done');
      expect(a['update:error']).toMatch(/permission denied/);
      expect(a['drop trigger then delete:error']).toMatch(/must be owner/);

      // Vigil, still connecting as the app role, starts (migrations done), writes and audits, and the chain verifies.
      app = await bootApp({ databaseUrl: url, env });
      const admin = (await app.tokenFor('admin')).token;
      const created = await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'After Protection' });
      expect(created.status).toBe(201);
      const [entry] = await app.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log WHERE action = 'patient.create' AND patient_id = $1`, [
        created.body.id,
      ]);
      expect(Number(entry.n)).toBe(1);
      expect((await app.services.audit.verify()).bad).toEqual([]);
    }, 180_000);

    it('`vigil audit protect` names an unknown app role instead of failing deep in SQL', async () => {
      const prev = process.env.DATABASE_URL;
      const dba = new URL(PG_ADMIN_URL);
      dba.pathname = '/' + role;
      process.env.DATABASE_URL = dba.toString();
      try {
        const io = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough() };
        await expect(protectCommand.run({ positionals: [], flags: { 'app-role': 'no_such_role_here' }, json: false }, io)).rejects.toThrow(
          /--app-role no_such_role_here: no such role/,
        );
      } finally {
        if (prev === undefined) delete process.env.DATABASE_URL;
        else process.env.DATABASE_URL = prev;
      }
    });
  });

  describe('an application role allowed to create roles protects the table itself at start-up', () => {
    const role = `vigil_cr_${suffix}`;
    let url: string;
    let app: TestApp | null = null;
    beforeAll(async () => {
      url = await roleWithDatabase(role, { createrole: true });
      app = await bootApp({ databaseUrl: url, env });
    }, 180_000);
    afterAll(async () => app?.stop());

    it('the start-up step gives audit_log to the owner role: no UPDATE, DELETE, TRUNCATE or dropped trigger', async () => {
      const status = await statusAs(url);
      expect(status.owner).toBe(AUDIT_OWNER_ROLE);
      // What remains is named, not hidden: CREATEROLE could re-grant the owner role to itself.
      expect(status.problems).toEqual([expect.stringMatching(/CREATEROLE/)]);
      const a = await attacks(url);
      const { 'take the owner role': _taken, ...rest } = refusedAll(a);
      const { 'take the owner role': _none, ...expected } = NONE_ALLOWED;
      expect(rest, JSON.stringify(a)).toEqual(expected);
      expect(a['take the owner role']).toBeNull(); // not a member after the step
      const admin = (await app!.tokenFor('admin')).token;
      expect((await app!.api(admin, 'POST', '/api/v1/patients', { name: 'Self Protected' })).status).toBe(201);
      expect((await app!.services.audit.verify()).bad).toEqual([]);
    });
  });
});
