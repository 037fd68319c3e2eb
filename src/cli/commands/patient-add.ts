import { requireFlag, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'patient add',
  summary: 'register a patient',
  help: `Usage: vigil patient add --name "Full Name" --birth-date YYYY-MM-DD [--clinician EMAIL] [--json]

Prints {"id": …}. --clinician puts the patient on that clinician's care team.`,
  async run(args, io) {
    const name = requireFlag(args, 'name');
    const birthDate = typeof args.flags['birth-date'] === 'string' ? args.flags['birth-date'] : undefined;
    const clinic = await openClinic();
    try {
      // The clinician is checked first: a typo in the email must not leave a patient on no one's care team.
      const practitionerId = args.flags.clinician === undefined ? undefined : await clinic.clinicianId(requireFlag(args, 'clinician'));
      const p = await clinic.addPatient({ name, birthDate });
      if (practitionerId) await clinic.assignClinician(p.id, practitionerId);
      print(io, args.json, { id: p.id }, `Registered ${name}: ${p.id}`);
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
