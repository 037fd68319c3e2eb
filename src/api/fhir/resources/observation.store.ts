import type { Db } from '../../../platform/db.ts';
import { dateSql, type DateValue } from '../search/date.ts';
import { SqlParams } from '../search/sql.ts';
import type { ObservationKind } from './observation-kinds.ts';
import { DEFAULT_MAX_AGE_MS, FUTURE_SKEW_MS, NEWS2_LOINC } from '../../../analysis/news2/index.ts';

/**
 * One SQL query over the three places Observations live, as if they were one table:
 *   r — readings (minus systolic/diastolic pairs), b — a systolic + diastolic pair at the same instant from
 *   the same device, shown as one 85354-9 panel, e — ECG chunks.
 * Each branch is filtered, keyset-paged and limited on its own (so each can use its index), then merged.
 * Rows are ordered by (sort key, branch, id): a total order, so a cursor resumes exactly where a page ended
 * however many rows arrive meanwhile.
 */

export type Branch = 'b' | 'e' | 'r';

export interface ObservationFilter {
  /** null: every patient. */
  patientIds: string[] | null;
  /** Each entry is one `_id` occurrence (AND); inner array OR. */
  ids?: Array<Array<{ branch: Branch; n: string }>>;
  /** undefined: every kind. */
  kinds?: ObservationKind[];
  deviceIds?: string[][];
  /** `date` occurrences (AND), each an OR list. */
  dates?: DateValue[][];
  lastUpdated?: DateValue[][];
  /** `status` that matches nothing (everything stored is final). */
  none?: boolean;
}

export interface Sort {
  key: 'date' | '_lastUpdated';
  desc: boolean;
}

export interface Cursor {
  /** Sort key value: timestamptz text with microseconds. */
  s: string;
  k: Branch;
  n: string;
}

export interface ObservationRow {
  k: Branch;
  n: string;
  patientId: string;
  deviceId: string | null;
  ts: number;
  end: number;
  lastUpdated: string;
  system: string | null;
  code: string | null;
  value: number | null;
  unit: string | null;
  method: { name: string; version: string } | null;
  /** b: the diastolic reading. */
  value2: number | null;
  n2: string | null;
  sortKey: string;
}

interface RawRow {
  k: Branch;
  n: string;
  patient_id: string;
  device_id: string | null;
  /** Epoch milliseconds (text, OUT), as `new Date(ts).getTime()` would read the timestamptz: no Date parsed per row. */
  ts: string;
  te: string | null;
  lu: string;
  system: string | null;
  code: string | null;
  value: number | null;
  unit: string | null;
  method: { name: string; version: string } | null;
  v2: number | null;
  n2: string | null;
  sk: string;
}

const US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const text = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', ${US})`;
const BP = { sys: '8480-6', dia: '8462-4', system: 'http://loinc.org' };

