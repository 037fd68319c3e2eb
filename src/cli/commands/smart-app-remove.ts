import { CliError, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'smart app remove',
  summary: "remove a SMART app: every token it holds stops at once, and it can't get new ones",
  help: `Usage: vigil smart app remove ID [--json]

ID is the app's client_id (vigil smart app list). The audit trail keeps the app's history. To end its tokens
but keep the app registered (say its secret leaked and you rotate it), use vigil smart app revoke ID.`,
  async run(args, io) {
    const id = args.positionals[0];
    if (!id) throw new CliError('usage: vigil smart app remove ID (see "vigil smart app list")');
    const clinic = await openClinic();
    try {
      const done = await clinic.removeSmartApp(id).catch((err: Error) => {
        throw new CliError(err.message);
      });
      print(io, args.json, done, `SMART app ${id} removed; ${done.revokedTokens} live token(s) ended.`);
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
