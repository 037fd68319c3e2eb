import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Principal } from '../domain/types.ts';
import type { Db, Queryable } from '../platform/db.ts';
import type { ReadingsRepository, NewReading } from '../store/readings.repository.ts';
import type { CandidateReading } from './readings-csv.ts';

export interface ImportResult {
  stored: number;
  duplicates: number;
  rejections: Array<{ line: number; reason: string }>;
}

/**
 * Stores parsed CSV readings: patients by id or MRN, within what the caller may manage; a device column
 * must name a device of that patient; each (patient, code, instant) is imported once, ever. Imported
 * history does not raise alerts (no `readings.stored` event): it is the past, not the bedside.
 */
export function createCsvImportService(deps: { db: Db; readings: ReadingsRepository; access: AccessPolicy; audit: AuditService }) {
  async function resolvePatients(actor: Principal | 'cli', refs: string[]): Promise<Map<string, string>> {
    const rows = await deps.db.query<{ id: string; mrn: string | null }>('SELECT id, mrn FROM patients WHERE id = ANY($1::text[]) OR mrn = ANY($1::text[])', [refs]);
    const visible = actor === 'cli' ? null : await deps.access.visiblePatientIds(actor);
    const out = new Map<string, string>();
    for (const r of rows) {
      if (visible && !visible.includes(r.id)) continue;
      if (refs.includes(r.id)) out.set(r.id, r.id);
      if (r.mrn && refs.includes(r.mrn) && !out.has(r.mrn)) out.set(r.mrn, r.id);
    }
    return out;
  }

  return {
    async importBatch(actor: Principal | 'cli', rows: CandidateReading[]): Promise<ImportResult> {
      if (actor !== 'cli') deps.access.assertStaff(actor);
      const rejections: ImportResult['rejections'] = [];
      const patients = await resolvePatients(actor, [...new Set(rows.map((r) => r.patient))]);
      const devices = new Map<string, string | null>();
      const deviceIds = [...new Set(rows.flatMap((r) => (r.device ? [r.device] : [])))];
      if (deviceIds.length) {
        for (const d of await deps.db.query<{ id: string; patient_id: string | null }>('SELECT id, patient_id FROM devices WHERE id = ANY($1::text[])', [deviceIds])) devices.set(d.id, d.patient_id);
      }
      const good: NewReading[] = [];
      for (const r of rows) {
        const patientId = patients.get(r.patient);
        if (!patientId) rejections.push({ line: r.line, reason: `patient "${r.patient}" not found (by id or MRN)` });
        else if (r.device && devices.get(r.device) !== patientId) rejections.push({ line: r.line, reason: `device "${r.device}" is not a device of patient ${r.patient}` });
        else good.push({ patientId, deviceId: r.device ?? null, code: r.code, value: r.value, unit: r.unit, ts: r.ts, seq: null });
      }
      // The readings and one audit entry per patient commit together ((d)(2)).
      const stored = await deps.audit.change(async (tx: Queryable, log) => {
        if (!good.length) return [];
        const claimed = await tx.query<{ patient_id: string; code: string; t: string }>(
          `INSERT INTO csv_import_keys (patient_id, code, ts)
           SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ON CONFLICT DO NOTHING
           RETURNING patient_id, code, (extract(epoch FROM ts) * 1000)::bigint::text AS t`,
          [good.map((g) => g.patientId), good.map((g) => g.code), good.map((g) => new Date(g.ts).toISOString())],
        );
        const fresh = new Set(claimed.map((c) => `${c.patient_id}|${c.code}|${c.t}`));
        const toStore = good.filter((g) => fresh.delete(`${g.patientId}|${g.code}|${g.ts}`));
        const inserted = await deps.readings.insertBatch(tx, toStore);
        const perPatient = new Map<string, number>();
        for (const s of inserted) perPatient.set(s.patientId, (perPatient.get(s.patientId) ?? 0) + 1);
        for (const [patientId, n] of perPatient) log({ actor, action: 'readings.import', entityType: 'Patient', entityId: patientId, patientId, details: { stored: n, via: 'csv' } });
        return inserted;
      });
      // One rejection per line (a wide row gives several readings, all refused for the same reason).
      const byLine = new Map<number, Set<string>>();
      for (const r of rejections) byLine.set(r.line, (byLine.get(r.line) ?? new Set()).add(r.reason));
      return { stored: stored.length, duplicates: good.length - stored.length, rejections: [...byLine].map(([line, reasons]) => ({ line, reason: [...reasons].join('; ') })) };
    },
  };
}

export type CsvImportService = ReturnType<typeof createCsvImportService>;