/** The SELECT of one branch, with its own column expressions. */
function branchSql(branch: Branch, f: ObservationFilter, sql: SqlParams, opts: BranchOptions): string | null {
  const where: string[] = [];
  let from: string;
  let cols: Record<'patient' | 'device' | 'ts' | 'te' | 'lu' | 'id', string>;
  let select: string;
  switch (branch) {
    case 'r': {
      from = 'readings r';
      cols = { patient: 'r.patient_id', device: 'r.device_id', ts: 'r.ts', te: 'r.ts', lu: 'r.received_at', id: 'r.id' };
      // A systolic or diastolic reading with its partner at the same instant is part of a panel (branch b): it
      // is left out below (PAIRED), on as few rows as possible.
      if (f.kinds) {
        const stored = f.kinds.flatMap((k) => (k.source.table === 'readings' ? [k.source] : []));
        if (!stored.length) return null;
        where.push(
          '(' +
            stored.map((s) => `(r.code = ${sql.p(s.code)} AND r.system = ${sql.p(s.system)} AND r.method IS ${s.derived ? 'NOT ' : ''}NULL)`).join(' OR ') +
            ')',
        );
      }
      select = `'r'::text AS k, r.id::text AS n, r.patient_id, r.device_id, r.ts, NULL::timestamptz AS te, r.system, r.code, r.value, r.unit, r.method,
        NULL::float8 AS v2, NULL::text AS n2, r.received_at AS lu_ts`;
      break;
    }
    case 'b': {
      if (opts.noBp || (f.kinds && !f.kinds.some((k) => k.source.table === 'bp'))) return null;
      from = `readings s JOIN LATERAL (SELECT d.id, d.value, d.received_at FROM readings d
        WHERE d.patient_id = s.patient_id AND d.code = '${BP.dia}' AND d.ts = s.ts AND d.device_id IS NOT DISTINCT FROM s.device_id AND d.method IS NULL
          AND d.received_at = s.received_at
        ORDER BY d.id LIMIT 1) d ON true`;
      const lu = 's.received_at';
      cols = { patient: 's.patient_id', device: 's.device_id', ts: 's.ts', te: 's.ts', lu, id: 's.id' };
      where.push(`s.code = '${BP.sys}' AND s.method IS NULL`);
      select = `'b'::text AS k, s.id::text AS n, s.patient_id, s.device_id, s.ts, NULL::timestamptz AS te, s.system, s.code, s.value, s.unit, s.method,
        d.value AS v2, d.id::text AS n2, ${lu} AS lu_ts`;
      break;
    }
    case 'e': {
      if (f.kinds && !f.kinds.some((k) => k.source.table === 'ecg')) return null;
      from = 'ecg_chunks c';
      const te = `(c.ts + make_interval(secs => cardinality(c.samples) / c.fs))`;
      cols = { patient: 'c.patient_id', device: 'c.device_id', ts: 'c.ts', te, id: 'c.id', lu: 'c.received_at' };
      select = `'e'::text AS k, c.id::text AS n, c.patient_id, c.device_id, c.ts, ${te} AS te, NULL::text AS system, NULL::text AS code,
        NULL::float8 AS value, NULL::text AS unit, NULL::jsonb AS method, NULL::float8 AS v2, NULL::text AS n2, c.received_at AS lu_ts`;
      break;
    }
  }
  if (f.none) return null;
  if (f.patientIds) {
    if (!f.patientIds.length) return null;
    where.push(`${cols.patient} = ANY(${sql.p(f.patientIds)}::text[])`);
  }
  for (const alternatives of f.ids ?? []) {
    const mine = alternatives.filter((i) => i.branch === branch).map((i) => i.n);
    if (!mine.length) return null;
    where.push(`${cols.id} = ANY(${sql.p(mine)}::bigint[])`);
  }
  for (const devices of f.deviceIds ?? []) where.push(`${cols.device} = ANY(${sql.p(devices)}::text[])`);
  for (const alternatives of f.dates ?? []) where.push('(' + alternatives.map((d) => dateSql(d, cols.ts, cols.te, sql)).join(' OR ') + ')');
  for (const alternatives of f.lastUpdated ?? []) where.push('(' + alternatives.map((d) => dateSql(d, cols.lu, cols.lu, sql)).join(' OR ') + ')');
  const sortCol = opts.sort.key === 'date' ? cols.ts : cols.lu;
  const all = where.join(' AND ') || 'true';
  if (opts.probeBp) return branch === 'r' ? `SELECT EXISTS (SELECT 1 FROM ${from} WHERE ${all} AND ${BP_CODED}) AS bp` : null;
  // Readings: every match minus the paired BP readings among them. Only BP-coded rows (an index range) are
  // checked for a partner, instead of every row of the range (a per-row subplan filter, ~0.3 µs a row on PGlite).
  // BpMode 'probe': the same scan counts the BP-coded rows too (no second pass over the partitions to plan).
  if (opts.count && opts.probeInCount && branch === 'r') return `SELECT count(*) AS n, count(*) FILTER (WHERE ${BP_CODED}) AS bp_n FROM ${from} WHERE ${all}`;
  if (opts.count)
    return branch === 'r' && !opts.noBp
      ? `(SELECT count(*) FROM ${from} WHERE ${all}) - (SELECT count(*) FROM ${from} WHERE ${all} AND ${BP_CODED} AND ${PAIRED})`
      : `SELECT count(*) AS n FROM ${from} WHERE ${all}`;
  if (opts.cursor) {
    // Keyset: rows strictly after (s, k, n) in the sort order; the branch letter is a constant here.
    const c = opts.cursor;
    const after = opts.sort.desc ? '<' : '>';
    const at = sql.p(c.s);
    if (branch === c.k)
      where.push(`(${sortCol} ${after} ${at}::timestamptz OR (${sortCol} = ${at}::timestamptz AND ${cols.id} ${after} ${sql.p(c.n)}::bigint))`);
    else where.push(`${sortCol} ${branch > c.k !== opts.sort.desc ? after + '=' : after} ${at}::timestamptz`);
  }
  const dir = opts.sort.desc ? 'DESC' : 'ASC';
  const cond = where.join(' AND ') || 'true';
  const order = `ORDER BY ${sortCol} ${dir}, ${cols.id} ${dir}`;
  if (branch !== 'r' || opts.noBp) return `SELECT ${select}, ${sortCol} AS sv FROM ${from} WHERE ${cond} ${order} LIMIT ${sql.p(opts.limit)}`;
  // At most as many rows as there are BP-coded ones in the range are paired, so the first `limit` unpaired rows
  // are among the first `limit + that many` rows: the partner check runs on those only, not on the whole range.
  const limit = sql.p(opts.limit);
  return `SELECT * FROM (SELECT ${select}, ${sortCol} AS sv FROM ${from} WHERE ${cond} ${order}
      LIMIT ${limit} + (SELECT count(*) FROM ${from} WHERE ${cond} AND ${BP_CODED})) r
    WHERE NOT (${BP_CODED} AND ${PAIRED_ON_PAGE}) ORDER BY r.sv ${dir}, r.n::bigint ${dir} LIMIT ${limit}`;
}

