import type { AccessPolicy } from '../../../auth/access.ts';
import type { AuditService } from '../../../audit/audit.service.ts';
import type { Principal } from '../../../domain/types.ts';
import type { Db, Queryable } from '../../../platform/db.ts';
import { newId } from '../../../platform/ids.ts';
import { AppError, badRequest, notFound } from '../../../platform/errors.ts';
import type { PatientService } from '../../../patients/patient.service.ts';
import { birthDateProblem } from '../../../patients/birth-date.ts';
import type { VersionStore } from '../versions.ts';
import { systemClock, type Clock } from '../../../platform/clock.ts';
import type { Patient, PatientsRepository } from '../../../store/patients.repository.ts';
import { fromFhirId, toFhirId } from '../ids.ts';
import { patientResource, SYSTEM_MRN, SYSTEM_PATIENT_ID } from '../mapping.ts';
import type { ResourceProvider } from '../registry.ts';
import { dateSql, parseDateValue } from '../search/date.ts';
import { paramsNamed, parseToken } from '../search/params.ts';
import type { SqlParams } from '../search/sql.ts';
import { nameSearchSql, tableSearch } from './table-search.ts';

const LAST_UPDATED = 'COALESCE(updated_at, created_at)';
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
  version: number;
  updated_at: Date | null;
}

const toPatient = (r: Row): Patient => ({
  id: r.id,
  name: r.name,
  birthDate: r.birth_date,
  sex: r.sex,
  mrn: r.mrn,
  settings: {},
  createdAt: new Date(r.created_at).getTime(),
  version: r.version,
  updatedAt: r.updated_at ? new Date(r.updated_at).getTime() : null,
});
const COLUMNS = `id, name, to_char(birth_date, 'YYYY-MM-DD') AS birth_date, sex, mrn, created_at, version, updated_at`;

