import type { Queryable } from '../platform/db.ts';

/**
 * ONC §170.315(d)(2) "the app's database role cannot update or delete audit rows" on PostgreSQL. The
 * append-only trigger (migration 006) stops the application's statements, but the owner of a table can drop
 * its triggers, and a superuser ignores privileges altogether. So `audit_log`, its identity sequence and the
 * trigger function belong to a separate role that never logs in (`vigil_audit_owner`), and the application's
 * role keeps only SELECT and INSERT on it: no UPDATE, DELETE, TRUNCATE, TRIGGER, no ownership, no membership
 * of the owner role. (PGlite is one embedded superuser: there the trigger and the keyed chain are the control.)
 */
export const AUDIT_OWNER_ROLE = 'vigil_audit_owner';

export interface AuditRoleStatus {
  /** The role the application connects as. */
  appRole: string;
  owner: string;
  /** True when the application's role can neither change audit rows nor take the table's protection away. */
  protected: boolean;
  /** What still lets the application's role alter the audit trail (empty when protected). */
  problems: string[];
}

const ident = (name: string) => {
  if (!/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(name)) throw new Error(`not a plain PostgreSQL role name: ${name}`);
  return `"${name}"`;
};

/** Whether `appRole` (default: the connected role) could alter or remove audit rows, and why. */
export async function auditRoleStatus(q: Queryable, appRole?: string): Promise<AuditRoleStatus> {
  const [r] = await q.query<{
    app: string;
    super: boolean;
    createrole: boolean;
    owner: string;
    member: boolean;
    upd: boolean;
    del: boolean;
    trunc: boolean;
    trig: boolean;
    fn_owned: boolean;
  }>(
    `SELECT a.rolname AS app, a.rolsuper AS super, a.rolcreaterole AS createrole, o.rolname AS owner,
            pg_has_role(a.oid, o.oid, 'USAGE') AS member,
            has_table_privilege(a.oid, 'audit_log', 'UPDATE') AS upd, has_table_privilege(a.oid, 'audit_log', 'DELETE') AS del,
            has_table_privilege(a.oid, 'audit_log', 'TRUNCATE') AS trunc, has_table_privilege(a.oid, 'audit_log', 'TRIGGER') AS trig,
            EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname = 'audit_log_append_only' AND pg_has_role(a.oid, p.proowner, 'USAGE')) AS fn_owned
       FROM pg_roles a, pg_class c JOIN pg_roles o ON o.oid = c.relowner
      WHERE a.rolname = coalesce($1, current_user) AND c.oid = 'audit_log'::regclass`,
    [appRole ?? null],
  );
  if (!r) throw new Error(`role ${appRole} does not exist`);
  const problems: string[] = [];
  if (r.super) problems.push(`${r.app} is a superuser, which bypasses every privilege: run Vigil as an ordinary role`);
  else {
    if (r.member) problems.push(`${r.app} owns audit_log (owner ${r.owner}) and could drop its append-only trigger`);
    const rights = [r.upd && 'UPDATE', r.del && 'DELETE', r.trunc && 'TRUNCATE', r.trig && 'TRIGGER'].filter(Boolean);
    if (rights.length && !r.member) problems.push(`${r.app} holds ${rights.join(', ')} on audit_log`);
    if (r.fn_owned) problems.push(`${r.app} owns the trigger function audit_log_append_only() and could replace it`);
    if (r.createrole) problems.push(`${r.app} has CREATEROLE and could grant itself ${r.owner}: ALTER ROLE ${r.app} NOCREATEROLE`);
  }
  return { appRole: r.app, owner: r.owner, protected: problems.length === 0, problems };
}

/**
 * Gives `audit_log` to `vigil_audit_owner` (created NOLOGIN when missing) and leaves `appRole` only SELECT and
 * INSERT on it. Run by a role allowed to: a superuser or the DBA (`vigil audit protect`), or at start-up by
 * the application's own role when it has CREATEROLE and owns the table. Idempotent; one transaction.
 */
