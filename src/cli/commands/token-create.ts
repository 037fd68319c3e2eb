import { requireFlag, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'token create',
  summary: 'create an API bearer token for an account (printed once)',
  help: `Usage: vigil token create --email E [--name LABEL] [--json]

Prints a token for "Authorization: Bearer <token>" on /api and /fhir. It is shown once and stored only as a hash;
it has exactly the access of its account (a clinician's token sees only their care team's patients).`,
  async run(args, io) {
    const email = requireFlag(args, 'email');
    const clinic = await openClinic();
    try {
      const t = await clinic.createToken(email, typeof args.flags.name === 'string' ? args.flags.name : undefined);
      print(io, args.json, { id: t.id, token: t.token, email }, `Token for ${email} (shown once):\n${t.token}`);
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