/** Patient: read and search (identifier, name, birthdate, gender, _id, _lastUpdated), scoped to the caller's patients. */
export function patientProvider(deps: {
  db: Db;
  access: AccessPolicy;
  audit: AuditService;
  patients: PatientsRepository;
  versions: VersionStore;
  patientService?: PatientService;
  clock?: Clock;
}): ResourceProvider {
  // An MRN is unique. Who holds one is disclosed only to a caller who may see that patient (auth/access.ts);
  // anyone else learns that this value cannot be used, not which patient has it (nor, from the wording, that
  // one they may not see exists), the same answer the database's own refusal gives when two writers race.
  const MRN_REFUSED = `identifier ${SYSTEM_MRN}: this MRN cannot be used for this patient; check the value, or ask an administrator`;
  const uniqueMrn = (err: unknown) => {
    if ((err as { code?: string }).code === '23505') throw new AppError('CONFLICT', MRN_REFUSED);
    throw err;
  };
  /** Refuses an MRN another patient holds (409), naming that patient only to a caller who may see them. */
  async function assertMrnFree(principal: Principal, mrn: string | null, self: string | null) {
    if (mrn === null) return;
    const holder = await deps.patients.idWithMrn(mrn);
    if (holder === null || holder === self) return;
    if (await deps.access.canSeePatient(principal, holder))
      throw new AppError('CONFLICT', `identifier ${SYSTEM_MRN}: Patient/${toFhirId(holder)} already has MRN "${mrn}"`);
    throw new AppError('CONFLICT', MRN_REFUSED);
  }
  return {
    type: 'Patient',
    interactions: ['read', 'vread', 'search-type', 'history-instance', ...(deps.patientService ? (['create', 'update'] as const) : [])],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: '_lastUpdated', type: 'date', documentation: 'When the record was created or last updated (all prefixes)' },
        { name: 'identifier', type: 'token', documentation: `${SYSTEM_MRN}|MRN, ${SYSTEM_PATIENT_ID}|internal id, or a bare value matching either` },
        {
          name: 'name',
          type: 'string',
          modifiers: ['exact', 'contains'],
          documentation: 'Starts a word of the name (case-insensitive); :exact the whole name or a whole part; :contains anywhere',
        },
        { name: 'birthdate', type: 'date', documentation: 'All prefixes; the birth date is its whole day' },
        { name: 'gender', type: 'token', documentation: 'male | female | other | unknown' },
      ],
      revincludes: ['Observation:patient', 'Observation:subject', 'Device:patient'],
    },

    async read(ctx, id) {
      const internal = fromFhirId(id);
      if (!(await deps.access.canSeePatient(ctx.principal, internal))) throw notFound(`Patient/${id}`);
      const p = await deps.patients.byId(internal);
      if (!p) throw notFound(`Patient/${id}`);
      deps.audit.recordSoon({ actor: ctx.principal, action: 'fhir.read', entityType: 'Patient', entityId: internal, patientId: internal }); // batched, as every read (audit/read-audit.ts)
      return patientResource(p);
    },

    newId: () => toFhirId(newId('pat')),

    /**
     * FHIR create: staff register a patient as POST /api/v1/patients does (a clinician's joins their care
     * team), in one transaction with its audit entries; the stored version copy follows the commit.
     */
    async prepareCreate(ctx, body, opts) {
      deps.access.assertStaff(ctx.principal);
      const input = patientInput(body, (deps.clock ?? systemClock).now());
      await assertMrnFree(ctx.principal, input.mrn, null);
      const id = opts?.id ? fromFhirId(opts.id) : newId('pat');
      const practitionerId = deps.access.careTeamOfCreator(ctx.principal);
      const inTransaction = async (tx: Queryable) => {
        await deps.patients.insert({ id, ...input }, tx).catch(uniqueMrn);
        await deps.audit.recordIn(tx, {
          actor: ctx.principal,
          action: 'patient.create',
          entityType: 'Patient',
          entityId: id,
          patientId: id,
          details: { via: 'fhir' },
        });
        if (practitionerId) {
          await deps.patients.addToCareTeam(id, practitionerId, 'clinician', tx);
          await deps.audit.recordIn(tx, {
            actor: ctx.principal,
            action: 'careteam.add',
            entityType: 'Patient',
            entityId: id,
            patientId: id,
            details: { practitionerId },
          });
        }
        return async () => {
          const r = patientResource((await deps.patients.byId(id))!);
          await deps.versions.record({ type: 'Patient', id, patientId: id, method: 'POST', actorUserId: ctx.principal.userId, resource: r });
          return r;
        };
      };
      return { inTransaction, commit: async () => (await deps.db.transaction(inTransaction))() };
    },

    /** FHIR update (R4 §3.1.0.4): the demographics, by those who may manage the patient; version +1, the old one kept. */
    async prepareUpdate(ctx, id, body, ifMatch) {
      const internal = fromFhirId(id);
      if (typeof body.id !== 'string' || fromFhirId(body.id) !== internal)
        throw badRequest(`the body's Patient.id must be the id in the URL, ${id} (R4 §3.1.0.4.1)`);
      await deps.access.assertCanManagePatient(ctx.principal, internal);
      const current = await deps.patients.byId(internal);
      if (!current) throw notFound(`Patient/${id}`);
      const input = patientInput(body, (deps.clock ?? systemClock).now());
      if (input.mrn !== current.mrn) await assertMrnFree(ctx.principal, input.mrn, internal);
      const version = current.version ?? 1;
      if (ifMatch !== undefined && ifMatch !== version)
        throw new AppError(
          'PRECONDITION_FAILED',
          `If-Match names version ${ifMatch}, but Patient/${id} is at version ${version}: read it again and re-apply the change`,
        );
      // Sealing reads the patient's key, so it happens here, before any transaction is open.
      const at = (deps.clock ?? systemClock).now();
      const next = patientResource({ ...current, ...input, version: version + 1, updatedAt: at });
      const sealedNext = await deps.versions.seal({
        type: 'Patient',
        id: internal,
        patientId: internal,
        method: 'PUT',
        actorUserId: ctx.principal.userId,
        resource: next,
      });
      // The version before the first FHIR update is kept too, so vread of every earlier version works.
      const snapshot = (await deps.versions.has('Patient', internal))
        ? null
        : await deps.versions.seal({
            type: 'Patient',
            id: internal,
            patientId: internal,
            method: 'SNAPSHOT',
            actorUserId: null,
            resource: patientResource(current),
          });
      const inTransaction = async (tx: Queryable) => {
        const updated = await deps.patients.updateDemographics(tx, internal, input, version, at).catch(uniqueMrn);
        if (!updated) throw new AppError('PRECONDITION_FAILED', `Patient/${id} changed meanwhile (it is no longer at version ${version}): read it again`);
        if (snapshot) await deps.versions.insert(tx, snapshot);
        await deps.versions.insert(tx, sealedNext);
        await deps.audit.recordIn(tx, {
          actor: ctx.principal,
          action: 'fhir.update',
          entityType: 'Patient',
          entityId: internal,
          patientId: internal,
          details: { version: version + 1 },
        });
        return async () => next;
      };
      return { inTransaction, commit: async () => (await deps.db.transaction(inTransaction))() };
    },

    async searchType(ctx, req) {
      const visible = await deps.access.visiblePatientIds(ctx.principal);
      const where = (sql: SqlParams): string[] | null => {
        const w: string[] = [];
        if (visible) w.push(`id = ANY(${sql.p(visible)}::text[])`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, '_lastUpdated'))
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, '_lastUpdated'), LAST_UPDATED, LAST_UPDATED, sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'birthdate'))
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, 'birthdate'), BIRTH_START, BIRTH_END, sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'gender')) {
          const codes = p.values
            .map(parseToken)
            .filter((t) => t.system === undefined || t.system === GENDER_SYSTEM)
            .map((t) => t.code);
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
        for (const p of paramsNamed(req, 'name')) w.push(nameSearchSql(p, sql));
        return w;
      };
      const r = await tableSearch<Row, ReturnType<typeof patientResource>>(deps.db, req, {
        from: 'patients',
        columns: COLUMNS,
        where,
        map: (row) => patientResource(toPatient(row)),
      });
      return { resources: r.resources, total: r.total, next: r.next };
    },
  };
}

