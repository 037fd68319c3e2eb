import type { CliCommand } from '../command.ts';
import { CliError } from '../command.ts';
import { cliConfig, findRunningServer, print } from '../runtime.ts';
import { openOfflineServices } from '../offline-services.ts';

const command: CliCommand = {
  name: 'audit verify',
  summary: "check the audit trail's keyed hash chain and signed checkpoint; exit 1 listing every bad entry",
  help: `Usage: vigil audit verify [--json]

Recomputes every audit entry's HMAC from its content, its predecessor's hash and the audit key (kept outside
the database: VIGIL_AUDIT_KEY or <data dir>/keys/audit.key), and compares the table with the signed
checkpoint of its head (VIGIL_AUDIT_ANCHOR or <data dir>/audit-anchor.json). Edited, removed, reordered or
re-chained entries and a truncated tail are all reported, one line each, as they are found; exit 1.`,
  async run(args, io) {
    const config = cliConfig();
    if (!config.databaseUrl && (await findRunningServer(config.dataDir))) {
      throw new CliError('the embedded database is held by the running server; stop it or use DATABASE_URL');
    }
    const offline = await openOfflineServices(config);
    try {
      const result = await offline.services.audit.verify((b) => {
        if (!args.json) io.stdout.write(`BAD entry ${b.id}: ${b.reason}\n`);
      });
      const anchorLine = result.anchor
        ? `signed checkpoint: entry ${result.anchor.id} at ${result.anchor.at} ${result.anchor.ok ? 'matches' : 'DOES NOT match'}`
        : 'no signed checkpoint yet';
      if (result.bad.length) {
        print(
          io,
          args.json,
          { ok: false, checked: result.checked, bad: result.bad, firstBad: result.bad[0], anchor: result.anchor },
          `Audit trail BROKEN: ${result.bad.length} bad of ${result.checked} entries (first: ${result.bad[0].id}); ${anchorLine}.`,
        );
        return 1;
      }
      print(
        io,
        args.json,
        { ok: true, checked: result.checked, bad: [], anchor: result.anchor },
        `Audit trail intact: ${result.checked} entries verified; ${anchorLine}.`,
      );
      return 0;
    } finally {
      await offline.close();
    }
  },
};
export default command;
