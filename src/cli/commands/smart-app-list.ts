import type { CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'smart app list',
  summary: 'list registered SMART apps: client_id, kind, live tokens, last token, redirect URIs',
  help: `Usage: vigil smart app list [--json]

Kinds: public (PKCE only), confidential (a client secret), asymmetric (signed assertions, private_key_jwt),
backend (SMART Backend Services: no user, acts for the admin who registered it). "live" counts the access and
refresh tokens that work now. To stop an app: vigil smart app revoke ID (its tokens) or vigil smart app remove ID.`,
  async run(args, io) {
    const clinic = await openClinic();
    try {
      const apps = await clinic.listSmartApps();
      const lines = apps.map(
        (a) =>
          `${a.id.padEnd(30)} ${a.kind.padEnd(12)} ${`${a.liveTokens} live`.padEnd(9)} ${(a.lastTokenAt ? 'last token ' + a.lastTokenAt : 'never used').padEnd(36)} ${a.name}` +
          (a.redirectUris.length ? `\n${''.padEnd(31)}redirect URIs: ${a.redirectUris.join(', ')}` : '') +
          (a.actsAs ? `\n${''.padEnd(31)}acts for: ${a.actsAs.email}` : ''),
      );
      print(io, args.json, apps, lines.join('\n') || 'No SMART apps registered (vigil smart app add).');
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
