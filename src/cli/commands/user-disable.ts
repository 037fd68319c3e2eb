import { requireFlag, type CliCommand } from '../command.ts';
import { openClinic } from '../clinic.ts';
import { print } from '../runtime.ts';

const command: CliCommand = {
  name: 'user disable',
  summary: 'disable an account at once (sessions end, tokens stop working); --enable to undo',
  help: `Usage: vigil user disable --email E [--enable] [--json]`,
  switches: ['enable'],
  async run(args, io) {
    const email = requireFlag(args, 'email');
    const enable = args.flags.enable === true;
    const clinic = await openClinic();
    try {
      await clinic.setDisabled(email, !enable);
      print(io, args.json, { email, disabled: !enable }, `${email} ${enable ? 'enabled' : 'disabled'}.`);
      return 0;
    } finally {
      await clinic.close();
    }
  },
};
export default command;
