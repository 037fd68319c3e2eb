import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { CliError, requireFlag, type CliCommand } from '../command.ts';
import { cliConfig, findRunningServer } from '../runtime.ts';
import { parseBound } from '../../csv/export.ts';

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

const command: CliCommand = {
  name: 'export csv',
  summary: "a patient's readings as tidy CSV (time, code, display, value, unit, device), ready for pandas",
  help: `Usage: vigil export csv --patient ID [--from T] [--to T] [--codes hr,8480-6,…] [--out FILE]

T: 2026-11-24, 2026-11-24T10:00:00Z or epoch ms (--to is exclusive). Without --out the CSV goes to stdout.
The columns are those of GET /api/v1/patients/{id}/readings.csv; pandas reads it with
pandas.read_csv(FILE, parse_dates=["time"]).`,
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
    const out = outPath ? createWriteStream(outPath) : io.stdout;
    const write = async (chunk: string) => {
      if (!out.write(chunk)) await once(out, 'drain');
    };
    const config = cliConfig();
    const server = await findRunningServer(config.dataDir);
    if (server) {
      const params = new URLSearchParams(Object.entries({ from: q.from, to: q.to, code: q.codes }).filter((e): e is [string, string] => e[1] !== undefined));
      const res = await fetch(`${server.url}/api/v1/patients/${encodeURIComponent(patientId)}/readings.csv?${params}`, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      if (!res.ok)
        throw new CliError(((await res.json().catch(() => ({}))) as { error?: { message?: string } }).error?.message ?? `server answered ${res.status}`);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await write(Buffer.from(chunk).toString('utf8'));
    } else {
      const { openOfflineServices } = await import('../offline-services.ts');
      const offline = await openOfflineServices(config);
      try {
        const csv = await offline.services.csvExport.readingsFor('cli', patientId, q).catch((err: unknown) => {
          throw new CliError((err as Error).message);
        });
        for await (const chunk of csv) await write(chunk);
      } finally {
        await offline.close();
      }
    }
    if (outPath) {
      (out as NodeJS.WritableStream).end();
      await once(out, 'finish');
      io.stderr.write(`wrote ${outPath}\n`);
    }
    return 0;
  },
};
export default command;