const GENDERS = ['male', 'female', 'other', 'unknown'];

/**
 * The Patient elements Vigil keeps: name, gender, birthDate and the MRN (identifier urn:vigil:mrn). Others
 * (telecom, address…) are not stored; the answer is the resource as stored, so a client sees what was kept.
 */
function patientInput(body: Record<string, unknown>, now: number): { name: string; birthDate: string | null; sex: string | null; mrn: string | null } {
  if (body.resourceType !== 'Patient') throw badRequest(`the body must be a Patient (got ${JSON.stringify(body.resourceType ?? null)})`);
  const names = Array.isArray(body.name) ? (body.name as Array<Record<string, unknown>>) : [];
  const n = names.find((x) => x && (typeof x.text === 'string' || typeof x.family === 'string' || Array.isArray(x.given)));
  const given = Array.isArray(n?.given) ? (n.given as unknown[]).filter((g): g is string => typeof g === 'string') : [];
  const name = (typeof n?.text === 'string' ? n.text : [...given, typeof n?.family === 'string' ? n.family : ''].join(' ')).trim();
  if (!name || name.length > 200) throw badRequest('Patient.name needs a text or family/given (at most 200 characters)');
  const gender = body.gender === undefined ? null : body.gender;
  if (gender !== null && (typeof gender !== 'string' || !GENDERS.includes(gender))) throw badRequest(`Patient.gender must be one of ${GENDERS.join(', ')}`);
  const birthDate = body.birthDate === undefined ? null : body.birthDate;
  if (birthDate !== null) {
    if (typeof birthDate !== 'string') throw badRequest('Patient.birthDate must be a full date YYYY-MM-DD (Vigil stores the day)');
    const problem = birthDateProblem(birthDate, now);
    if (problem) throw badRequest(`Patient.birthDate ${problem}${problem.startsWith('must') ? ' (Vigil stores the day)' : ''}`);
  }
  const ids = Array.isArray(body.identifier) ? (body.identifier as Array<Record<string, unknown>>) : [];
  const mrn = ids.find((i) => i?.system === SYSTEM_MRN)?.value;
  if (mrn !== undefined && (typeof mrn !== 'string' || !mrn.trim() || mrn.length > 64))
    throw badRequest(`identifier ${SYSTEM_MRN} needs a value (at most 64 characters)`);
  return { name, birthDate: birthDate as string | null, sex: gender as string | null, mrn: (mrn as string | undefined)?.trim() ?? null };
}

/** Patients by internal id, for `_include` (the ids come from rows already in the caller's scope). */
export async function patientsByIds(db: Db, ids: string[]) {
  if (!ids.length) return [];
  const rows = await db.query<Row>(`SELECT ${COLUMNS} FROM patients WHERE id = ANY($1::text[]) ORDER BY id`, [ids]);
  return rows.map((r) => patientResource(toPatient(r)));
}
