import { CliError, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'token revoke',
  summary: 'revoke an API token at once (every later request with it answers 401)',
  help: `Usage: vigil token revoke ID [--json]

ID is the token's id from "vigil token create --json" or "vigil token list" (tok_…), not the secret.`,
  async run(args, io) {
    const id = args.positionals[0];
    if (!id) throw new CliError('usage: vigil token revoke ID (see "vigil token list")');
    const clinic = await openClinic();
    try {
      await clinic.revokeToken(id);
      print(io, args.json, { id, revoked: true }, `Token ${id} revoked.`);
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
