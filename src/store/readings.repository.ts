import type { Db, Queryable } from '../platform/db.ts';
import type { StoredReading } from '../domain/types.ts';
import { CODES } from '../domain/codes.ts';
import { copyText, ingestCopyText, INGEST_COPY_COLUMNS } from './readings-copy-text.ts';

export interface NewReading {
  patientId: string;
  deviceId: string | null;
  code: string;
  system?: string;
  value: number;
  unit: string;
  ts: number;
  seq: number | null;
  commandId?: string | null;
  method?: { name: string; version: string } | null;
}

/** A chart series: raw points, or min/max points per bucket plus each bucket's statistics. */
export interface ChartSeries {
  unit: string | null;
  /** Bucket width in ms, or null when the points are the raw readings. */
  bucketMs: number | null;
  points: Array<[number, number]>;
  buckets: Array<{ t: number; min: number; max: number; mean: number; n: number }>;
}

export interface LatestValue {
  value: number;
  unit: string;
  ts: number;
}

interface ReadingRow {
  id: string;
  patient_id: string;
  device_id: string | null;
  system: string;
  code: string;
  value: number;
  unit: string;
  ts: Date | string;
  seq: string | null;
  command_id: string | null;
  method: { name: string; version: string } | null;
}

const toMs = (t: Date | string | number) => (t instanceof Date ? t.getTime() : new Date(t).getTime());

/**
 * One statement per batch on PostgreSQL: the rows travel as one JSON parameter (serialised natively by
 * V8, parsed natively by PostgreSQL), which costs far less than ten escaped text arrays. Rows come back
 * in insert order.
 */
async function insertReadings(tx: Queryable, rows: NewReading[]): Promise<Array<{ id: string }>> {
  const json = JSON.stringify(
    rows.map((r) => ({
      p: r.patientId,
      d: r.deviceId,
      s: r.system ?? 'http://loinc.org',
      c: r.code,
      v: r.value,
      u: r.unit,
      t: r.ts,
      q: r.seq,
      k: r.commandId ?? null,
      m: r.method ?? null,
    })),
  );
  return tx.query<{ id: string }>(
    `INSERT INTO readings (patient_id, device_id, system, code, value, unit, ts, seq, command_id, method)
     SELECT p, d, s, c, v, u, to_timestamp(t / 1000.0), q, k, m
     FROM json_to_recordset($1::json) AS x(p text, d text, s text, c text, v float8, u text, t float8, q bigint, k text, m jsonb)
     RETURNING id`,
    [json],
  );
}

const COPY_COLUMNS = 'patient_id, device_id, system, code, value, unit, ts, seq, command_id, method';

/**
 * COPY from CSV: about twice as fast as INSERT on PGlite. Ids are reserved as one block from the sequence
 * first (safe because PGlite has a single connection and transactions are serialised).
 */
async function copyReadingsPglite(tx: Queryable, rows: StoredReading[]): Promise<void> {
  const [{ last }] = await tx.query<{ last: string }>(
    `SELECT setval(pg_get_serial_sequence('readings', 'id'), nextval(pg_get_serial_sequence('readings', 'id')) + $1 - 1) AS last`,
    [rows.length],
  );
  const first = Number(last) - rows.length + 1; // ids stay far below 2^53
  await tx.copyCsv!(`COPY readings (id, ${INGEST_COPY_COLUMNS}) FROM '/dev/blob' WITH (FORMAT csv)`, ingestCopyText(rows, first));
  for (let i = 0; i < rows.length; i++) rows[i].id = String(first + i);
}

/**
 * COPY on PostgreSQL, where other sessions take ids from the same sequence at the same time, so no block can
 * be reserved: each row takes its id from the id sequence (the column default) as it is copied (ascending, in row order).
 * One `nextval` before and `currval` after bound them: when nothing else took an id in between (the usual
 * case) they are exactly the ids between; otherwise the rows of this transaction (`xmin`) in that id range
 * are looked up (one primary-key range scan). Standard COPY into `readings` by column names, so it works on
 * a partitioned table too.
 */
