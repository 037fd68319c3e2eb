import { once } from 'node:events';
import { CliError, requireFlag, writeJson, type CliCommand, type CliIo } from '../command.ts';
import { cliConfig, findRunningServer, openPrivateFile } from '../runtime.ts';
import { csvRecords } from '../csv-records.ts';
import { parseBound } from '../../csv/export.ts';

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

/** Where the CSV text goes; `end` returns the number of readings (rows after the header). */
interface Sink {
  write(chunk: string): Promise<void>;
  end(): Promise<number>;
  /** The export failed: release what is open. */
  abort(): void;
}

async function writeWaiting(out: NodeJS.WritableStream, chunk: string) {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Rows counted by parsing, not by newlines: a quoted display or device name may hold one. */
function rowCounter() {
  const parser = csvRecords();
  let records = 0;
  return {
    push: (chunk: string) => (records += parser.push(chunk).length),
    total: () => Math.max(0, records + parser.end().length - 1),
  };
}

/** Plain CSV on stdout: nothing counts its rows (nothing prints the count). */
function textSink(io: CliIo): Sink {
  return { write: (chunk) => writeWaiting(io.stdout, chunk), end: async () => 0, abort: () => undefined };
}

async function fileSink(file: string): Promise<Sink> {
  const out = await openPrivateFile(file, '--out');
  const counter = rowCounter();
  return {
    write: (chunk) => (counter.push(chunk), writeWaiting(out, chunk)),
    async end() {
      out.end();
      await once(out, 'finish');
      return counter.total();
    },
    abort: () => out.destroy(),
  };
}

/** The readings as one JSON array, written as they come (an export may be larger than memory allows twice). */
function jsonSink(io: CliIo): Sink {
  const parser = csvRecords();
  let columns: string[] | null = null;
  let rows = 0;
  const objects = (records: string[][]) => {
    let text = '';
    for (const r of records) {
      if (!columns) {
        columns = r;
        continue;
      }
      const o = Object.fromEntries(columns.map((c, i) => [c, r[i] ?? '']));
      const reading = { ...o, value: Number(o.value), device: o.device || null };
      text += (rows++ ? ',' : '[') + JSON.stringify(reading);
    }
    return text;
  };
  return {
    write: (chunk) => writeWaiting(io.stdout, objects(parser.push(chunk))),
    async end() {
      await writeWaiting(io.stdout, objects(parser.end()) + (rows ? ']\n' : '[]\n'));
      return rows;
    },
    abort: () => undefined,
  };
}

/** The patient's readings as CSV text, from the running server's API or, with none, the database. */
async function copyReadings(patientId: string, q: { from?: string; to?: string; codes?: string }, sink: Sink) {
  const config = cliConfig();
  const server = await findRunningServer(config.dataDir);
  if (server) {
    const decoder = new TextDecoder(); // a character may straddle two chunks
    const params = new URLSearchParams(Object.entries({ from: q.from, to: q.to, code: q.codes }).filter((e): e is [string, string] => e[1] !== undefined));
    const res = await fetch(`${server.url}/api/v1/patients/${encodeURIComponent(patientId)}/readings.csv?${params}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    if (!res.ok)
      throw new CliError(((await res.json().catch(() => ({}))) as { error?: { message?: string } }).error?.message ?? `server answered ${res.status}`);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await sink.write(decoder.decode(chunk, { stream: true }));
  } else {
    const { openOfflineServices } = await import('../offline-services.ts');
    const offline = await openOfflineServices(config);
    try {
      const csv = await offline.services.csvExport.readingsFor('cli', patientId, q).catch((err: unknown) => {
        throw new CliError((err as Error).message);
      });
      for await (const chunk of csv) await sink.write(chunk);
    } finally {
      await offline.close();
    }
  }
}

const command: CliCommand = {
  name: 'export csv',
  summary: "a patient's readings as tidy CSV (time, code, display, value, unit, device), ready for pandas",
  help: `Usage: vigil export csv --patient ID [--from T] [--to T] [--codes hr,8480-6,…] [--out FILE] [--json]

T: 2026-11-24, 2026-11-24T10:00:00Z or epoch ms (--to is exclusive). Without --out the CSV goes to stdout.
The columns are those of GET /api/v1/patients/{id}/readings.csv; pandas reads it with
pandas.read_csv(FILE, parse_dates=["time"]). FILE is created readable only by its owner (patient data).
--json: with --out, prints {"file", "rows"}; without, the readings as one JSON array of objects with the
CSV's columns (value a number, device null when none).`,
  async run(args, io) {
    const patientId = requireFlag(args, 'patient');
    const q = { from: str(args.flags.from), to: str(args.flags.to), codes: str(args.flags.codes) };
    try {
      // Checked before anything is opened, with the flags' names in the message.
      parseBound('--from', q.from);
      parseBound('--to', q.to);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const outPath = str(args.flags.out);
    const sink = outPath ? await fileSink(outPath) : args.json ? jsonSink(io) : textSink(io);
    try {
      await copyReadings(patientId, q, sink);
    } catch (err) {
      sink.abort();
      throw err;
    }
    const rows = await sink.end();
    if (outPath) {
      if (args.json) writeJson(io, { file: outPath, rows });
      else io.stderr.write(`wrote ${rows} readings to ${outPath}\n`);
    }
    return 0;
  },
};
export default command;