const BP_CODED = `r.code IN ('${BP.sys}', '${BP.dia}') AND r.method IS NULL`;
/**
 * A systolic and a diastolic reading form one panel when they are of the same instant and device AND were
 * stored together (one message, one CSV row, one posted panel: one transaction, so the same received_at, which
 * is its start time). Pairing a later partner would change what was served: the lone reading's id, already
 * handed to clients, would vanish into a panel (found by review). Readings stored apart stay two Observations.
 */
const pairedOn = (receivedAt: string) => `EXISTS (SELECT 1 FROM readings o WHERE o.patient_id = r.patient_id
  AND o.code = CASE r.code WHEN '${BP.sys}' THEN '${BP.dia}' ELSE '${BP.sys}' END
  AND o.ts = r.ts AND o.device_id IS NOT DISTINCT FROM r.device_id AND o.method IS NULL AND o.received_at = ${receivedAt})`;
/** On a readings row `r`. */
const PAIRED = pairedOn('r.received_at');
/** On a row of the readings branch's page (its received_at is selected as lu_ts). */
const PAIRED_ON_PAGE = pairedOn('r.lu_ts');

interface BranchOptions {
  sort: Sort;
  cursor?: Cursor;
  limit?: number;
  count?: boolean;
  /** No systolic or diastolic reading matches: no panels (branch b) and no pairing to leave out of branch r. */
  noBp?: boolean;
  /** Branch r only: whether any systolic or diastolic reading matches (the probe column of BpMode 'probe'). */
  probeBp?: boolean;
  /** With count and noBp, branch r: `n` and `bp_n` (how many of them are BP-coded), for BpMode 'probe'. */
  probeInCount?: boolean;
}

/**
 * How a statement treats blood pressure. `none`: the codes asked for include no BP, so the statement has no
 * panel join and no pairing check (about a plain SELECT on readings). `panels`: the full statement. `probe`:
 * the statement without BP, plus a column saying whether any systolic or diastolic reading matches (an index
 * range on the BP codes); when one does, its rows are not used and the full statement runs instead. Planning
 * the panel join and the pairing check over every readings partition cost more than the rest of a search
 * (bench:fhir), and asking first cost a round trip of its own; most searches match no BP and take one statement.
 */
type BpMode = 'none' | 'panels' | 'probe';

function bpMode(f: ObservationFilter, seenBp: (f: ObservationFilter) => boolean): BpMode {
  if (f.kinds && !f.kinds.some((k) => k.source.table === 'bp' || (k.source.table === 'readings' && [BP.sys, BP.dia].includes(k.source.code)))) return 'none';
  // Panels named by id (`_id=1,bp-5`): the probe sees only the readings' ids of the list, so it cannot rule them out.
  if (f.ids?.some((alternatives) => alternatives.some((i) => i.branch === 'b'))) return 'panels';
  // No readings branch (only panels or ECG asked for): nothing to probe.
  if (!branchSql('r', f, new SqlParams(), { sort: { key: 'date', desc: false }, probeBp: true })) return 'panels';
  return seenBp(f) ? 'panels' : 'probe';
}

/** `(SELECT EXISTS (…BP-coded readings matching f…))`, with its parameters added to `sql`. */
function bpProbeSql(f: ObservationFilter, sql: SqlParams): string {
  return `(${branchSql('r', f, sql, { sort: { key: 'date', desc: false }, probeBp: true })})`;
}

