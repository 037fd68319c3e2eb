/**
 * npm run bench:fhir [-- --json] [-- --n 300] [-- --postgres]
 *
 * FHIR Observation search for one patient's last 24 h (a page of 100 with the exact total), p50/p99 over
 * HTTP, beside the floor: the same answer (the page and the count) as the simplest SQL through the same driver
 * and pool (PGlite by default, node-postgres with --postgres). The two are timed alternately, one request then
 * one floor, so a machine that gets busier mid-run slows both alike. The app runs as in production (responses
 * are not checked against their schema, VIGIL_STRICT_RESPONSES=0); every search is audited as in production.
 * Target (issue 10): search p50 under 2× the floor.
 * CPU per search and per floor is counted too (this process, all its threads: HTTP client and server, PGlite's
 * worker; with --postgres also the server's backends of this database), which a busy machine inflates far less
 * than latency: under load, compare the CPU ratio.
 * Create: POST /fhir/R4/Observation (one heart rate each, through the ingest path) beside the same row
 * INSERTed through the same driver, as readings per second.
 */
import pg from 'pg';
import { bootApp } from '../test/support/app.ts';
import { dropBenchDatabase, freshBenchDatabase } from './support/database.ts';
import { round, summarize } from './support/stats.ts';
import { processCpuSeconds } from './support/cpu.ts';
import type { NewReading } from '../src/store/readings.repository.ts';

const args = process.argv.slice(2);
const JSON_OUT = args.includes('--json');
const N = args.includes('--n') ? Number(args[args.indexOf('--n') + 1]) : 300;
const POSTGRES = args.includes('--postgres');
const PATIENTS = 10;
const log = (s: string) => !JSON_OUT && process.stderr.write(s + '\n');