async function copyReadingsPostgres(tx: Queryable, rows: StoredReading[]): Promise<void> {
  const [{ before }] = await tx.query<{ before: string }>(`SELECT nextval(pg_get_serial_sequence('readings', 'id')) AS before`);
  await tx.copyIn!(`COPY readings (${INGEST_COPY_COLUMNS}) FROM STDIN WITH (FORMAT csv)`, ingestCopyText(rows));
  const [{ after }] = await tx.query<{ after: string }>(`SELECT currval(pg_get_serial_sequence('readings', 'id')) AS after`);
  const lo = Number(before);
  if (Number(after) - lo === rows.length) {
    for (let i = 0; i < rows.length; i++) rows[i].id = String(lo + 1 + i); // ids stay far below 2^53
    return;
  }
  const mine = await tx.query<{ id: string }>('SELECT id FROM readings WHERE id > $1 AND id <= $2 AND xmin = pg_current_xact_id()::xid ORDER BY id', [
    before,
    after,
  ]);
  if (mine.length !== rows.length) throw new Error(`COPY stored ${mine.length} readings, expected ${rows.length}`);
  for (let i = 0; i < rows.length; i++) rows[i].id = String(mine[i].id);
}

/** Keeps `latest_readings` current: per (patient, code) only the newest of the rows, and only if newer than what is there. */
async function updateLatest(tx: Queryable, rows: NewReading[]): Promise<void> {
  const newest = new Map<string, Map<string, NewReading>>(); // patient → code → row (no key string per row)
  for (const r of rows) {
    let byCode = newest.get(r.patientId);
    if (!byCode) newest.set(r.patientId, (byCode = new Map()));
    const prev = byCode.get(r.code);
    if (!prev || r.ts >= prev.ts) byCode.set(r.code, r);
  }
  if (newest.size === 0) return;
  // Sorted, so concurrent batches lock the same rows in the same order (no deadlock between them).
  const byKey = (a: NewReading, b: NewReading) =>
    a.patientId < b.patientId ? -1 : a.patientId > b.patientId ? 1 : a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  const latest = [...newest.values()].flatMap((byCode) => [...byCode.values()]).sort(byKey);
  await tx.query(
    `INSERT INTO latest_readings (patient_id, code, value, unit, ts, device_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::timestamptz[], $6::text[])
     ON CONFLICT (patient_id, code) DO UPDATE
       SET value = EXCLUDED.value, unit = EXCLUDED.unit, ts = EXCLUDED.ts, device_id = EXCLUDED.device_id
       WHERE latest_readings.ts <= EXCLUDED.ts`,
    [
      latest.map((r) => r.patientId),
      latest.map((r) => r.code),
      latest.map((r) => r.value),
      latest.map((r) => r.unit),
      latest.map((r) => new Date(r.ts).toISOString()),
      latest.map((r) => r.deviceId),
    ],
  );
}

/**
 * A reading as it will be stored, its id still '' (`insertStorable` fills it in). Every stored reading has
 * this one shape (the same fields in the same order, as `rowToReading` and the relay make them), so the
 * code that handles readings after the commit sees one object layout.
 */
export function storable(
  patientId: string,
  deviceId: string | null,
  code: string,
  value: number,
  unit: string,
  ts: number,
  seq: number | null,
  commandId?: string | null,
  system?: string,
  method?: { name: string; version: string } | null,
): StoredReading {
  return {
    id: '',
    patientId,
    deviceId,
    system: system ?? 'http://loinc.org',
    code,
    value,
    unit,
    ts,
    seq,
    commandId: commandId ?? null,
    method: method ?? null,
  };
}

export function rowToReading(r: ReadingRow): StoredReading {
  return {
    id: String(r.id),
    patientId: r.patient_id,
    deviceId: r.device_id,
    system: r.system,
    code: r.code,
    value: Number(r.value),
    unit: r.unit,
    ts: toMs(r.ts),
    seq: r.seq === null ? null : Number(r.seq),
    commandId: r.command_id,
    method: r.method,
  };
}

