import { CliError, requireFlag, type CliCommand } from '../command.ts';
import { cliConfig, print } from '../runtime.ts';
import { openPostgres } from '../../platform/db.ts';
import { migrate } from '../../store/migrate.ts';
import { AUDIT_OWNER_ROLE, auditRoleStatus, protectAuditTable } from '../../audit/audit-role.ts';

const command: CliCommand = {
  name: 'audit protect',
  summary: 'PostgreSQL: give audit_log to a separate owner role; the app role keeps only SELECT and INSERT',
  help: `Usage: DATABASE_URL=postgres://DBA@host/db vigil audit protect --app-role ROLE [--json]

Run once by the database administrator (a superuser, or the role that owns Vigil's tables and may create
roles), with DATABASE_URL naming that administrator, not the application. It applies Vigil's migrations,
creates the role ${AUDIT_OWNER_ROLE} (NOLOGIN) when missing, makes it the owner of audit_log and of its
append-only trigger function, and leaves ROLE (the role Vigil runs as) only SELECT and INSERT on audit_log:
no UPDATE, DELETE, TRUNCATE, no way to drop the trigger (ONC §170.315(d)(2)). Idempotent.
Exit 1 when ROLE could still alter the audit trail afterwards (e.g. it is a superuser), naming why.`,
  async run(args, io) {
    const appRole = requireFlag(args, 'app-role');
    const config = cliConfig();
    if (!config.databaseUrl)
      throw new CliError("audit protect is for PostgreSQL: set DATABASE_URL to the administrator's connection (the embedded database has no roles)");
    const db = await openPostgres(config.databaseUrl);
    try {
      await migrate(db);
      if (!(await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [appRole])).length)
        throw new CliError(`--app-role ${appRole}: no such role in this PostgreSQL server (the role Vigil connects as)`);
      await db.transaction((tx) => protectAuditTable(tx, appRole));
      const status = await auditRoleStatus(db, appRole);
      print(
        io,
        args.json,
        status,
        status.protected
          ? `audit_log is owned by ${status.owner}; ${appRole} may only read and append to it.`
          : `audit_log is owned by ${status.owner}, but ${appRole} can still alter it:\n  - ${status.problems.join('\n  - ')}`,
      );
      return status.protected ? 0 : 1;
    } finally {
      await db.close();
    }
  },
};
export default command;
