import { CliError, requireFlag, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';
import type { Role } from '../../domain/types.ts';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) text += chunk;
  return text.trim();
}

const command: CliCommand = {
  name: 'user add',
  summary: 'create an account (admin, clinician or patient)',
  help: `Usage: vigil user add --email E --role admin|clinician|patient|caregiver [--patient ID] [--name "Display Name"] [--json]

The password is read from stdin when stdin is not a terminal (echo "$PW" | vigil user add …);
otherwise a strong one is generated and printed once. Patients need --patient ID (their record).
Works while the server runs (through its API) and without it (directly on the database).`,
  switches: ['generate-password'],
  async run(args, io) {
    const email = requireFlag(args, 'email');
    const role = requireFlag(args, 'role') as Role;
    if (!['admin', 'clinician', 'patient', 'caregiver'].includes(role))
      throw new CliError(`--role must be admin, clinician, patient or caregiver (got "${role}")`);
    const fromStdin = !(io.stdin as NodeJS.ReadStream).isTTY && args.flags['generate-password'] !== true ? await readStdin(io.stdin) : '';
    const clinic = await openClinic();
    try {
      const user = await clinic.addUser({
        email,
        role,
        password: fromStdin || undefined,
        patientId: typeof args.flags.patient === 'string' ? args.flags.patient : undefined,
        displayName: typeof args.flags.name === 'string' ? args.flags.name : undefined,
      });
      const human = `Created ${user.role} ${user.email} (${user.id})` + (user.password ? `\nPassword (shown once): ${user.password}` : '');
      print(io, args.json, user, human);
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
