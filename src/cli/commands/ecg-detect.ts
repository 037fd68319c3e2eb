import { CliError, writeJson, type CliCommand } from '../command.ts';
import { readRecord, WfdbError } from '../../analysis/ecg/wfdb.ts';
import { detectBeats } from '../../analysis/ecg/qrs.ts';

/** Runs `fn`, turning reader errors into one-line CLI errors. */
export function wfdbGuard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WfdbError) throw new CliError(err.message);
    throw err;
  }
}

const command: CliCommand = {
  name: 'ecg detect',
  summary: 'QRS detection on a WFDB record: beat sample indices as JSON',
  help: `Usage: vigil ecg detect RECORD [--lead NAME] [--json]

RECORD is the WFDB record path without extension (e.g. ../shared/data/mitdb/100); formats 212 and 16.
The lead is chosen by name (MLII, then ECG, then II; --lead overrides), else channel 0.
Prints {"record", "fs", "lead", "beats": [sample, …]} (R-peak sample indices).`,
  async run(args, io) {
    const [record] = args.positionals;
    if (!record) throw new CliError('missing RECORD (WFDB path without extension)');
    const lead = typeof args.flags.lead === 'string' ? [args.flags.lead] : undefined;
    const rec = wfdbGuard(() => readRecord(record, lead));
    const beats = detectBeats(rec.adc, rec.fs, rec.gain);
    writeJson(io, { record: rec.record, fs: rec.fs, lead: rec.lead, beats });
    return 0;
  },
};
export default command;
