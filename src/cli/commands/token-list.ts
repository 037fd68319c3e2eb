import type { CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'token list',
  summary: 'list API tokens (id, account, scope, expiry, last use, revoked) — never the secrets',
  help: `Usage: vigil token list [--json]`,
  async run(args, io) {
    const clinic = await openClinic();
    try {
      const tokens = await clinic.listTokens();
      const lines = tokens.map(
        (t) =>
          `${t.id.padEnd(28)} ${(t.email ?? '').padEnd(28)} ${t.scope.padEnd(5)} ${t.revokedAt ? 'REVOKED ' + t.revokedAt : t.expiresAt ? 'expires ' + t.expiresAt : 'never expires'}  ${t.name ?? ''}`,
      );
      print(io, args.json, tokens, lines.join('\n') || 'No tokens.');
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
