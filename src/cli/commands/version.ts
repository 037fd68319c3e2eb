import { createRequire } from 'node:module';
import { writeJson, type CliCommand } from '../command.ts';

const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };

const command: CliCommand = {
  name: 'version',
  summary: 'print the Vigil version',
  help: 'Usage: vigil version [--json]',
  async run(args, io) {
    if (args.json) writeJson(io, { version: pkg.version });
    else io.stdout.write(`vigil ${pkg.version}\n`);
    return 0;
  },
};
export default command;
