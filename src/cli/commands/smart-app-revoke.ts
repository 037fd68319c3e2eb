import { CliError, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'smart app revoke',
  summary: 'end every token a SMART app holds (all users and patients); the app stays registered',
  help: `Usage: vigil smart app revoke ID [--json]

ID is the app's client_id (vigil smart app list). Its access and refresh tokens stop on their next use; users
can authorise the app again. Use it with a secret or key rotation (PATCH /api/v1/smart/apps/ID,
POST /api/v1/smart/apps/ID/secret) when a credential leaked.`,
  async run(args, io) {
    const id = args.positionals[0];
    if (!id) throw new CliError('usage: vigil smart app revoke ID (see "vigil smart app list")');
    const clinic = await openClinic();
    try {
      const done = await clinic.revokeSmartAppTokens(id).catch((err: Error) => {
        throw new CliError(err.message);
      });
      print(io, args.json, { id, ...done }, `${done.revokedTokens} live token(s) of SMART app ${id} ended.`);
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
