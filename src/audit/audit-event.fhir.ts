import type { Db } from '../platform/db.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { ResourceProvider } from '../api/fhir/registry.ts';
import type { Resource } from '../api/fhir/mapping.ts';
import { fromFhirId, toFhirId } from '../api/fhir/ids.ts';
import { paramsNamed, parseToken } from '../api/fhir/search/params.ts';
import { referenceIds } from '../api/fhir/search/reference.ts';
import { badRequest } from '../platform/errors.ts';
import { parseDateValue, dateSql } from '../api/fhir/search/date.ts';
import { tableSearch } from '../api/fhir/resources/table-search.ts';
import type { SqlParams } from '../api/fhir/search/sql.ts';
import { notFound } from '../platform/errors.ts';
import type { StoredAuditEntry } from './audit.service.ts';

type AuditRow = Omit<StoredAuditEntry, 'ts'> & {
  ts: Date | string;
  action_code: string;
  email: string | null;
  display_name: string | null;
  actor_role: string | null;
  actor_patient: string | null;
};

/**
 * A patient reading their own audit events sees another patient who tried their record as "another patient":
 * that person's name, address and network address are not this patient's to see (found by review).
 */
function forPatientView(r: AuditRow, viewer: string[] | null): AuditRow {
  // Another patient: a patient account with a record of its own (a caregiver's account has none and is named).
  if (viewer === null || r.actor_role !== 'patient' || r.actor_patient === null || viewer.includes(r.actor_patient)) return r;
  return { ...r, actor: 'Another patient (identity withheld)', email: null, display_name: null, details: null };
}

/**
 * DICOM audit event action codes (FHIR R4 AuditEvent.action: Create, Read, Update, Delete, Execute) from the
 * Vigil action name, in SQL so that `action=` filters in the query (exact totals, full pages) and the resource
 * shows the same code. The read audit's own entries are named `read`.
 */
const ACTION_CODE = `CASE WHEN a.action ~ '\\.(read|search|export)$' OR a.action ~ '^read(\\.|$)' THEN 'R'
  WHEN a.action ~ '\\.(create|grant|invite)$' THEN 'C'
  WHEN a.action ~ '\\.(delete|erase|revoke)$' THEN 'D'
  WHEN a.action ~ '^(auth|access)\\.' THEN 'E' ELSE 'U' END`;

/** The audit table as rows whose id sorts as text in numeric order (tableSearch pages by id). */
const FROM = `(SELECT lpad(a.id::text, 20, '0') AS id, a.ts, a.actor, a.action, ${ACTION_CODE} AS action_code, a.entity_type, a.entity_id, a.patient_id,
  a.outcome, a.details, u.email, u.display_name, u.role AS actor_role, u.patient_id AS actor_patient
  FROM audit_log a LEFT JOIN users u ON a.actor = 'user:' || u.id) ae`;
const COLUMNS = 'id, ts, actor, action, action_code, entity_type, entity_id, patient_id, outcome, details, email, display_name, actor_role, actor_patient';

/**
 * The entity naming the patient: a reference when the stored id has a FHIR form, else its identifier (an entry
 * written before patient ids were normalised may hold any text; it is shown, never a reason to fail the search).
 */
function patientEntity(patientId: string) {
  let what: Record<string, unknown>;
  try {
    what = { reference: `Patient/${toFhirId(patientId)}` };
  } catch {
    what = { identifier: { system: 'urn:vigil:patient', value: patientId } };
  }
  return { what, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } };
}

const badParam = (name: string, value: string, expected: string): never => {
  throw badRequest(`${name}: "${value.slice(0, 60)}" is not ${expected}`);
};
/**
 * R4 AuditEvent.outcome: 0 success; 4, 8 and 12 failures of growing severity (Vigil records failure as 4). Any
 * other value is refused: it matched every failure before (found by review: a silently wrong answer).
 */
const outcomeOf = (v: string): string => {
  const code = parseToken(v).code ?? v;
  if (code === '0') return 'success';
  if (code === '4' || code === '8' || code === '12') return 'failure';
  return badParam('outcome', v, '0, 4, 8 or 12 (http://hl7.org/fhir/audit-event-outcome)');
};

/** One audit entry as FHIR R4 AuditEvent (https://hl7.org/fhir/R4/auditevent.html). */
export function auditEventResource(r: AuditRow): Resource {
  const id = String(Number(r.id));
  const user = r.actor.startsWith('user:') ? r.actor.slice(5) : null;
  return {
    resourceType: 'AuditEvent',
    id,
    // An audit entry never changes (the table refuses UPDATE): one version, as recorded.
    meta: { versionId: '1', lastUpdated: new Date(r.ts).toISOString() },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'urn:vigil:audit-action', code: r.action }],
    action: r.action_code,
    recorded: new Date(r.ts).toISOString(),
    outcome: r.outcome === 'success' ? '0' : '4',
    agent: [
      {
        requestor: true,
        who: user ? { identifier: { system: 'urn:vigil:user', value: user }, display: r.display_name ?? r.email ?? user } : { display: r.actor },
        ...(user && r.email ? { altId: r.email } : {}),
      },
    ],
    source: {
      observer: { display: 'Vigil' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity: [
      ...(r.patient_id ? [patientEntity(r.patient_id)] : []),
      ...(r.entity_type && r.entity_id
        ? [
            {
              what: { identifier: { system: `urn:vigil:${r.entity_type}`, value: r.entity_id } },
              name: r.entity_type,
              ...(r.details ? { detail: [{ type: 'details', valueString: JSON.stringify(r.details) }] } : {}),
            },
          ]
        : []),
    ],
  };
}