export async function protectAuditTable(q: Queryable, appRole: string): Promise<void> {
  const app = ident(appRole);
  const owner = ident(AUDIT_OWNER_ROLE);
  const [exists] = await q.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [AUDIT_OWNER_ROLE]);
  if (!exists) {
    // Roles are cluster-wide: another database's Vigil may be creating it at this instant.
    await q.query('SAVEPOINT create_owner');
    try {
      await q.query(`CREATE ROLE ${owner} NOLOGIN`);
      await q.query('RELEASE SAVEPOINT create_owner');
    } catch (err) {
      if (!['42710', '23505'].includes((err as { code?: string }).code ?? '')) throw err;
      await q.query('ROLLBACK TO SAVEPOINT create_owner');
    }
  }
  const [me] = await q.query<{ super: boolean; name: string }>('SELECT rolsuper AS super, current_user AS name FROM pg_roles WHERE rolname = current_user');
  const [{ schema }] = await q.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'audit_log'::regclass`,
  );
  // For a non-superuser, ALTER … OWNER TO needs membership of the new owner, and the new owner CREATE on the
  // schema; both are taken back right after (ownership stays).
  if (!me.super) {
    await q.query(`GRANT ${owner} TO CURRENT_USER`);
    await q.query(`GRANT CREATE ON SCHEMA ${ident(schema)} TO ${owner}`);
  }
  await q.query(`ALTER TABLE audit_log OWNER TO ${owner}`);
  await q.query(`ALTER FUNCTION audit_log_append_only() OWNER TO ${owner}`);
  if (!me.super) await q.query(`REVOKE CREATE ON SCHEMA ${ident(schema)} FROM ${owner}`);
  await q.query(`REVOKE ALL ON audit_log FROM PUBLIC`);
  await q.query(`REVOKE ALL ON audit_log FROM ${app}`);
  await q.query(`GRANT SELECT, INSERT ON audit_log TO ${app}`);
  await q.query(`REVOKE ${owner} FROM ${app}`);
  if (!me.super && me.name !== appRole) await q.query(`REVOKE ${owner} FROM CURRENT_USER`);
}

/**
 * Start-up step on PostgreSQL: when the table is not yet protected and the connected role may do it itself
 * (it owns audit_log and has CREATEROLE), protect it; then report what is still open, for a loud log line.
 */
export async function ensureAuditRole(db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> } & Queryable): Promise<AuditRoleStatus> {
  const status = await auditRoleStatus(db);
  if (status.protected) return status;
  const [me] = await db.query<{ super: boolean; createrole: boolean }>(
    'SELECT rolsuper AS super, rolcreaterole AS createrole FROM pg_roles WHERE rolname = current_user',
  );
  const owns = status.problems.some((p) => p.includes('owns audit_log') || p.includes('holds'));
  if (!me.super && me.createrole && owns) {
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(7441003)'); // two instances starting together
      if (!(await auditRoleStatus(tx)).problems.some((p) => p.includes('owns audit_log') || p.includes('holds'))) return;
      await protectAuditTable(tx, status.appRole);
    });
    return auditRoleStatus(db);
  }
  return status;
}

/** The start-up step's log line: what protects the audit table, or what the DBA should run. Never stops the start. */
export async function reportAuditRole(
  db: Parameters<typeof ensureAuditRole>[0],
  logger: { info(o: object, m: string): void; warn(o: object, m: string): void },
): Promise<AuditRoleStatus | null> {
  try {
    const status = await ensureAuditRole(db);
    if (status.protected) logger.info({ appRole: status.appRole, owner: status.owner }, 'audit_log: the application role may only read and append');
    else
      logger.warn(
        { appRole: status.appRole, owner: status.owner, problems: status.problems },
        `audit_log is not protected from the application's own database role: as the DBA run \`vigil audit protect --app-role ${status.appRole}\` (docs/security.md)`,
      );
    return status;
  } catch (err) {
    logger.warn({ err }, "could not check the audit table's database role");
    return null;
  }
}
