import type { CliCommand } from '../command.ts';
import { CliError } from '../command.ts';
import { cliConfig, findRunningServer, print } from '../runtime.ts';
import { openDatabase } from '../../platform/db.ts';
import { migrate } from '../../store/migrate.ts';
import { createAuditService } from '../../audit/audit.service.ts';

const command: CliCommand = {
  name: 'audit verify',
  summary: "check the audit trail's hash chain; exit 1 naming the first bad entry",
  help: `Usage: vigil audit verify [--json]

Recomputes every audit entry's hash from its content and its predecessor's hash. An edited, removed or
reordered entry breaks the chain: the command names the first bad entry and exits 1.`,
  async run(args, io) {
    const config = cliConfig();
    if (!config.databaseUrl && (await findRunningServer(config.dataDir))) {
      throw new CliError('the embedded database is held by the running server; stop it or use DATABASE_URL');
    }
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    try {
      await migrate(db);
      const result = await createAuditService(db).verify();
      if (result.firstBad) {
        print(io, args.json, { ok: false, checked: result.checked, firstBad: result.firstBad }, `Audit trail BROKEN at entry ${result.firstBad.id}: ${result.firstBad.reason}`);
        return 1;
      }
      print(io, args.json, { ok: true, checked: result.checked }, `Audit trail intact: ${result.checked} entries verified.`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
export default command;