/** The branches that can match, sharing one parameter list (a branch that drops out takes its parameters back). */
function branches(f: ObservationFilter, sql: SqlParams, opts: BranchOptions): string[] {
  return taggedBranches(f, sql, opts).map((p) => p.sql);
}

function taggedBranches(f: ObservationFilter, sql: SqlParams, opts: BranchOptions): Array<{ branch: Branch; sql: string }> {
  const parts: Array<{ branch: Branch; sql: string }> = [];
  for (const branch of ['b', 'e', 'r'] as const) {
    const mark = sql.values.length;
    const part = branchSql(branch, f, sql, opts);
    if (part) parts.push({ branch, sql: part });
    else sql.values.length = mark;
  }
  return parts;
}

/**
 * `SELECT <total> AS total[, <bp> AS bp]`: the sum of the branches' counts; in BpMode 'probe' also whether a
 * BP-coded reading matches, counted in the readings branch's own scan. Null when no branch can match.
 */
function totalSql(f: ObservationFilter, sql: SqlParams, mode: BpMode): string | null {
  const probe = mode === 'probe';
  const parts = taggedBranches(f, sql, { sort: { key: 'date', desc: false }, count: true, noBp: mode !== 'panels', probeInCount: probe });
  if (!parts.length) return null;
  const readings = probe ? parts.find((p) => p.branch === 'r') : undefined;
  const sum = parts.map((p) => (p === readings ? 'rc.n' : `(${p.sql})`)).join(' + ');
  if (!probe) return `SELECT ${sum} AS total`;
  return readings ? `SELECT ${sum} AS total, rc.bp_n > 0 AS bp FROM (${readings.sql}) rc` : `SELECT ${sum} AS total, false AS bp`;
}

/** The page query (null when no branch can match): each branch keyset-paged and limited, then merged. */
function pageSql(f: ObservationFilter, sql: SqlParams, sort: Sort, limit: number, cursor: Cursor | undefined, noBp: boolean): string | null {
  const parts = branches(f, sql, { sort, cursor, limit, noBp });
  if (!parts.length) return null;
  const dir = sort.desc ? 'DESC' : 'ASC';
  // Text forms (microseconds, for cursors and meta.lastUpdated) only for the rows returned; the sort values
  // themselves are not sent back (each timestamp is a Date to build on the way out); sk sorts as they do.
  return `SELECT ${OUT}, ${text('u.sv')} AS sk, ${text('u.lu_ts')} AS lu FROM (${parts.map((p) => `(${p})`).join(' UNION ALL ')}) u
     ORDER BY u.sv ${dir}, u.k ${dir}, u.n::bigint ${dir} LIMIT ${sql.p(limit)}`;
}

/**
 * The columns a page returns (te is NULL when the Observation is an instant: readings and BP panels). ts and te
 * as epoch milliseconds (floor, as a Date from the timestamptz text truncates its microseconds): parsing a
 * timestamptz into a Date was most of the driver's work per row (bench:fhir).
 */
const epochMs = (col: string) => `floor(extract(epoch FROM ${col}) * 1000)::text`;
const OUT = [
  ...['k', 'n', 'patient_id', 'device_id'].map((c) => `u.${c}`),
  `${epochMs('u.ts')} AS ts`,
  `${epochMs('u.te')} AS te`,
  ...['system', 'code', 'value', 'unit', 'method', 'v2', 'n2'].map((c) => `u.${c}`),
].join(', ');

const toRow = (r: RawRow): ObservationRow => ({
  k: r.k,
  n: String(r.n),
  patientId: r.patient_id,
  deviceId: r.device_id,
  ts: Number(r.ts),
  end: Number(r.te ?? r.ts),
  lastUpdated: r.lu,
  system: r.system,
  code: r.code,
  value: r.value === null ? null : Number(r.value),
  unit: r.unit,
  method: r.method,
  value2: r.v2 === null ? null : Number(r.v2),
  n2: r.n2 === null ? null : String(r.n2),
  sortKey: r.sk,
});

