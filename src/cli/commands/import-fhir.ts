import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CliError, type CliCommand } from '../command.ts';
import { checkWritable, print } from '../runtime.ts';
import { parseObservationsNdjson } from '../../csv/fhir-ndjson.ts';
import { IMPORT_BATCH_MAX } from '../../csv/csv.routes.ts';
import { chunksByLine } from '../../csv/readings-csv.ts';
import { openRejects, openSink, rejectsLost } from './import-csv.ts';

const command: CliCommand = {
  name: 'import fhir',
  summary: 'import FHIR Observations (NDJSON as $export writes it, or Bundles) as readings; re-runs import nothing twice',
  help: `Usage: vigil import fhir FILE [--rejects FILE] [--json]

One FHIR resource per line (application/fhir+ndjson, what GET /fhir/R4/$export produces) or a Bundle per line.
Vital signs, glucose and steps are imported (a blood-pressure panel as its systolic and diastolic readings),
units converted to UCUM; the subject must be a Vigil patient (FHIR or Vigil id). Derived results and ECG
are refused with a reason. Rejected lines go to FILE.rejected.csv.`,
  async run(args, io) {
    const file = args.positionals[0];
    if (!file) throw new CliError('missing FILE (vigil import fhir FILE)');
    await stat(file).catch(() => {
      throw new CliError(`cannot read ${file}`);
    });
    const rejectsFile = typeof args.flags.rejects === 'string' ? args.flags.rejects : `${file}.rejected.csv`;
    // As in import csv: a chosen rejects file is checked before anything is stored.
    if (typeof args.flags.rejects === 'string') await checkWritable(rejectsFile, '--rejects');
    const sink = await openSink();
    const totals = { lines: 0, stored: 0, duplicates: 0, rejected: 0 };
    const rejects = openRejects(rejectsFile);
    const reject = (line: number, reason: string, raw = '') => {
      rejects.add(line, reason, raw);
      totals.rejected = rejects.count;
    };
    try {
      for await (const batch of parseObservationsNdjson(createReadStream(file))) {
        for (const r of batch.rejections) reject(r.line, r.reason, r.raw);
        for (const chunk of chunksByLine(batch.readings, IMPORT_BATCH_MAX / 2)) {
          const result = await sink.store(chunk);
          totals.stored += result.stored;
          totals.duplicates += result.duplicates;
          for (const r of result.rejections) reject(r.line, r.reason, batch.raw.get(r.line));
        }
        totals.lines = batch.lines;
      }
    } finally {
      await sink.close();
      await rejects.close();
    }
    const summary = {
      file,
      via: sink.via,
      lines: totals.lines,
      stored: totals.stored,
      duplicates: totals.duplicates,
      rejected: totals.rejected,
      rejectsFile: totals.rejected && !rejects.error ? rejectsFile : null,
    };
    print(
      io,
      args.json,
      summary,
      `${file}: ${totals.lines} lines; ${totals.stored} readings stored, ${totals.duplicates} already there, ${totals.rejected} rejected${summary.rejectsFile ? ` → ${rejectsFile}` : ''}`,
    );
    if (rejects.error) throw rejectsLost(rejectsFile, rejects.error, totals.rejected);
    return totals.stored === 0 && totals.duplicates === 0 && totals.rejected > 0 ? 1 : 0;
  },
};
export default command;
