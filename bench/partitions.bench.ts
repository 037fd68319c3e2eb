/**
 * npm run bench:partitions [-- --postgres] [-- --rows 1000000] [-- --json]
 *
 * Monthly partitions of `readings` (migrations 024–025) beside the floor: the same database as it was at
 * migration 023 (one table), filled with the same rows, in the same run. Reported as ratios:
 * - ingest: the repository's batch insert (2,000 readings a batch, as the batch writer; COPY on PGlite,
 *   INSERT on PostgreSQL) into the partitioned table ÷ into the single table (target ≥ 0.9: routing rows to
 *   a partition must not cost ingest much);
 * - chart: one patient's 24 h chart, downsampled in SQL (`series`, date_bin) p50, single ÷ partitioned
 *   (target ≥ 0.9), and the partitions its plan reads (only this month's, and yesterday's on the 1st).
 * The background rows: 20 patients' heart rate spread over the 120 days before the 15th of this month
 * ("now" in the bench, so that the current partition holds half a month whatever the calendar says).
 */
import { openDatabase, type Db } from '../src/platform/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { createReadingsRepository, type NewReading } from '../src/store/readings.repository.ts';
import { maintainReadingPartitions, monthStart } from '../src/store/readings-partitions.ts';
import pg from 'pg';
import { BENCH_PG_URL, freshBenchDatabase } from './support/database.ts';
import { round, summarize, table } from './support/stats.ts';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const ROWS = Number(arg('--rows') ?? 1_000_000);
const POSTGRES = args.includes('--postgres');
const JSON_OUT = args.includes('--json');
const log = (s: string) => !JSON_OUT && process.stderr.write(s + '\n');
const DAY = 86_400_000;
const SPAN_DAYS = 120;
const PATIENTS = 20;
const BATCH = 2_000;
const INSERTED = 200_000;

const created: string[] = [];
async function open(tag: string): Promise<Db> {
  if (!POSTGRES) return openDatabase({ dataDir: null });
  const url = await freshBenchDatabase(tag);
  created.push(new URL(url).pathname.slice(1));
  return openDatabase({ databaseUrl: url, dataDir: null });
}

async function dropCreated() {
  if (!created.length) return;
  const c = new pg.Client({ connectionString: BENCH_PG_URL });
  await c.connect();
  for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.end();
}

async function fill(db: Db, now: number) {
  const every = (SPAN_DAYS * 86_400) / (ROWS / PATIENTS); // s between one patient's readings
  await db.query(
    `INSERT INTO readings (patient_id, device_id, code, value, unit, ts, seq)
     SELECT 'pat_' || (g % ${PATIENTS}), 'dev_' || (g % ${PATIENTS}), '8867-4', 60 + g % 40, '/min',
            $1::timestamptz - (g / ${PATIENTS}) * make_interval(secs => ${every}), g
     FROM generate_series(1, ${ROWS}) g`,
    [new Date(now).toISOString()],
  );
  await db.exec('ANALYZE readings');
}

/** The partitions (or the table) a one-patient 24 h query reads, from its plan (pruned ones are absent). */
async function tablesRead(db: Db, now: number): Promise<string[]> {
  const from = new Date(now - DAY).toISOString();
  const to = new Date(now).toISOString();
  const plan = (
    await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT ts, value FROM readings WHERE patient_id = 'pat_3' AND code = '8867-4' AND ts >= '${from}' AND ts <= '${to}'`,
    )
  ).map((r) => r['QUERY PLAN']);
  return [...new Set(plan.filter((l) => !l.includes('Bitmap Index Scan')).flatMap((l) => [...l.matchAll(/ on (readings\w*)/g)].map((m) => m[1])))];
}

/**
 * Both tables measured in alternation, batch by batch and query by query, so that load from elsewhere on
 * the machine and warm-up fall on both alike.
 */
async function measure(dbs: Db[], now: number) {
  const repos = dbs.map((db) => createReadingsRepository(db));
  let seq = 0;
  const batch = (): NewReading[] =>
    Array.from({ length: BATCH }, (_, i) => ({
      patientId: `pat_${i % PATIENTS}`,
      deviceId: `dev_${i % PATIENTS}`,
      code: '8867-4',
      value: 70,
      unit: '/min',
      ts: now - 60_000 + (i % 1000),
      seq: ++seq,
    }));
  const insertMs = dbs.map(() => 0);
  for (let n = 0; n < INSERTED; n += BATCH) {
    const rows = batch();
    for (let k = 0; k < dbs.length; k++) {
      const t = performance.now();
      await dbs[k].transaction((tx) => repos[k].insertBatch(tx, rows));
      insertMs[k] += performance.now() - t;
    }
  }
  const chart: number[][] = dbs.map(() => []);
  for (let i = 0; i < 60; i++) {
    for (let k = 0; k < dbs.length; k++) {
      const t = performance.now();
      await repos[k].series('pat_3', '8867-4', now - DAY, now, 600);
      if (i >= 10) chart[k].push(performance.now() - t); // the first 10: warm-up
    }
  }
  return Promise.all(
    dbs.map(async (db, k) => ({
      insertPerS: INSERTED / (insertMs[k] / 1000),
      chartP50: summarize(chart[k]).p50,
      read: await tablesRead(db, now),
    })),
  );
}

async function main() {
  // The middle of a month, whatever the calendar: the current partition holds half a month, as on a typical day.
  const now = monthStart(Date.now()) + 15 * DAY;
  const engine = POSTGRES ? 'PostgreSQL' : 'PGlite';
  log(`${engine}: ${ROWS.toLocaleString()} background readings over ${SPAN_DAYS} days, then ${INSERTED.toLocaleString()} inserted in batches of ${BATCH}`);
  const single = await open('part_single');
  const parted = await open('part_monthly');
  try {
    await migrate(single, { until: '023_device_disable.sql' });
    await migrate(parted);
    // The months of the background rows (as the maintenance makes them for a backfill).
    for (let back = 0; back <= Math.ceil(SPAN_DAYS / 28); back++) await maintainReadingPartitions(parted, now - back * 28 * DAY);
    await fill(single, now);
    await fill(parted, now);
    const [a, b] = await measure([single, parted], now);
    const rows = [
      {
        table: 'single (migration 023)',
        'insert readings/s': Math.round(a.insertPerS),
        'chart 24 h p50 ms': round(a.chartP50, 2),
        'plan reads': a.read.join(' '),
      },
      { table: 'monthly partitions', 'insert readings/s': Math.round(b.insertPerS), 'chart 24 h p50 ms': round(b.chartP50, 2), 'plan reads': b.read.join(' ') },
    ];
    const result = {
      engine,
      rows: ROWS,
      insertRatio: round(b.insertPerS / a.insertPerS, 2),
      chartRatio: round(a.chartP50 / b.chartP50, 2),
      partitionsRead: b.read,
      table: rows,
    };
    log(table(rows));
    log(`insert partitioned ÷ single ${result.insertRatio} (target ≥ 0.9); chart single ÷ partitioned ${result.chartRatio} (target ≥ 0.9)`);
    if (JSON_OUT) process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await single.close();
    await parted.close();
    await dropCreated();
  }
}

await main();
