/**
 * npm run bench:csv [-- --rows 1000000] [-- --postgres] [-- --local] [-- --json]
 *
 * `vigil import csv` of a file of N readings (long format: timestamp,patient,code,value,unit; one patient,
 * heart rate once a second) into a fresh database, beside the floor: the database's own COPY of the same
 * rows into the same table (PGlite's COPY by default, PostgreSQL's with --postgres, through
 * pg-copy-streams). Target (issue 10): the import at least a third of the floor's rows per second.
 * The import does what COPY does not: parse and check every row, convert units, resolve the patient,
 * skip readings already stored (same patient, code and time: re-running imports nothing twice), audit.
 * --local writes the file's times as local wall-clock time (`2025-01-01 01:00:00`) and imports it with
 * `--tz Europe/Berlin` (the time-zone path: the same instants, so the same floor).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { runCliCaptured } from '../src/cli/run-captured.ts';
import { openDatabase } from '../src/platform/db.ts';
import { dropBenchDatabase, freshBenchDatabase } from './support/database.ts';
import { round } from './support/stats.ts';
import { trackPostgresCpu } from './support/cpu.ts';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const ROWS = Number(arg('--rows') ?? 1_000_000);
const POSTGRES = args.includes('--postgres');
const JSON_OUT = args.includes('--json');
const LOCAL = args.includes('--local');
const TZ = 'Europe/Berlin';
/** Wall-clock text of instant t in TZ (the file a clinic in Berlin would have). */
const berlin = new Intl.DateTimeFormat('sv-SE', {
  timeZone: TZ,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});
const log = (s: string) => !JSON_OUT && process.stderr.write(s + '\n');

async function main() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bench-csv-'));
  const saved = { ...process.env };
  const databaseUrl = POSTGRES ? await freshBenchDatabase('csv') : undefined;
  process.env.VIGIL_DATA_DIR = dataDir;
  if (databaseUrl) process.env.DATABASE_URL = databaseUrl;
  else delete process.env.DATABASE_URL;
  try {
    const patient = JSON.parse((await runCliCaptured(['patient', 'add', '--name', 'Bench CSV', '--json'])).out).id as string;
    const t0 = Date.parse('2025-01-01T00:00:00Z');
    log(`writing ${ROWS.toLocaleString()} rows…`);
    const file = path.join(dataDir, 'readings.csv');
    const copyFile = path.join(dataDir, 'copy.csv');
    const lines: string[] = ['timestamp,patient,code,value,unit'];
    const copy: string[] = [];
    for (let i = 0; i < ROWS; i++) {
      const ts = LOCAL ? berlin.format(new Date(t0 + i * 1000)) : new Date(t0 + i * 1000).toISOString();
      const v = 60 + (i % 40);
      lines.push(`${ts},${patient},8867-4,${v},/min`);
      // The floor's rows: the same readings a year later (so they never meet the import's), as COPY takes them.
      copy.push(`${patient},8867-4,${v},/min,${new Date(t0 + 366 * 86400_000 + i * 1000).toISOString()}`);
    }
    await writeFile(file, lines.join('\n') + '\n');
    await writeFile(copyFile, copy.join('\n') + '\n');

    log('vigil import csv…');
    // CPU used (this process, which runs the CLI; PostgreSQL's backends): comparable on a busy machine.
    const cpuOf = async <T>(fn: () => Promise<T>) => {
      const pgCpu = databaseUrl ? await trackPostgresCpu(databaseUrl) : null;
      const self = process.cpuUsage();
      const value = await fn();
      const node = process.cpuUsage(self);
      return { value, nodeS: round((node.user + node.system) / 1e6), postgresS: pgCpu ? round(await pgCpu.stop()) : null };
    };
    let t = performance.now();
    const imported = await cpuOf(
      async () =>
        JSON.parse((await runCliCaptured(['import', 'csv', file, '--json', ...(LOCAL ? ['--tz', TZ] : [])])).out) as { stored: number; rejected: number },
    );
    const out = imported.value;
    const importS = (performance.now() - t) / 1000;
    if (out.stored !== ROWS) throw new Error(`import stored ${out.stored} of ${ROWS} (rejected ${out.rejected})`);

    log('COPY of the same rows (the floor)…');
    const db = await openDatabase({ databaseUrl, dataDir });
    let floorCpu: { nodeS: number; postgresS: number | null } | null = null;
    const sql = `COPY readings (patient_id, code, value, unit, ts) FROM ${POSTGRES ? 'STDIN' : "'/dev/blob'"} WITH (FORMAT csv)`;
    try {
      t = performance.now();
      floorCpu = await cpuOf(async () => {
        if (POSTGRES) {
          const pg = (await import('pg')).default;
          const { from } = await import('pg-copy-streams');
          const c = new pg.Client({ connectionString: databaseUrl });
          await c.connect();
          await pipeline(createReadStream(copyFile), c.query(from(sql)));
          await c.end();
        } else {
          await db.copyCsv!(sql, copy.join('\n') + '\n');
        }
      });
    } finally {
      await db.close();
    }
    const copyS = (performance.now() - t) / 1000;
    const result = {
      engine: POSTGRES ? 'postgres' : 'pglite',
      times: LOCAL ? `local (${TZ})` : 'UTC ISO 8601',
      rows: ROWS,
      import: { seconds: round(importS), rowsPerS: Math.round(ROWS / importS) },
      floor: { seconds: round(copyS), rowsPerS: Math.round(ROWS / copyS) },
      ratio: round(ROWS / importS / (ROWS / copyS)),
      cpuSeconds: { import: { node: imported.nodeS, postgres: imported.postgresS }, floor: { node: floorCpu!.nodeS, postgres: floorCpu!.postgresS } },
      loadAverage: os.loadavg().map((l) => round(l, 1)),
      target: 'import ≥ 1/3 of COPY rows/s',
      met: ROWS / importS >= ROWS / copyS / 3,
    };
    if (JSON_OUT) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      console.log(`vigil import csv of ${ROWS.toLocaleString()} rows, ${result.engine}, times ${result.times}`);
      console.log(`  import  ${result.import.seconds} s  ${result.import.rowsPerS.toLocaleString()} rows/s`);
      console.log(`  COPY    ${result.floor.seconds} s  ${result.floor.rowsPerS.toLocaleString()} rows/s (floor)`);
      console.log(`  import / COPY = ${result.ratio} (target ≥ 0.33: ${result.met ? 'met' : 'NOT met'})`);
      const c = result.cpuSeconds;
      console.log(
        `  CPU s: import ${c.import.node} (Vigil) + ${c.import.postgres ?? '–'} (PostgreSQL); COPY ${c.floor.node} (client) + ${c.floor.postgres ?? '–'} (PostgreSQL); load average ${result.loadAverage.join(' / ')}`,
      );
    }
  } finally {
    process.env = saved;
    await rm(dataDir, { recursive: true, force: true });
    if (databaseUrl) await dropBenchDatabase(databaseUrl); // two million rows: not left behind
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
