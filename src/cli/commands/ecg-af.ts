import { readFileSync } from 'node:fs';
import { CliError, writeJson, type CliCommand } from '../command.ts';
import { parseBeatsFile } from '../../analysis/ecg/beat-files.ts';
import { detectAfEpisodes } from '../../analysis/ecg/af.ts';
import { wfdbGuard } from './ecg-detect.ts';

const command: CliCommand = {
  name: 'ecg af',
  summary: 'AF episodes from beat times (afdb .beats format) as JSON',
  help: `Usage: vigil ecg af BEATS_FILE [--json]

BEATS_FILE: first line "# fs=<Hz> …", then one beat sample index per line (shared/data/afdb format).
Prints {"fs", "episodes": [{"start", "end"}]} with sample indices.`,
  async run(args, io) {
    const [file] = args.positionals;
    if (!file) throw new CliError('missing BEATS_FILE');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new CliError(`cannot read ${file}`);
    }
    const { fs, beats } = wfdbGuard(() => parseBeatsFile(text, file));
    const sorted = [...beats].sort((a, b) => a - b);
    writeJson(io, { fs, episodes: detectAfEpisodes(sorted, fs) });
    return 0;
  },
};
export default command;