/** SQL for the readings time series, and nothing else. */
export function createReadingsRepository(db: Db) {
  return {
    /**
     * Claims message keys (`deviceIds[i]`, `seqs[i]`) for de-duplication: returns the subset never seen before, as
     * `device|seq` strings, or 'all' when every key is new and distinct (the usual case: no string per
     * message is built). A key repeated within the same call counts once (the first occurrence wins).
     */
    async claimMessages(tx: Queryable, deviceIds: string[], seqs: number[]): Promise<Set<string> | 'all'> {
      if (deviceIds.length === 0) return 'all';
      // Only the count comes back when every key is new (the usual case); the keys themselves only when some
      // were seen before (a redelivery), so a batch of 2,000 messages does not parse 2,000 rows back.
      const [{ n, fresh }] = await tx.query<{ n: number; fresh: Array<[string, number]> | null }>(
        `WITH claimed AS (
           INSERT INTO ingested_messages (device_id, seq) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT DO NOTHING RETURNING device_id, seq)
         SELECT count(*)::int AS n, CASE WHEN count(*) < $3 THEN json_agg(json_build_array(device_id, seq)) END AS fresh FROM claimed`,
        [deviceIds, seqs, deviceIds.length],
      );
      if (n === deviceIds.length) return 'all'; // ON CONFLICT skips a key repeated in the same statement, so n counts distinct new keys
      return new Set((fresh ?? []).map(([d, q]) => `${d}|${q}`));
    },

    /**
     * Inserts many readings with COPY (a parameterised INSERT where the engine has no COPY) and keeps
     * `latest_readings` current. Only ids come back (see the COPY functions above), so neither engine
     * serialises every column back to JavaScript.
     */
    async insertBatch(tx: Queryable, rows: NewReading[]): Promise<StoredReading[]> {
      const stored: StoredReading[] = rows.map((r) => storable(r.patientId, r.deviceId, r.code, r.value, r.unit, r.ts, r.seq, r.commandId, r.system, r.method));
      await this.insertStorable(tx, stored);
      return stored;
    },

    /**
     * insertBatch for rows built to be stored (`storable`, id ''), the ingest path: each row's id is filled in
     * place, so no second object per reading is made. On failure the ids are meaningless (the caller retries
     * or refuses the rows).
     */
    async insertStorable(tx: Queryable, rows: StoredReading[]): Promise<void> {
      if (rows.length === 0) return;
      if (tx.copyCsv) await copyReadingsPglite(tx, rows);
      else if (tx.copyIn) await copyReadingsPostgres(tx, rows);
      else {
        const ids = await insertReadings(tx, rows);
        for (let i = 0; i < rows.length; i++) rows[i].id = String(ids[i].id);
      }
      await updateLatest(tx, rows);
    },

    /**
     * The bulk path for history (CSV import): COPY on either engine with ids from the column default (the id sequence), and
     * nothing comes back but the count, so a million rows build no per-row objects or id lists.
     */
    async insertRows(tx: Queryable, rows: NewReading[]): Promise<number> {
      if (rows.length === 0) return 0;
      // Marked imported: history never raises alerts, and the alert replay after a restart leaves it alone.
      if (tx.copyCsv) await tx.copyCsv(`COPY readings (${COPY_COLUMNS}, imported) FROM '/dev/blob' WITH (FORMAT csv)`, copyText(rows, ',t\n'));
      else if (tx.copyIn) await tx.copyIn(`COPY readings (${COPY_COLUMNS}, imported) FROM STDIN WITH (FORMAT csv)`, copyText(rows, ',t\n'));
      else {
        const ids = await insertReadings(tx, rows);
        await tx.query('UPDATE readings SET imported = true WHERE id = ANY($1::bigint[])', [ids.map((r) => r.id)]);
      }
      await updateLatest(tx, rows);
      return rows.length;
    },

    /** Latest value of every code, for many patients at once (the clinician panel). */
    /** Patients with a live (device or manual) reading newer than `sinceMs`: derived results and imported history are not counted. */
    async patientsActiveSince(sinceMs: number): Promise<string[]> {
      // Imported history does not count (it never raises alerts): only what arrived as a live reading.
      const rows = await db.query<{ patient_id: string }>(
        `SELECT DISTINCT l.patient_id FROM latest_readings l WHERE l.ts > $1 AND l.code = ANY($2::text[])
            AND EXISTS (SELECT 1 FROM readings x WHERE x.patient_id = l.patient_id AND x.code = l.code AND x.ts > $1 AND x.method IS NULL AND NOT x.imported)`,
        [new Date(sinceMs).toISOString(), CODES.map((c) => c.code)],
      );
      return rows.map((r) => r.patient_id);
    },
    async latestFor(patientIds: string[]): Promise<Map<string, Record<string, LatestValue>>> {
      const out = new Map<string, Record<string, LatestValue>>();
      if (patientIds.length === 0) return out;
      const rows = await db.query<{ patient_id: string; code: string; value: number; unit: string; ts: Date }>(
        'SELECT patient_id, code, value, unit, ts FROM latest_readings WHERE patient_id = ANY($1::text[])',
        [patientIds],
      );
      for (const r of rows) {
        const entry = out.get(r.patient_id) ?? {};
        entry[r.code] = { value: Number(r.value), unit: r.unit, ts: toMs(r.ts) };
        out.set(r.patient_id, entry);
      }
      return out;
    },

    /**
     * A patient's readings of one code in [from, to], oldest first. When more than `limit` match, the
     * newest `limit` are returned (a cut must never hide the latest data).
     */
    async range(patientId: string, code: string, from: number, to: number, limit = 100_000): Promise<StoredReading[]> {
      const rows = await db.query<ReadingRow>(
        `SELECT id, patient_id, device_id, system, code, value, unit, ts, seq, command_id, method FROM readings
         WHERE patient_id = $1 AND code = $2 AND ts >= $3 AND ts <= $4 ORDER BY ts DESC LIMIT $5`,
        [patientId, code, new Date(from).toISOString(), new Date(to).toISOString(), limit],
      );
      return rows.map(rowToReading).reverse();
    },

    /**
     * A chart series downsampled in the database: the range is cut into equal `date_bin` buckets (PostgreSQL
     * 14+, also on PGlite), and each bucket gives its minimum and maximum (at the times they occurred, so
     * peaks and dips survive) and its mean. The last bucket also gives its newest reading, so the chart
     * always ends at the latest value. Ranges with at most `maxPoints` readings come back raw.
     */
    async series(patientId: string, code: string, from: number, to: number, maxPoints: number): Promise<ChartSeries> {
      const args = [patientId, code, new Date(from).toISOString(), new Date(to).toISOString()];
      const raw = await db.query<{ ts: Date | string; value: number; unit: string }>(
        `SELECT ts, value, unit FROM readings WHERE patient_id = $1 AND code = $2 AND ts >= $3 AND ts <= $4 ORDER BY ts DESC LIMIT $5`,
        [...args, maxPoints + 1],
      );
      if (raw.length <= maxPoints) {
        const points = raw.reverse().map((r) => [toMs(r.ts), Number(r.value)] as [number, number]);
        return { unit: raw[0]?.unit ?? null, bucketMs: null, points, buckets: [] };
      }
      const nBuckets = Math.max(1, Math.floor((maxPoints - 1) / 2));
      const bucketMs = Math.max(1, Math.ceil((to - from + 1) / nBuckets));
      const rows = await db.query<{
        b: Date | string;
        lo: number;
        hi: number;
        mean: number;
        n: string;
        lo_ts: Date | string;
        hi_ts: Date | string;
        last_ts: Date | string;
        last_v: number;
        unit: string;
      }>(
        `SELECT b, min(value) AS lo, max(value) AS hi, avg(value) AS mean, count(*) AS n,
                (array_agg(ts ORDER BY value ASC, ts ASC))[1] AS lo_ts, (array_agg(ts ORDER BY value DESC, ts ASC))[1] AS hi_ts,
                max(ts) AS last_ts, (array_agg(value ORDER BY ts DESC))[1] AS last_v, min(unit) AS unit
         FROM (SELECT date_bin(make_interval(secs => $5::float8 / 1000), ts, $3::timestamptz) AS b, ts, value, unit
               FROM readings WHERE patient_id = $1 AND code = $2 AND ts >= $3 AND ts <= $4) x
         GROUP BY b ORDER BY b`,
        [...args, bucketMs],
      );
      const points: Array<[number, number]> = [];
      rows.forEach((r, i) => {
        const lo: [number, number] = [toMs(r.lo_ts), Number(r.lo)];
        const hi: [number, number] = [toMs(r.hi_ts), Number(r.hi)];
        const pair = lo[0] === hi[0] ? [lo] : lo[0] < hi[0] ? [lo, hi] : [hi, lo];
        if (i === rows.length - 1) {
          const last: [number, number] = [toMs(r.last_ts), Number(r.last_v)];
          if (pair.at(-1)![0] !== last[0]) pair.push(last);
        }
        points.push(...pair);
      });
      const buckets = rows.map((r) => ({ t: toMs(r.b), min: Number(r.lo), max: Number(r.hi), mean: Number(r.mean), n: Number(r.n) }));
      return { unit: rows[0]?.unit ?? null, bucketMs, points, buckets };
    },

    /** Rows by id, in id order (another instance announced them: cluster/relay.ts). Unknown ids are skipped. */
    async byIds(ids: string[]): Promise<StoredReading[]> {
      const valid = ids.filter((id) => /^\d+$/.test(id));
      if (valid.length === 0) return [];
      const rows = await db.query<ReadingRow>(
        'SELECT id, patient_id, device_id, system, code, value, unit, ts, seq, command_id, method FROM readings WHERE id = ANY($1::bigint[]) ORDER BY id',
        [valid],
      );
      return rows.map(rowToReading);
    },

    async byId(id: string): Promise<StoredReading | null> {
      if (!/^\d+$/.test(id)) return null;
      const rows = await db.query<ReadingRow>(
        'SELECT id, patient_id, device_id, system, code, value, unit, ts, seq, command_id, method FROM readings WHERE id = $1',
        [id],
      );
      return rows[0] ? rowToReading(rows[0]) : null;
    },

    /** Observation search behind the FHIR API: filters are optional; `patientIds` null means no restriction. */
    async search(q: {
      patientIds: string[] | null;
      codes?: string[];
      from?: number;
      to?: number;
      fromExclusive?: boolean;
      toExclusive?: boolean;
      sortDesc?: boolean;
      limit: number;
      offset: number;
      countOnly?: boolean;
    }): Promise<{ total?: number; rows: StoredReading[] }> {
      const where: string[] = [];
      const params: unknown[] = [];
      const p = (v: unknown) => {
        params.push(v);
        return `$${params.length}`;
      };
      if (q.patientIds) where.push(`patient_id = ANY(${p(q.patientIds)}::text[])`);
      if (q.codes?.length) where.push(`code = ANY(${p(q.codes)}::text[])`);
      if (q.from !== undefined) where.push(`ts ${q.fromExclusive ? '>' : '>='} ${p(new Date(q.from).toISOString())}`);
      if (q.to !== undefined) where.push(`ts ${q.toExclusive ? '<' : '<='} ${p(new Date(q.to).toISOString())}`);
      const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const [{ n }] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM readings ${filter}`, params);
      if (q.countOnly) return { total: Number(n), rows: [] };
      const rows = await db.query<ReadingRow>(
        `SELECT id, patient_id, device_id, system, code, value, unit, ts, seq, command_id, method FROM readings ${filter}
         ORDER BY ts ${q.sortDesc ? 'DESC' : 'ASC'}, id ${q.sortDesc ? 'DESC' : 'ASC'} LIMIT ${p(q.limit)} OFFSET ${p(q.offset)}`,
        params,
      );
      return { total: Number(n), rows: rows.map(rowToReading) };
    },

    async countAll(): Promise<number> {
      const [{ n }] = await db.query<{ n: string }>('SELECT count(*) AS n FROM readings');
      return Number(n);
    },
  };
}

export type ReadingsRepository = ReturnType<typeof createReadingsRepository>;
