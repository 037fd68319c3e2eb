import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Principal } from '../domain/types.ts';
import type { Db, Queryable } from '../platform/db.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import { canonicalReading, readingTimeProblem } from '../domain/codes.ts';
import type { ReadingsRepository, NewReading } from '../store/readings.repository.ts';
import { ensureReadingMonths, monthStart } from '../store/readings-partitions.ts';
import type { CandidateReading } from './readings-csv.ts';

export interface ImportResult {
  stored: number;
  duplicates: number;
  rejections: Array<{ line: number; reason: string }>;
}

/** Imports take turns (one transaction at a time, across instances): the duplicate check below relies on it. */
const CSV_IMPORT_LOCK = 0x76696769_6373; // "vigi" "cs"
/** Above this many stored readings in a batch's time range, duplicates are looked up by exact instant instead. */
const RANGE_MAX = 20_000;

/**
 * The readings of `rows` not stored yet (same patient, code and instant: the same reading, whoever stored
 * it), in order; of a batch's own repeats the first wins. Per (patient, code) of the batch: the stored
 * instants within the batch's time range (one index range scan; a first import finds none), or, when the
 * range holds many readings (devices already sent that period), the batch's own instants looked up exactly.
 * Instants are compared as numbers in one set per (patient, code): no string key per row.
 */
async function notYetStored(tx: Queryable, rows: NewReading[]): Promise<NewReading[]> {
  const groups = new Map<string, Map<string, { min: number; max: number; ts: number[]; seen: Set<number> }>>();
  const groupOf = (r: NewReading) => {
    let byCode = groups.get(r.patientId);
    if (!byCode) groups.set(r.patientId, (byCode = new Map()));
    let g = byCode.get(r.code);
    if (!g) byCode.set(r.code, (g = { min: r.ts, max: r.ts, ts: [], seen: new Set() }));
    return g;
  };
  for (const r of rows) {
    const g = groupOf(r);
    if (r.ts < g.min) g.min = r.ts;
    if (r.ts > g.max) g.max = r.ts;
    g.ts.push(r.ts);
  }
  const EPOCH = `(extract(epoch FROM ts) * 1000)::bigint::text AS t`;
  for (const [patientId, byCode] of groups)
    for (const [code, g] of byCode) {
      let found = await tx.query<{ t: string }>(
        `SELECT ${EPOCH} FROM readings WHERE patient_id = $1 AND code = $2 AND ts >= $3 AND ts <= $4 LIMIT ${RANGE_MAX + 1}`,
        [patientId, code, new Date(g.min).toISOString(), new Date(g.max).toISOString()],
      );
      if (found.length > RANGE_MAX) {
        found = await tx.query<{ t: string }>(`SELECT ${EPOCH} FROM readings WHERE patient_id = $1 AND code = $2 AND ts = ANY($3::timestamptz[])`, [
          patientId,
          code,
          g.ts.map((t) => new Date(t).toISOString()),
        ]);
      }
      for (const f of found) g.seen.add(Number(f.t));
    }
  return rows.filter((r) => {
    const seen = groups.get(r.patientId)!.get(r.code)!.seen;
    if (seen.has(r.ts)) return false;
    seen.add(r.ts);
    return true;
  });
}

/**
 * Stores parsed CSV readings: each row checked again here, whoever parsed it (the HTTP route takes rows a
 * client parsed: a known code, a unit it accepts, a value in the physical range, a time after 2000 and not in
 * the future, as devices and FHIR are held to); patients by id or MRN, within what the caller may manage; a
 * device column must name a device of that patient; a reading already stored (same patient, code and instant, imported
 * before or sent by a device) is skipped, so re-running a file stores nothing twice. Imported
 * history does not raise alerts (no `readings.stored` event): it is the past, not the bedside.
 */
