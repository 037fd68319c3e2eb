import { createReadStream, type WriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import { CliError, type CliCommand, type CliIo } from '../command.ts';
import { cannotWrite, checkWritable, cliConfig, findRunningServer, openPrivateFileSync, print } from '../runtime.ts';
import { printable } from '../safe-text.ts';
import { checkTimeZone, type DateOrder } from '../../csv/timestamps.ts';
import { chunksByLine, CsvLayoutError, detectDelimiter, parseReadingsCsv, rowsAt, type CandidateReading, type CsvLayout } from '../../csv/readings-csv.ts';
import type { ImportResult } from '../../csv/import.service.ts';
import { IMPORT_BATCH_MAX } from '../../csv/csv.routes.ts';

/** `a=b,c=d` → {a: 'b', c: 'd'} (a value may itself contain spaces). */
function pairs(flag: string, v: string | boolean | undefined): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v.includes('=')) throw new CliError(`--${flag} takes name=value pairs separated by commas (e.g. --${flag} hr=pulse,spo2=SpO2)`);
  return Object.fromEntries(
    v.split(',').map((p) => {
      const i = p.indexOf('=');
      if (i <= 0) throw new CliError(`--${flag}: "${p}" is not name=value`);
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
    }),
  );
}

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

/** Where parsed rows go: the running server's API, or the database directly when no server holds it. */
export async function openSink(): Promise<{ via: string; store(rows: CandidateReading[]): Promise<ImportResult>; close(): Promise<void> }> {
  const config = cliConfig();
  const server = await findRunningServer(config.dataDir);
  if (server) {
    return {
      via: 'server',
      async store(rows) {
        const res = await fetch(`${server.url}/api/v1/readings/import`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ rows }),
        });
        const body = (await res.json().catch(() => ({}))) as ImportResult & { error?: { message: string } };
        if (!res.ok) throw new CliError(`the server refused the import: ${body.error?.message ?? res.status}`);
        return body;
      },
      async close() {},
    };
  }
  const { openOfflineServices } = await import('../offline-services.ts');
  const offline = await openOfflineServices(config);
  const s = offline.services;
  const importer = s.csvImport;
  return {
    via: 'database',
    store: (rows) => importer.importBatch('cli', rows),
    close: () => offline.close(),
  };
}

async function firstLine(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8').split(/\r?\n/)[0];
  } finally {
    await fh.close();
  }
}

export const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/**
 * An import's rejects file (`line,reason,row`, 0600: rows hold patient data), created at the first rejected
 * row; `count` says how many. A file that cannot be written does not stop the import: `error` says why, and
 * the caller fails loudly once the summary is printed.
 */
export function openRejects(file: string) {
  let out: WriteStream | null = null;
  let error: unknown = null;
  let count = 0;
  const open = () => {
    try {
      out = openPrivateFileSync(file).on('error', (err) => (error ??= err));
      out.write('line,reason,row\n');
    } catch (err) {
      error = err;
    }
  };
  return {
    get count() {
      return count;
    },
    get error() {
      return error;
    },
    add(line: number, reason: string, raw = '') {
      if (count++ === 0) open();
      if (!error) out?.write(`${line},${csvField(reason)},${csvField(raw)}\n`);
    },
    async close() {
      if (!out) return;
      out.end();
      await finished(out).catch((err: unknown) => (error ??= err));
    },
  };
}

/** The error once the summary is printed: the rejected rows and their reasons are not in the file. */
export function rejectsLost(file: string, error: unknown, rejected: number): CliError {
  const lost = cannotWrite('rejected rows', file, error).message;
  return new CliError(`${lost}; ${rejected} not saved (run again with --rejects FILE: stored readings are not imported twice)`);
}

/** A file that is not text (a binary picked by mistake) is named as such, not listed as columns of bytes. */
function assertText(file: string, header: string) {
  if (/[\u0000-\u0008\u000e-\u001f\u007f]/.test(header))
    throw new CliError(`${file}: not a CSV text file (its first line is binary: "${printable(header, 40)}")`);
}

