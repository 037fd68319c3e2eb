import type { AccessPolicy } from '../../../auth/access.ts';
import type { AuditService } from '../../../audit/audit.service.ts';
import type { Principal } from '../../../domain/types.ts';
import type { Db, Queryable } from '../../../platform/db.ts';
import { systemClock, type Clock } from '../../../platform/clock.ts';
import { AppError, badRequest, notFound } from '../../../platform/errors.ts';
import { newId } from '../../../platform/ids.ts';
import type { PatientsRepository } from '../../../store/patients.repository.ts';
import { fromFhirId, toFhirId } from '../ids.ts';
import { practitionerResource, type Resource } from '../mapping.ts';
import type { ResourceProvider } from '../registry.ts';
import type { VersionStore } from '../versions.ts';
import { dateSql, parseDateValue } from '../search/date.ts';
import { paramsNamed } from '../search/params.ts';
import type { SqlParams } from '../search/sql.ts';
import { nameSearchSql, tableSearch } from './table-search.ts';
import { ifMatchCheck, nameOf } from './write-input.ts';

interface Row {
  id: string;
  name: string;
  qualification: string | null;
  created_at: Date;
  version: number;
  updated_at: Date | null;
}

const COLUMNS = 'id, name, qualification, created_at, version, updated_at';
const LAST_UPDATED = 'COALESCE(updated_at, created_at)';

/**
 * Practitioner: the caller may see themself and the practitioners on the care teams of patients they see.
 * Writes (create, update with If-Match) are admins' (as the REST API's user and care-team administration):
 * a practitioner created here is a directory entry (name, qualification) that a clinician account or a care
 * team can then point at; signing in stays an account matter (`vigil user add`).
 */
