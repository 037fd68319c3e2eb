import { CliError, requireFlag, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'token create',
  summary: 'create an API bearer token for an account (printed once)',
  help: `Usage: vigil token create --email E [--name LABEL] [--scope read|write] [--patients ID,ID] [--ttl-days N] [--json]

Prints a token for "Authorization: Bearer <token>" on /api and /fhir. It is shown once and stored only as a hash;
it never has more access than its account (a clinician's token sees only their care team's patients), and may
have less: --scope read refuses every write, --patients limits it to those patients. It expires after
--ttl-days (default VIGIL_TOKEN_TTL_DAYS, 90; 0 = never; patients' tokens at most 30). See "vigil token list"
and "vigil token revoke ID".`,
  async run(args, io) {
    const email = requireFlag(args, 'email');
    const clinic = await openClinic();
    try {
      const scope = args.flags.scope;
      if (scope !== undefined && scope !== 'read' && scope !== 'write') throw new CliError('--scope must be read or write');
      const ttl = args.flags['ttl-days'];
      if (ttl !== undefined && !/^\d+$/.test(String(ttl))) throw new CliError('--ttl-days must be a whole number of days');
      const patients =
        typeof args.flags.patients === 'string'
          ? args.flags.patients
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean)
          : undefined;
      const t = await clinic.createToken(email, typeof args.flags.name === 'string' ? args.flags.name : undefined, {
        scope: scope as 'read' | 'write' | undefined,
        patientIds: patients,
        ttlDays: ttl === undefined ? undefined : Number(ttl),
      });
      print(
        io,
        args.json,
        { id: t.id, token: t.token, email, scope: t.scope ?? 'write', patientIds: t.patientIds ?? null, expiresAt: t.expiresAt ?? null },
        `Token ${t.id} for ${email} (shown once; ${t.scope ?? 'write'}${t.expiresAt ? `, expires ${t.expiresAt}` : ', never expires'}):\n${t.token}`,
      );
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