export function createObservationStore(db: Db) {
  // Patient sets a probe found BP readings for: their searches take the full statement at once. Only a hint
  // (the full statement is right whatever matches), so it is never invalidated, only bounded.
  const withBp = new Set<string>();
  const keyOf = (f: ObservationFilter) => (f.patientIds ? [...f.patientIds].sort().join(',') : '*');
  const seenBp = (f: ObservationFilter) => withBp.has(keyOf(f));
  const sawBp = (f: ObservationFilter) => {
    if (withBp.size >= 10_000) withBp.clear();
    withBp.add(keyOf(f));
  };
  /** Runs `once` without BP and a probe when that can be enough, else (or when BP matched) with BP. */
  async function decidingBp<T extends { bp?: boolean | null }>(f: ObservationFilter, once: (mode: BpMode) => Promise<T>): Promise<T> {
    const mode = bpMode(f, seenBp);
    if (mode !== 'probe') return once(mode);
    const first = await once('probe');
    if (!first.bp) return first;
    sawBp(f);
    return once('panels');
  }

  return {
    async count(f: ObservationFilter): Promise<number> {
      const { n } = await decidingBp(f, async (mode) => {
        const sql = new SqlParams();
        const total = totalSql(f, sql, mode);
        if (!total) return { n: 0, bp: false };
        const [r] = await db.queryPrepared<{ total: string; bp?: boolean }>(total, sql.values);
        return { n: Number(r.total), bp: r.bp };
      });
      return n;
    },

    /** Up to `limit` rows after the cursor, in sort order. */
    async page(f: ObservationFilter, sort: Sort, limit: number, cursor?: Cursor): Promise<ObservationRow[]> {
      if (limit <= 0) return [];
      const { rows } = await decidingBp(f, async (mode) => {
        const sql = new SqlParams();
        const q = pageSql(f, sql, sort, limit, cursor, mode !== 'panels');
        if (!q) return { rows: [], bp: false };
        if (mode !== 'probe') return { rows: (await db.queryPrepared<RawRow>(q, sql.values)).map(toRow) };
        // The page only when no BP reading matches (else the full statement runs next).
        const dir = sort.desc ? 'DESC' : 'ASC';
        const raw = await db.queryPrepared<RawRow & { bp: boolean }>(
          `SELECT c.bp, p.* FROM (SELECT ${bpProbeSql(f, sql)} AS bp) c LEFT JOIN LATERAL (${q}) p ON NOT c.bp
           ORDER BY p.sk ${dir}, p.k ${dir}, p.n::bigint ${dir}`,
          sql.values,
        );
        return { rows: raw.filter((r) => r.k !== null).map(toRow), bp: raw[0]?.bp };
      });
      return rows;
    },

    /**
     * The page and the exact total in one statement: one round trip to the database instead of two (what an
     * API client waits for, bench:fhir). The total comes on every row, or on one row of NULLs when the page
     * is empty.
     */
    async pageAndCount(f: ObservationFilter, sort: Sort, limit: number, cursor?: Cursor): Promise<{ rows: ObservationRow[]; total: number }> {
      const { rows, total } = await decidingBp(f, async (mode) => {
        const sql = new SqlParams();
        const total = totalSql(f, sql, mode);
        if (!total) return { rows: [], total: 0, bp: false };
        const q = limit > 0 ? pageSql(f, sql, sort, limit, cursor, mode !== 'panels') : null;
        if (!q) {
          const [r] = await db.queryPrepared<{ total: string; bp?: boolean }>(total, sql.values);
          return { rows: [], total: Number(r.total), bp: r.bp };
        }
        const dir = sort.desc ? 'DESC' : 'ASC';
        // With a probe, the page only when no BP reading matches (else the full statement runs next).
        const raw = await db.queryPrepared<RawRow & { total: string; bp?: boolean }>(
          `SELECT c.*, p.* FROM (${total}) c LEFT JOIN LATERAL (${q}) p ON ${mode === 'probe' ? 'NOT c.bp' : 'true'} ORDER BY p.sk ${dir}, p.k ${dir}, p.n::bigint ${dir}`,
          sql.values,
        );
        return { rows: raw.filter((r) => r.k !== null).map(toRow), total: Number(raw[0]?.total ?? 0), bp: raw[0]?.bp };
      });
      return { rows, total };
    },

    /** Every patient with a stored reading or ECG chunk (for an admin's `$lastn` without a patient). */
    async patientsWithObservations(): Promise<string[]> {
      const rows = await db.query<{ id: string }>(
        'SELECT id FROM patients WHERE EXISTS (SELECT 1 FROM readings r WHERE r.patient_id = patients.id) OR EXISTS (SELECT 1 FROM ecg_chunks c WHERE c.patient_id = patients.id) ORDER BY id',
      );
      return rows.map((r) => r.id);
    },

    /** ECG chunks (with samples) by id, for the rows of a page. */
    async ecgChunks(ids: string[]) {
      if (!ids.length) return new Map<string, { fs: number; lead: string; unit: string; samples: number[] }>();
      const rows = await db.query<{ id: string; fs: number; lead: string; unit: string; samples: number[] }>(
        'SELECT id::text AS id, fs, lead, unit, samples FROM ecg_chunks WHERE id = ANY($1::bigint[])',
        [ids],
      );
      return new Map(rows.map((r) => [String(r.id), { fs: Number(r.fs), lead: r.lead, unit: r.unit, samples: r.samples }]));
    },

    /** The ECG chunk each ECG-derived row came from (same device, same start), for `derivedFrom`. */
    async sourceChunks(rows: Array<{ deviceId: string; ts: number }>): Promise<Map<string, string>> {
      if (!rows.length) return new Map();
      const found = await db.query<{ id: string; device_id: string; t: string }>(
        `SELECT c.id::text AS id, c.device_id, (extract(epoch FROM c.ts) * 1000)::bigint::text AS t FROM ecg_chunks c
         JOIN unnest($1::text[], $2::timestamptz[]) AS w(d, t) ON c.device_id = w.d AND c.ts = w.t`,
        [rows.map((r) => r.deviceId), rows.map((r) => new Date(r.ts).toISOString())],
      );
      return new Map(found.map((r) => [`${r.device_id}|${r.t}`, String(r.id)]));
    },

    /**
     * The readings each NEWS2 score was computed from, as FHIR Observation ids (a systolic stored with its
     * diastolic is their `bp-` panel): per score, the newest stored reading of each of the five measured
     * parameters that the scorer could use (analysis/news2/live.ts: no older than DEFAULT_MAX_AGE_MS, at most
     * FUTURE_SKEW_MS ahead) and that was stored before the score was. That is what `latest_readings` held when
     * the score was computed, bar a reading stored in the same instant.
     */
    async news2Inputs(rows: Array<{ n: string; patientId: string; ts: number; lastUpdated: string }>): Promise<Map<string, string[]>> {
      if (!rows.length) return new Map();
      const found = await db.query<{ n: string; id: string }>(
        `SELECT w.n, CASE WHEN r.code = '${BP.sys}' AND ${PAIRED} THEN 'bp-' || r.id ELSE r.id::text END AS id
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS w(n, p, t, stored)
         CROSS JOIN unnest($5::text[]) AS c(code)
         CROSS JOIN LATERAL (SELECT id, patient_id, code, ts, device_id, received_at FROM readings r
           WHERE r.patient_id = w.p AND r.code = c.code AND r.method IS NULL AND r.received_at <= w.stored
             AND r.ts >= w.t - make_interval(secs => $6::float8 / 1000) AND r.ts <= w.t + make_interval(secs => $7::float8 / 1000)
           ORDER BY r.ts DESC LIMIT 1) r
         ORDER BY w.n, c.code`,
        [
          rows.map((r) => r.n),
          rows.map((r) => r.patientId),
          rows.map((r) => new Date(r.ts).toISOString()),
          rows.map((r) => r.lastUpdated),
          Object.values(NEWS2_LOINC),
          DEFAULT_MAX_AGE_MS,
          FUTURE_SKEW_MS,
        ],
      );
      const out = new Map<string, string[]>();
      for (const r of found) out.set(r.n, [...(out.get(r.n) ?? []), r.id]);
      return out;
    },

    /**
     * The ECG chunk in which each AF episode begins (same patient and device, the chunk whose samples span the
     * episode's start): its onset strip, what a clinician opens first to confirm it.
     */
    async onsetChunks(rows: Array<{ n: string; patientId: string; deviceId: string; ts: number }>): Promise<Map<string, string>> {
      if (!rows.length) return new Map();
      const found = await db.query<{ n: string; id: string }>(
        `SELECT w.n, c.id::text AS id
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS w(n, p, d, t)
         CROSS JOIN LATERAL (SELECT id, ts, fs, samples FROM ecg_chunks c
           WHERE c.patient_id = w.p AND c.device_id = w.d AND c.ts <= w.t ORDER BY c.ts DESC LIMIT 1) c
         WHERE c.ts + make_interval(secs => cardinality(c.samples) / c.fs) > w.t`,
        [rows.map((r) => r.n), rows.map((r) => r.patientId), rows.map((r) => r.deviceId), rows.map((r) => new Date(r.ts).toISOString())],
      );
      return new Map(found.map((r) => [r.n, r.id]));
    },
  };
}

export type ObservationStore = ReturnType<typeof createObservationStore>;