const command: CliCommand = {
  name: 'import csv',
  summary: 'import readings from a CSV file (progress bar, summary, rejected rows with reasons; re-runs import nothing twice)',
  help: `Usage: vigil import csv FILE [--map TARGET=COLUMN,…] [--units KEY=UNIT,…] [--tz ZONE] [--date-order dmy|mdy]
                       [--delimiter ,|;|tab] [--patient ID] [--rejects FILE] [--json]

Long files have one reading a row: timestamp, patient, code (key such as hr, or LOINC code), value[, unit][, device].
Wide files have one column per measurement, named by key (hr, spo2, rr, sbp, dbp, temp, glucose, weight, steps)
or LOINC code, or mapped: --map hr=pulse,timestamp=Date,patient=MRN. Units come from a unit column, the header
("weight (lb)"), or --units weight=lb,temp=F, and are converted to UCUM (any UCUM unit of the same kind: lb, st, g→kg, °F, K→°C, kPa→mmHg, mmol/L→mg/dL).
Patients are matched by Vigil id or MRN. Timestamps without an offset are local time in --tz (default UTC):
a time the clocks skipped (spring forward) is refused, one they repeated (fall back) is the first of the two.
Comma, semicolon or tab is detected from the header; a BOM, quoted fields and decimal commas are read.
Rows that cannot be imported go to FILE.rejected.csv (line, reason, the row; a row across lines is named by the
line it starts on). Empty rows are counted and skipped. Re-running the same file stores
nothing twice (a reading is the same when patient, code and instant agree).`,
  async run(args, io: CliIo) {
    const file = args.positionals[0];
    if (!file) throw new CliError('missing FILE (vigil import csv FILE)');
    const size = (
      await stat(file).catch(() => {
        throw new CliError(`cannot read ${file}`);
      })
    ).size;
    const tz = str(args.flags.tz) ?? 'UTC';
    try {
      checkTimeZone(tz);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const dateOrder = (str(args.flags['date-order']) ?? 'dmy') as DateOrder;
    if (!['dmy', 'mdy'].includes(dateOrder)) throw new CliError('--date-order must be dmy or mdy');
    const header = await firstLine(file);
    assertText(file, header);
    const delimFlag = str(args.flags.delimiter);
    const delimiter = delimFlag === 'tab' ? '\t' : (delimFlag ?? detectDelimiter(header));
    if (![',', ';', '\t', '|'].includes(delimiter)) throw new CliError('--delimiter must be , ; | or tab');
    const rejectsFile = str(args.flags.rejects) ?? `${file}.rejected.csv`;
    // A chosen rejects file is checked before anything is stored. The default one (beside FILE) only when a row
    // is rejected: a clean import from a read-only directory needs none.
    if (str(args.flags.rejects)) await checkWritable(rejectsFile, '--rejects');
    const opts = { map: pairs('map', args.flags.map), units: pairs('units', args.flags.units), tz, dateOrder, delimiter, patient: str(args.flags.patient) };

    const sink = await openSink();
    const started = Date.now();
    const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
    const bar = tty
      ? new cliProgress.SingleBar(
          {
            stream: io.stderr as NodeJS.WriteStream,
            format: 'importing {bar} {percentage}% | {stored} stored, {rejected} rejected | {rate} rows/s',
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    bar?.start(size, 0, { stored: 0, rejected: 0, rate: 0 });
    let layout: CsvLayout | undefined;
    const rejects = openRejects(rejectsFile);
    const totals = { rows: 0, emptyRows: 0, stored: 0, duplicates: 0, rejected: 0 };
    const refused: Array<{ line: number; reason: string }> = [];
    const reject = (line: number, reason: string, raw = '') => {
      rejects.add(line, reason, raw);
      totals.rejected = rejects.count + refused.length;
    };
    // The next batch is parsed while the previous one is written (one write in flight: order and memory
    // bounded), so parsing and the database overlap (bench:csv). Straight to the database, batches are larger.
    const batchSize = sink.via === 'database' ? 20_000 : IMPORT_BATCH_MAX / 2;
    let inFlight: Promise<void> = Promise.resolve();
    try {
      for await (const batch of parseReadingsCsv(createReadStream(file, { highWaterMark: 1 << 20 }), { ...opts, batchSize, onLayout: (l) => (layout = l) })) {
        for (const r of batch.rejections) reject(r.line, r.reason, r.raw);
        await inFlight;
        inFlight = (async () => {
          for (const chunk of chunksByLine(batch.readings, batchSize)) {
            const result = await sink.store(chunk);
            totals.stored += result.stored;
            totals.duplicates += result.duplicates;
            for (const r of result.rejections) refused.push(r);
            totals.rejected = rejects.count + refused.length;
          }
          totals.rows = batch.rows;
          totals.emptyRows = batch.emptyRows;
          bar?.update(batch.bytes, {
            stored: totals.stored,
            rejected: totals.rejected,
            rate: Math.round(totals.rows / Math.max(0.001, (Date.now() - started) / 1000)),
          });
        })();
        inFlight.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      }
      await inFlight;
      // Rows the database refused (unknown patient, someone else's device) go to the rejects file with their
      // text, read again from the file once (rowsAt): cheaper than keeping every row's fields until stored.
      if (refused.length) {
        const pending = refused.splice(0).sort((a, b) => a.line - b.line);
        const texts = await rowsAt(createReadStream(file, { highWaterMark: 1 << 20 }), new Set(pending.map((r) => r.line)), delimiter);
        for (const r of pending) reject(r.line, r.reason, texts.get(r.line));
      }
    } catch (err) {
      for (const r of refused.splice(0)) reject(r.line, r.reason); // the file broke off: lines and reasons at least
      if (err instanceof CsvLayoutError) throw new CliError(`${file}: ${err.message}`);
      if (err instanceof CliError) throw err;
      throw new CliError(`${file}: ${(err as Error).message}`);
    } finally {
      bar?.stop();
      await sink.close();
      await rejects.close();
    }
    const seconds = (Date.now() - started) / 1000;
    const rows = totals.rows;
    const summary = {
      file,
      via: sink.via,
      format: layout?.format,
      columns: layout?.columns,
      ignoredColumns: layout?.ignored ?? [],
      rows,
      emptyRows: totals.emptyRows,
      stored: totals.stored,
      duplicates: totals.duplicates,
      rejected: totals.rejected,
      rejectsFile: totals.rejected && !rejects.error ? rejectsFile : null,
      seconds: Math.round(seconds * 100) / 100,
      rowsPerSecond: Math.round(rows / Math.max(seconds, 0.001)),
    };
    print(
      io,
      args.json,
      summary,
      [
        `${file}: ${rows} rows read${totals.emptyRows ? `, ${totals.emptyRows} of them empty (skipped)` : ''} (${layout?.format} layout: ${Object.entries(
          layout?.columns ?? {},
        )
          .map(([k, v]) => `${k}←${v}`)
          .join(', ')})`,
        `  ${totals.stored} readings stored, ${totals.duplicates} already there (skipped), ${totals.rejected} rows rejected${summary.rejectsFile ? ` → ${rejectsFile}` : ''}`,
        ...(layout?.ignored.length ? [`  columns not imported: ${layout.ignored.join(', ')}`] : []),
        `  ${summary.seconds} s, ${summary.rowsPerSecond} rows/s`,
      ].join('\n'),
    );
    // The summary above still counts them; the rows and reasons themselves are lost, so not a success.
    if (rejects.error) throw rejectsLost(rejectsFile, rejects.error, totals.rejected);
    return totals.stored === 0 && totals.duplicates === 0 && totals.rejected > 0 ? 1 : 0;
  },
};
export default command;