/**
 * AuditEvent read and search (ONC §170.315(d)(3) audit reports, d(2) as FHIR): admins see every entry; a patient
 * sees the entries about their own record ("who saw my record"); everyone else is refused. Search: `patient`,
 * `date` (with prefixes), `agent` (a user id), `entity` (Patient/… or the entity id), `subtype` (the action,
 * prefix match), `action` (C/R/U/D/E), `outcome` (0 or 4), `_id`.
 */
export function auditEventProvider(deps: { db: Db; access: AccessPolicy }): ResourceProvider {
  return {
    type: 'AuditEvent',
    interactions: ['read', 'search-type'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id (the audit entry number)' },
        { name: 'patient', type: 'reference', documentation: 'The patient the event is about' },
        { name: 'date', type: 'date', documentation: 'When the event was recorded (prefixes eq, ge, le, gt, lt…)' },
        { name: 'agent', type: 'reference', documentation: 'Who did it: a user id (usr_…) or urn:vigil:user|usr_…' },
        { name: 'entity', type: 'reference', documentation: 'What it was about: Patient/{id} or the entity id' },
        { name: 'subtype', type: 'token', documentation: 'The Vigil action, e.g. patient.read (prefix match)' },
        { name: 'action', type: 'token', documentation: 'C, R, U, D or E' },
        { name: 'outcome', type: 'token', documentation: '0 success, 4 failure' },
      ],
    },
    async read(ctx, id) {
      const scope = deps.access.auditScope(ctx.principal);
      if (!/^\d{1,18}$/.test(id)) throw notFound(`AuditEvent/${id}`);
      const [row] = await deps.db.query<AuditRow>(`SELECT ${COLUMNS} FROM ${FROM} WHERE id = lpad($1, 20, '0')`, [id]);
      if (!row || (scope !== null && (!row.patient_id || !scope.includes(row.patient_id)))) throw notFound(`AuditEvent/${id}`);
      return auditEventResource(forPatientView(row, scope));
    },
    async searchType(ctx, req) {
      const scope = deps.access.auditScope(ctx.principal);
      const where = (sql: SqlParams): string[] | null => {
        const w: string[] = [];
        if (scope !== null) w.push(`patient_id = ANY(${sql.p(scope)}::text[])`);
        for (const p of paramsNamed(req, '_id'))
          w.push(`id = ANY(${sql.p(p.values.filter((v) => /^\d{1,18}$/.test(v)).map((v) => v.padStart(20, '0')))}::text[])`);
        for (const p of paramsNamed(req, 'patient')) w.push(`patient_id = ANY(${sql.p(referenceIds(p, 'Patient'))}::text[])`);
        for (const p of paramsNamed(req, 'date')) w.push(`(${p.values.map((v) => dateSql(parseDateValue(v, 'date'), 'ts', 'ts', sql)).join(' OR ')})`);
        for (const p of paramsNamed(req, 'agent'))
          w.push(
            `actor = ANY(${sql.p(p.values.map((v) => 'user:' + (parseToken(v).code ?? v).replace(/^(Practitioner|Patient|RelatedPerson)\//, '').replace(/^user:/, '')))}::text[])`,
          );
        for (const p of paramsNamed(req, 'entity')) {
          // The FHIR form of an id, or the entity id as stored (what.identifier.value: `readings_2026_01` has no FHIR form).
          const ids = p.values.flatMap((v) => [v.replace(/^[A-Za-z]+\//, ''), fromFhirId(v.replace(/^[A-Za-z]+\//, ''))]);
          w.push(`(entity_id = ANY(${sql.p(ids)}::text[]) OR patient_id = ANY(${sql.p(ids)}::text[]))`);
        }
        for (const p of paramsNamed(req, 'subtype'))
          w.push(
            `(${p.values.map((v) => `starts_with(action, ${sql.p(parseToken(v).code || badParam('subtype', v, 'an action such as read or auth.login'))})`).join(' OR ')})`,
          );
        for (const p of paramsNamed(req, 'action')) w.push(`action_code = ANY(${sql.p(p.values.map((v) => parseToken(v).code ?? v))}::text[])`);
        for (const p of paramsNamed(req, 'outcome')) w.push(`outcome = ANY(${sql.p(p.values.map(outcomeOf))}::text[])`);
        return w;
      };
      return tableSearch<AuditRow, Resource>(deps.db, req, {
        from: FROM,
        columns: COLUMNS,
        where,
        map: (row) => auditEventResource(forPatientView(row, scope)),
      });
    },
  };
}
