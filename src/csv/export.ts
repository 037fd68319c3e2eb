import type { Db } from '../platform/db.ts';
import type { Principal } from '../domain/types.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import { AppError, badRequest } from '../platform/errors.ts';
import { kindOfReading, LOINC } from '../api/fhir/resources/observation-kinds.ts';
import { codeFor } from './readings-csv.ts';
import { CODES } from '../domain/codes.ts';

/**
 * Tidy CSV of a patient's readings (one row per reading): time (ISO 8601 UTC), code, display, value, unit,
 * device — what `pandas.read_csv(url_or_file, parse_dates=["time"])` reads as is. Codes are the ones the
 * FHIR API shows (e.g. the ECG-derived heart rate is MDC 147842, never mixed with LOINC 8867-4).
 */

export const CSV_COLUMNS = ['time', 'code', 'display', 'value', 'unit', 'device'] as const;

export interface ExportQuery {
  patientId: string;
  from?: number;
  to?: number;
  /** Keys or codes as given by the user (`hr`, `8867-4`, `147842`). */
  codes?: string[];
}

/**
 * A text cell. One that a spreadsheet would run as a formula (leading = + - @, tab or carriage return: CSV
 * injection, OWASP) gets a leading apostrophe, so Excel and LibreOffice show it as text; numbers and times are
 * written by the caller, never through here, so a negative value stays a number.
 */
const field = (raw: string) => {
  const v = /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
};

/** `2026-11-24`, `2026-11-24T10:00:00Z`, or epoch ms → epoch ms (a bad value is a 400 naming it). */
export function parseBound(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const t = /^\d{12,14}$/.test(v)
    ? Number(v)
    : /^\d{4}-\d{2}-\d{2}$/.test(v)
      ? Date.parse(v + 'T00:00:00Z')
      : /T.*(Z|[+-]\d{2}:?\d{2})$/.test(v)
        ? Date.parse(v)
        : NaN;
  // Date.parse rolls 2026-02-30 over to March 2: the day written must be the calendar's.
  const [y, m, d] = v.slice(0, 10).split('-').map(Number);
  const day = new Date(Date.UTC(y, m - 1, d));
  const real = /^\d{12,14}$/.test(v) || (day.getUTCMonth() === m - 1 && day.getUTCDate() === d);
  if (!Number.isFinite(t) || !real)
    throw badRequest(`${name} must be a date (2026-11-24), an ISO 8601 time with an offset (2026-11-24T10:00:00Z) or epoch ms (got "${v}")`);
  return t;
}

/**
 * The codes to export, as given (`hr`, `8867-4`, a SNOMED or MDC number): a key the code table knows, or
 * something shaped like a code. A word that is neither (`hrr`, `pulse rate`) is a typo, and answering it with
 * an empty file would tell an analyst the patient had no such readings.
 */
export function parseCodes(v: string | undefined): string[] | undefined {
  if (!v) return undefined;
  const codes = v
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const unknown = codes.filter((c) => !codeFor(c) && !/^\d{1,18}(-\d)?$/.test(c));
  if (unknown.length)
    throw badRequest(
      `unknown code${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')}: give keys (${CODES.map((c) => c.key).join(', ')}) or codes (LOINC 8867-4, SNOMED, MDC), comma-separated`,
    );
  return codes.length ? codes : undefined;
}

/** Streams CSV text in pages (keyset on time and id), header first. */
export async function* readingsCsv(db: Db, q: ExportQuery, pageSize = 5000): AsyncGenerator<string> {
  const wanted = q.codes?.map((c) => codeFor(c)?.code ?? c.trim());
  const stored = wanted ? [...new Set(wanted.map((c) => (c === '147842' ? '8867-4' : c)))] : null;
  yield CSV_COLUMNS.join(',') + '\n';
  let after: { ts: string; id: string } | null = null;
  for (;;) {
    const rows: Array<{
      id: string;
      system: string;
      code: string;
      value: number;
      unit: string;
      device_id: string | null;
      method: unknown;
      t: string;
      ts: string;
    }> = await db.query(
      `SELECT id::text AS id, system, code, value, unit, device_id, method, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t, ts::text AS ts
       FROM readings WHERE patient_id = $1 AND ($2::timestamptz IS NULL OR ts >= $2) AND ($3::timestamptz IS NULL OR ts < $3)
         AND ($4::text[] IS NULL OR code = ANY($4::text[]))
         AND ($5::timestamptz IS NULL OR (ts, id) > ($5::timestamptz, $6::bigint))
       ORDER BY ts, id LIMIT $7`,
      [
        q.patientId,
        q.from === undefined ? null : new Date(q.from).toISOString(),
        q.to === undefined ? null : new Date(q.to).toISOString(),
        stored,
        after?.ts ?? null,
        after?.id ?? null,
        pageSize,
      ],
    );
    let out = '';
    for (const r of rows) {
      const kind = kindOfReading(r.system, r.code, r.method !== null);
      const code = kind?.codings[0].code ?? r.code;
      if (wanted && !wanted.includes(code)) continue;
      const display = kind?.text ?? (r.system === LOINC ? r.code : `${r.system}|${r.code}`);
      out += [r.t, field(code), field(display), String(Number(r.value)), field(r.unit), field(r.device_id ?? '')].join(',') + '\n';
    }
    if (out) yield out;
    if (rows.length < pageSize) return;
    after = { ts: rows[rows.length - 1].ts, id: rows[rows.length - 1].id };
  }
}

/**
 * The CSV export (`GET /api/v1/patients/{id}/readings.csv`, and `vigil export csv` offline as `'cli'`, the
 * operator on the database): who may see the patient, the bounds checked, the disclosure audited, then the
 * CSV stream.
 */
export function createCsvExportService(deps: { db: Db; access: AccessPolicy; audit: AuditService }) {
  return {
    async readingsFor(p: Principal | 'cli', patientId: string, q: { from?: string; to?: string; codes?: string }): Promise<AsyncGenerator<string>> {
      if (p !== 'cli') await deps.access.assertPatient(p, patientId);
      else if (!(await deps.db.query('SELECT 1 FROM patients WHERE id = $1', [patientId])).length)
        throw new AppError('NOT_FOUND', `patient ${patientId} not found`);
      const from = parseBound('from', q.from);
      const to = parseBound('to', q.to);
      const codes = parseCodes(q.codes);
      if (from !== undefined && to !== undefined && from > to) throw new AppError('BAD_REQUEST', 'from is after to');
      await deps.audit.record({
        actor: p,
        action: 'readings.export',
        entityType: 'Patient',
        entityId: patientId,
        patientId,
        details: { format: 'csv', from: q.from, to: q.to, codes: q.codes },
      });
      return readingsCsv(deps.db, { patientId, from, to, codes });
    },
  };
}

export type CsvExportService = ReturnType<typeof createCsvExportService>;
