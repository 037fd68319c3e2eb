import type { AccessPolicy } from '../../../auth/access.ts';
import type { AuditService } from '../../../audit/audit.service.ts';
import type { Db } from '../../../platform/db.ts';
import { notFound } from '../../../platform/errors.ts';
import type { Patient, PatientsRepository } from '../../../store/patients.repository.ts';
import { fromFhirId } from '../ids.ts';
import { patientResource, SYSTEM_MRN, SYSTEM_PATIENT_ID } from '../mapping.ts';
import type { ResourceProvider } from '../registry.ts';
import { SUMMARY_ELEMENTS } from '../search/subsetting.ts';
import { dateSql, parseDateValue } from '../search/date.ts';
import { paramsNamed, parseToken } from '../search/params.ts';
import type { SqlParams } from '../search/sql.ts';
import { likeEscape, tableSearch } from './table-search.ts';

const GENDER_SYSTEM = 'http://hl7.org/fhir/administrative-gender';
const BIRTH_START = `(birth_date::timestamp AT TIME ZONE 'UTC')`;
const BIRTH_END = `((birth_date + 1)::timestamp AT TIME ZONE 'UTC' - interval '1 millisecond')`;

interface Row {
  id: string;
  name: string;
  birth_date: string | null;
  sex: string | null;
  mrn: string | null;
  created_at: Date;
}

const toPatient = (r: Row): Patient => ({
  id: r.id, name: r.name, birthDate: r.birth_date, sex: r.sex, mrn: r.mrn, settings: {}, createdAt: new Date(r.created_at).getTime(),
});

/** Patient: read and search (identifier, name, birthdate, gender, _id, _lastUpdated), scoped to the caller's patients. */
export function patientProvider(deps: { db: Db; access: AccessPolicy; audit: AuditService; patients: PatientsRepository }): ResourceProvider {
  return {
    type: 'Patient',
    summaryElements: SUMMARY_ELEMENTS.Patient,
    interactions: ['read', 'vread', 'search-type', 'history-instance'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: '_lastUpdated', type: 'date', documentation: 'When the record was created (all prefixes)' },
        { name: 'identifier', type: 'token', documentation: `${SYSTEM_MRN}|MRN, ${SYSTEM_PATIENT_ID}|internal id, or a bare value matching either` },
        { name: 'name', type: 'string', modifiers: ['exact', 'contains'], documentation: 'Starts a word of the name (case-insensitive); :exact the whole name or a whole part; :contains anywhere' },
        { name: 'birthdate', type: 'date', documentation: 'All prefixes; the birth date is its whole day' },
        { name: 'gender', type: 'token', documentation: 'male | female | other | unknown' },
      ],
    },

    async read(ctx, id) {
      const internal = fromFhirId(id);
      if (!(await deps.access.canSeePatient(ctx.principal, internal))) throw notFound(`Patient/${id}`);
      const p = await deps.patients.byId(internal);
      if (!p) throw notFound(`Patient/${id}`);
      await deps.audit.record({ actor: ctx.principal, action: 'fhir.read', entityType: 'Patient', entityId: internal, patientId: internal });
      return patientResource(p);
    },

    async searchType(ctx, req) {
      const visible = await deps.access.visiblePatientIds(ctx.principal);
      const where = (sql: SqlParams): string[] | null => {
        const w: string[] = [];
        if (visible) w.push(`id = ANY(${sql.p(visible)}::text[])`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, '_lastUpdated')) w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, '_lastUpdated'), 'created_at', 'created_at', sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'birthdate')) w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, 'birthdate'), BIRTH_START, BIRTH_END, sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'gender')) {
          const codes = p.values.map(parseToken).filter((t) => t.system === undefined || t.system === GENDER_SYSTEM).map((t) => t.code);
          w.push(`sex = ANY(${sql.p(codes.filter(Boolean))}::text[])`);
        }
        for (const p of paramsNamed(req, 'identifier')) {
          const ors = p.values.map((v) => {
            const t = parseToken(v);
            if (t.system === SYSTEM_MRN) return t.code === undefined ? 'mrn IS NOT NULL' : `mrn = ${sql.p(t.code)}`;
            if (t.system === SYSTEM_PATIENT_ID) return t.code === undefined ? 'true' : `id = ${sql.p(t.code)}`;
            if (t.system === undefined && t.code !== undefined) return `(mrn = ${sql.p(t.code)} OR id = ${sql.p(t.code)})`;
            return 'false';
          });
          w.push('(' + ors.join(' OR ') + ')');
        }
        for (const p of paramsNamed(req, 'name')) {
          const ors = p.values.map((v) => {
            if (p.modifier === 'exact') return `(name = ${sql.p(v)} OR ${sql.p(v)} = ANY(regexp_split_to_array(name, '\\s+')))`;
            if (p.modifier === 'contains') return `name ILIKE ${sql.p('%' + likeEscape(v) + '%')}`;
            const prefix = likeEscape(v);
            return `(name ILIKE ${sql.p(prefix + '%')} OR name ILIKE ${sql.p('% ' + prefix + '%')})`;
          });
          w.push('(' + ors.join(' OR ') + ')');
        }
        return w;
      };
      const r = await tableSearch<Row, ReturnType<typeof patientResource>>(deps.db, req, {
        from: 'patients',
        columns: `id, name, to_char(birth_date, 'YYYY-MM-DD') AS birth_date, sex, mrn, created_at`,
        where,
        map: (row) => patientResource(toPatient(row)),
      });
      return { resources: r.resources, total: r.total, next: r.next };
    },
  };
}

/** Patients by internal id, for `_include` (the ids come from rows already in the caller's scope). */
export async function patientsByIds(db: Db, ids: string[]) {
  if (!ids.length) return [];
  const rows = await db.query<Row>(`SELECT id, name, to_char(birth_date, 'YYYY-MM-DD') AS birth_date, sex, mrn, created_at FROM patients WHERE id = ANY($1::text[]) ORDER BY id`, [ids]);
  return rows.map((r) => patientResource(toPatient(r)));
}
