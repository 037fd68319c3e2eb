import { CliError, writeJson, type CliCommand } from '../command.ts';
import { readRecord, toPhysical } from '../../analysis/ecg/wfdb.ts';
import { classifyRecord } from '../../analysis/ecg/classify.ts';
import { safeMessage } from '../safe-text.ts';

const command: CliCommand = {
  name: 'ecg classify',
  summary: 'classify short single-lead records: N normal, A AF, O other, ~ noisy (CinC 2017)',
  help: `Usage: vigil ecg classify RECORD… [--json]

Each RECORD is a WFDB path without extension (e.g. ../shared/data/cinc2017/A00003).
Prints one JSON line per record: {"record", "label": "N" | "A" | "O" | "~"}. A record that cannot be read
gets {"record": RECORD as given, "error"} and the others are still classified; the exit code is then 1.`,
  async run(args, io) {
    if (args.positionals.length === 0) throw new CliError('missing RECORD (WFDB path without extension)');
    let failed = 0;
    for (const record of args.positionals) {
      // One bad file in a batch of thousands must not hide the labels of the rest.
      try {
        const rec = readRecord(record, ['ECG', 'MLII', 'II']);
        const { label } = classifyRecord(toPhysical(rec.adc, rec.gain, rec.baseline), rec.fs);
        writeJson(io, { record: rec.record, label });
      } catch (err) {
        // A corrupt signal file can fail in the decoder too (past the buffer's end), not only as WfdbError.
        writeJson(io, { record, error: safeMessage((err as Error).message) });
        failed++;
      }
    }
    if (failed) io.stderr.write(`vigil ecg classify: ${failed} of ${args.positionals.length} records could not be read\n`);
    return failed ? 1 : 0;
  },
};
export default command;
