import { CliError, writeJson, type CliCommand } from '../command.ts';
import { readRecord, toPhysical } from '../../analysis/ecg/wfdb.ts';
import { classifyRecord } from '../../analysis/ecg/classify.ts';
import { wfdbGuard } from './ecg-detect.ts';

const command: CliCommand = {
  name: 'ecg classify',
  summary: 'classify short single-lead records: N normal, A AF, O other, ~ noisy (CinC 2017)',
  help: `Usage: vigil ecg classify RECORD… [--json]

Each RECORD is a WFDB path without extension (e.g. ../shared/data/cinc2017/A00003).
Prints one JSON line per record: {"record", "label": "N" | "A" | "O" | "~"}.`,
  async run(args, io) {
    if (args.positionals.length === 0) throw new CliError('missing RECORD (WFDB path without extension)');
    for (const record of args.positionals) {
      const rec = wfdbGuard(() => readRecord(record, ['ECG', 'MLII', 'II']));
      const { label } = classifyRecord(toPhysical(rec.adc, rec.gain, rec.baseline), rec.fs);
      writeJson(io, { record: rec.record, label });
    }
    return 0;
  },
};
export default command;