export function createCsvImportService(deps: { db: Db; readings: ReadingsRepository; access: AccessPolicy; audit: AuditService; clock?: Clock }) {
  const clock = deps.clock ?? systemClock;
  async function resolvePatients(actor: Principal | 'cli', refs: string[]): Promise<Map<string, string>> {
    const rows = await deps.db.query<{ id: string; mrn: string | null }>('SELECT id, mrn FROM patients WHERE id = ANY($1::text[]) OR mrn = ANY($1::text[])', [
      refs,
    ]);
    const visible = actor === 'cli' ? null : await deps.access.visiblePatientIds(actor);
    const out = new Map<string, string>();
    for (const r of rows) {
      if (visible && !visible.includes(r.id)) continue;
      if (refs.includes(r.id)) out.set(r.id, r.id);
      if (r.mrn && refs.includes(r.mrn) && !out.has(r.mrn)) out.set(r.mrn, r.id);
    }
    return out;
  }

  // Months this service has made sure have their partition (each looked up once per process, not per batch).
  const monthsReady = new Set<number>();

  return {
    async importBatch(actor: Principal | 'cli', rows: CandidateReading[]): Promise<ImportResult> {
      if (actor !== 'cli') deps.access.assertStaff(actor);
      const rejections: ImportResult['rejections'] = [];
      const patients = await resolvePatients(actor, [...new Set(rows.map((r) => r.patient))]);
      const devices = new Map<string, string | null>();
      const deviceIds = [...new Set(rows.flatMap((r) => (r.device ? [r.device] : [])))];
      if (deviceIds.length) {
        for (const d of await deps.db.query<{ id: string; patient_id: string | null }>('SELECT id, patient_id FROM devices WHERE id = ANY($1::text[])', [
          deviceIds,
        ]))
          devices.set(d.id, d.patient_id);
      }
      const good: NewReading[] = [];
      const now = clock.now();
      for (const r of rows) {
        const patientId = patients.get(r.patient);
        const reading = canonicalReading(r.code, r.value, r.unit);
        const late = readingTimeProblem(r.ts, now);
        if (typeof reading === 'string') rejections.push({ line: r.line, reason: reading });
        else if (late) rejections.push({ line: r.line, reason: late });
        else if (!patientId) rejections.push({ line: r.line, reason: `patient "${r.patient}" not found (by id or MRN)` });
        else if (r.device && devices.get(r.device) !== patientId)
          rejections.push({ line: r.line, reason: `device "${r.device}" is not a device of patient ${r.patient}` });
        else good.push({ patientId, deviceId: r.device ?? null, code: r.code, value: reading.value, unit: reading.unit, ts: r.ts, seq: null });
      }
      // History goes straight into its months: a month without a partition is made first (in its own
      // transaction), instead of the rows landing in DEFAULT and being moved by the next sweep (written twice).
      const months = new Set<number>();
      for (const r of good) {
        const m = monthStart(r.ts);
        if (!monthsReady.has(m)) months.add(m);
      }
      if (months.size) {
        await ensureReadingMonths(deps.db, months);
        for (const m of months) monthsReady.add(m);
      }
      // The readings and one audit entry per patient commit together ((d)(2)). Imports take turns, so two
      // runs of one file at the same time cannot both find a reading missing and both store it.
      const stored = await deps.audit.change(async (tx: Queryable, log) => {
        if (!good.length) return 0;
        await tx.query('SELECT pg_advisory_xact_lock($1)', [CSV_IMPORT_LOCK]);
        const fresh = await notYetStored(tx, good);
        const inserted = await deps.readings.insertRows(tx, fresh); // COPY on both engines; all or nothing
        const perPatient = new Map<string, number>();
        for (const r of fresh) perPatient.set(r.patientId, (perPatient.get(r.patientId) ?? 0) + 1);
        for (const [patientId, n] of perPatient)
          log({ actor, action: 'readings.import', entityType: 'Patient', entityId: patientId, patientId, details: { stored: n, via: 'csv' } });
        return inserted;
      });
      // One rejection per line (a wide row gives several readings, all refused for the same reason).
      const byLine = new Map<number, Set<string>>();
      for (const r of rejections) byLine.set(r.line, (byLine.get(r.line) ?? new Set()).add(r.reason));
      return { stored, duplicates: good.length - stored, rejections: [...byLine].map(([line, reasons]) => ({ line, reason: [...reasons].join('; ') })) };
    },
  };
}

export type CsvImportService = ReturnType<typeof createCsvImportService>;