async function main() {
  const databaseUrl = POSTGRES ? await freshBenchDatabase('fhir') : undefined;
  const app = await bootApp({
    ...(databaseUrl ? { databaseUrl } : {}),
    env: { VIGIL_STRICT_RESPONSES: '0' }, // production: the response schema check is for tests
  });
  try {
    const s = app.services;
    const admin = (await app.tokenFor('admin')).token;
    const now = Date.now();
    log(`seeding ${PATIENTS} patients × 24 h of heart rate and SpO2 at one a minute…`);
    let target = '';
    for (let p = 0; p < PATIENTS; p++) {
      const id = (await s.patientService.create({ name: `Bench ${p}` }, 'system')).id;
      if (p === 0) target = id;
      const rows: NewReading[] = [];
      for (let m = 0; m < 1440; m++) {
        const ts = now - m * 60_000;
        rows.push(
          { patientId: id, deviceId: null, code: '8867-4', value: 60 + (m % 30), unit: '/min', ts, seq: null },
          { patientId: id, deviceId: null, code: '59408-5', value: 94 + (m % 5), unit: '%', ts, seq: null },
        );
      }
      await s.db.transaction((tx) => s.repos.readings.insertBatch(tx, rows));
    }
    const since = new Date(now - 86400_000).toISOString();
    const url = `${app.httpUrl}/fhir/R4/Observation?patient=${target}&date=ge${encodeURIComponent(since)}&_sort=-date&_count=100`;
    const floorPage = `SELECT id, patient_id, device_id, system, code, value, unit, ts, method, received_at FROM readings WHERE patient_id = $1 AND ts >= $2 ORDER BY ts DESC, id DESC LIMIT 100`;
    const floorCount = `SELECT count(*) FROM readings WHERE patient_id = $1 AND ts >= $2`;
    // The floor must give the same answer: the same 100 readings, in the same order, and the same total.
    const check = (await (await fetch(url, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
      total: number;
      entry: Array<{ resource: { id: string } }>;
    };
    const floorIds = (await s.db.query<{ id: string }>(floorPage, [target, since])).map((r) => String(r.id));
    const [{ count }] = await s.db.query<{ count: string }>(floorCount, [target, since]);
    if (check.total !== 2880 || Number(count) !== 2880 || check.entry.map((e) => e.resource.id).join() !== floorIds.join())
      throw new Error(`FHIR and the floor disagree: total ${check.total} vs ${count}, ${check.entry.length} entries`);

    const searchOnce = async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${admin}` } });
      await res.arrayBuffer();
    };
    const floorOnce = async () => {
      await s.db.query(floorPage, [target, since]);
      await s.db.query(floorCount, [target, since]);
    };
    // The database's backends, listed through a connection of its own outside the pool (the pool opens and
    // closes connections as it goes, so they are listed again before every call).
    const lister = POSTGRES ? new pg.Client({ connectionString: databaseUrl }) : null;
    await lister?.connect();
    const backends = async () =>
      lister
        ? (await lister.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map(
            (r) => r.pid,
          )
        : [];
    const [fhir, floor] = await alternately(N, [searchOnce, floorOnce], backends);
    await lister?.end();
    const CREATES = Math.min(N, 200);
    const body = (i: number) =>
      JSON.stringify({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${target}` },
        effectiveDateTime: new Date(now - 90_000_000 - i * 1000).toISOString(),
        valueQuantity: { value: 70, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      });
    let t0 = performance.now();
    for (let i = 0; i < CREATES; i++) {
      const res = await fetch(`${app.httpUrl}/fhir/R4/Observation`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/fhir+json' },
        body: body(i),
      });
      if (res.status !== 201) throw new Error(`create answered ${res.status}`);
      await res.arrayBuffer();
    }
    const createPerS = CREATES / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    for (let i = 0; i < CREATES; i++) {
      await s.db.query(`INSERT INTO readings (patient_id, device_id, code, value, unit, ts) VALUES ($1, NULL, '8867-4', 70, '/min', $2)`, [
        target,
        new Date(now - 200_000_000 - i * 1000).toISOString(),
      ]);
    }
    const insertPerS = CREATES / ((performance.now() - t0) / 1000);
    const result = {
      engine: POSTGRES ? 'postgres' : 'pglite',
      create: { fhirPerS: Math.round(createPerS), insertPerS: Math.round(insertPerS), ratio: round(insertPerS / createPerS), n: CREATES },
      rows: PATIENTS * 2880,
      search: { p50Ms: round(fhir.p50), p99Ms: round(fhir.p99), n: fhir.n, cpuMs: round(fhir.cpuMs), dbCpuMs: round(fhir.dbCpuMs) },
      floor: { p50Ms: round(floor.p50), p99Ms: round(floor.p99), n: floor.n, cpuMs: round(floor.cpuMs), dbCpuMs: round(floor.dbCpuMs) },
      ratioP50: round(fhir.p50 / floor.p50),
      ratioP99: round(fhir.p99 / floor.p99),
      ratioCpu: round((fhir.cpuMs + fhir.dbCpuMs) / (floor.cpuMs + floor.dbCpuMs)),
      target: 'search p50 < 2× floor',
      met: fhir.p50 / floor.p50 < 2,
    };
    if (JSON_OUT) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      console.log(`FHIR Observation search, one patient's last 24 h (page of 100 + exact total), ${result.engine}, ${result.rows} readings`);
      console.log(`  FHIR over HTTP   p50 ${result.search.p50Ms} ms   p99 ${result.search.p99Ms} ms`);
      console.log(`  floor (bare SQL) p50 ${result.floor.p50Ms} ms   p99 ${result.floor.p99Ms} ms`);
      console.log(`  ratio p50 ${result.ratioP50}×, p99 ${result.ratioP99}×  (target < 2× at p50: ${result.met ? 'met' : 'NOT met'})`);
      const cpu = (r: { cpuMs: number; dbCpuMs: number }) => `${r.cpuMs} ms${POSTGRES ? ` + PostgreSQL ${r.dbCpuMs} ms` : ''}`;
      console.log(`  CPU per search ${cpu(result.search)}, per floor ${cpu(result.floor)}: ${result.ratioCpu}× (comparable under load)`);
      console.log(`  create: FHIR POST ${result.create.fhirPerS}/s (sequential) vs bare INSERT ${result.create.insertPerS}/s (${result.create.ratio}× slower)`);
    }
  } finally {
    await app.stop();
    if (databaseUrl) await dropBenchDatabase(databaseUrl); // 28,800 readings per run otherwise left behind
  }
}

/**
 * Latencies of `fns` called in turn `n` times each (after 30 uncounted rounds), summarised per function, with
 * the mean CPU milliseconds of each call: this process (all threads) and the PostgreSQL backends (`listBackends` before each call; read from
 * /proc outside the timed window; 10 ms ticks, so only their sum over many calls means anything).
 */
async function alternately(n: number, fns: Array<() => Promise<void>>, listBackends: () => Promise<number[]>) {
  const samples = fns.map(() => [] as number[]);
  const cpu = fns.map(() => ({ self: 0, db: 0 }));
  const cpuOf = (pids: number[]) => pids.map(processCpuSeconds);
  for (let i = -30; i < n; i++)
    for (const [k, fn] of fns.entries()) {
      const pids = await listBackends();
      const db0 = cpuOf(pids);
      const self0 = process.cpuUsage();
      const t = performance.now();
      await fn();
      const ms = performance.now() - t;
      const self = process.cpuUsage(self0);
      // A backend that ended meanwhile reads 0: it counts for nothing rather than minus its lifetime.
      const db = cpuOf(pids).reduce((sum, after, j) => sum + (after > 0 ? after - db0[j] : 0), 0);
      if (i < 0) continue;
      samples[k].push(ms);
      cpu[k].self += (self.user + self.system) / 1000;
      cpu[k].db += db * 1000;
    }
  return samples.map((s, k) => ({ ...summarize(s), cpuMs: cpu[k].self / n, dbCpuMs: cpu[k].db / n }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