export function practitionerProvider(deps: {
  db: Db;
  access: AccessPolicy;
  audit: AuditService;
  patients: PatientsRepository;
  versions: VersionStore;
  clock?: Clock;
}): ResourceProvider {
  const clock = deps.clock ?? systemClock;
  async function visible(p: Principal): Promise<string[] | null> {
    const patients = await deps.access.visiblePatientIds(p);
    if (patients === null) return null;
    return [...new Set([...(await deps.patients.practitionerIdsOfPatients(patients)), ...(p.practitionerId ? [p.practitionerId] : [])])];
  }
  const map = (r: Row) =>
    practitionerResource({
      id: r.id,
      name: r.name,
      qualification: r.qualification,
      createdAt: new Date(r.created_at).getTime(),
      version: r.version,
      updatedAt: r.updated_at ? new Date(r.updated_at).getTime() : null,
    });
  const byId = async (id: string, q: Queryable = deps.db) => (await q.query<Row>(`SELECT ${COLUMNS} FROM practitioners WHERE id = $1`, [id]))[0];
  /** After the write commits: the resource as stored, and its version copy (who wrote it). */
  const stored = async (id: string, method: 'POST' | 'PUT', actorUserId: string) => {
    const r = map((await byId(id))!);
    await deps.versions.record({ type: 'Practitioner', id, patientId: null, method, actorUserId, resource: r });
    return r;
  };

  return {
    type: 'Practitioner',
    interactions: ['read', 'vread', 'search-type', 'history-instance', 'create', 'update'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: '_lastUpdated', type: 'date', documentation: 'When the record was created or last updated (all prefixes)' },
        { name: 'name', type: 'string', modifiers: ['exact', 'contains'], documentation: 'Starts a word of the name (case-insensitive); :exact; :contains' },
      ],
    },
    async read(ctx, id) {
      const internal = fromFhirId(id);
      const ids = await visible(ctx.principal);
      const row = ids === null || ids.includes(internal) ? await byId(internal) : undefined;
      if (!row) throw notFound(`Practitioner/${id}`);
      return map(row);
    },

    newId: () => toFhirId(newId('pra')),

    async prepareCreate(ctx, body, opts) {
      deps.access.assertAdmin(ctx.principal);
      const input = practitionerInput(body);
      const id = opts?.id ? fromFhirId(opts.id) : newId('pra');
      const inTransaction = async (tx: Queryable) => {
        await tx.query('INSERT INTO practitioners (id, name, qualification) VALUES ($1, $2, $3)', [id, input.name, input.qualification]);
        await deps.audit.recordIn(tx, {
          actor: ctx.principal,
          action: 'practitioner.create',
          entityType: 'Practitioner',
          entityId: id,
          details: { via: 'fhir' },
        });
        return () => stored(id, 'POST', ctx.principal.userId);
      };
      return { inTransaction, commit: async () => (await deps.audit.change((tx) => inTransaction(tx)))() };
    },

    async prepareUpdate(ctx, id, body, ifMatch) {
      deps.access.assertAdmin(ctx.principal);
      const internal = fromFhirId(id);
      if (typeof body.id !== 'string' || fromFhirId(body.id) !== internal)
        throw badRequest(`the body's Practitioner.id must be the id in the URL, ${id} (R4 §3.1.0.4.1)`);
      const current = await byId(internal);
      if (!current) throw notFound(`Practitioner/${id}`);
      const input = practitionerInput(body);
      const version = current.version;
      ifMatchCheck(`Practitioner/${id}`, ifMatch, version);
      // The version before the first FHIR update is kept too, so vread of every earlier version works.
      const snapshot = (await deps.versions.has('Practitioner', internal)) ? null : map(current);
      const inTransaction = async (tx: Queryable) => {
        const at = new Date(clock.now()).toISOString();
        const [updated] = await tx.query<Row>(
          `UPDATE practitioners SET name = $2, qualification = $3, version = version + 1, updated_at = $5 WHERE id = $1 AND version = $4 RETURNING ${COLUMNS}`,
          [internal, input.name, input.qualification, version, at],
        );
        if (!updated) throw new AppError('PRECONDITION_FAILED', `Practitioner/${id} changed meanwhile (it is no longer at version ${version}): read it again`);
        const next = map(updated);
        const sealed = await Promise.all(
          [
            ...(snapshot ? [{ r: snapshot, method: 'SNAPSHOT' as const, actor: null }] : []),
            { r: next, method: 'PUT' as const, actor: ctx.principal.userId },
          ].map((v) => deps.versions.seal({ type: 'Practitioner', id: internal, patientId: null, method: v.method, actorUserId: v.actor, resource: v.r })),
        );
        for (const s of sealed) await deps.versions.insert(tx, s);
        await deps.audit.recordIn(tx, {
          actor: ctx.principal,
          action: 'fhir.update',
          entityType: 'Practitioner',
          entityId: internal,
          details: { version: version + 1 },
        });
        return async (): Promise<Resource> => next;
      };
      return { inTransaction, commit: async () => (await deps.audit.change((tx) => inTransaction(tx)))() };
    },

    async searchType(ctx, req) {
      const ids = await visible(ctx.principal);
      const where = (sql: SqlParams): string[] => {
        const w: string[] = [];
        if (ids) w.push(`id = ANY(${sql.p(ids)}::text[])`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, '_lastUpdated'))
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, '_lastUpdated'), LAST_UPDATED, LAST_UPDATED, sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'name')) w.push(nameSearchSql(p, sql));
        return w;
      };
      const r = await tableSearch<Row, ReturnType<typeof map>>(deps.db, req, { from: 'practitioners', columns: COLUMNS, where, map });
      return { resources: r.resources, total: r.total, next: r.next };
    },
  };
}

/** The Practitioner elements Vigil keeps: the name and one qualification (its text); others are not stored. */
function practitionerInput(body: Record<string, unknown>): { name: string; qualification: string | null } {
  const name = nameOf(body, 'Practitioner');
  const quals = Array.isArray(body.qualification) ? (body.qualification as Array<Record<string, unknown>>) : [];
  const code = quals[0]?.code as { text?: unknown; coding?: Array<{ display?: unknown; code?: unknown }> } | undefined;
  const text = code?.text ?? code?.coding?.[0]?.display ?? code?.coding?.[0]?.code;
  if (quals.length && (typeof text !== 'string' || !text.trim() || text.length > 200))
    throw badRequest('Practitioner.qualification[0].code needs a text, or a coding with a display or code (at most 200 characters)');
  return { name, qualification: quals.length ? (text as string).trim() : null };
}
