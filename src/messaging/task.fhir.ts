import type { Db } from '../platform/db.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { ResourceProvider } from '../api/fhir/registry.ts';
import type { Resource } from '../api/fhir/mapping.ts';
import { fromFhirId, toFhirId } from '../api/fhir/ids.ts';
import { paramsNamed, parseToken } from '../api/fhir/search/params.ts';
import { narrowPatients, referenceIds } from '../api/fhir/search/reference.ts';
import { tableSearch } from '../api/fhir/resources/table-search.ts';
import type { SqlParams } from '../api/fhir/search/sql.ts';
import { notFound } from '../platform/errors.ts';
import type { TaskView, TasksService } from './tasks.service.ts';

/** FHIR R4 Task (https://hl7.org/fhir/R4/task.html) over the tasks made from messages: read and search. */
export function taskResource(t: TaskView): Resource {
  return {
    resourceType: 'Task',
    id: toFhirId(t.id),
    meta: { lastUpdated: t.updatedAt },
    status: t.status,
    intent: 'order',
    description: t.note,
    focus: { reference: `Communication/${toFhirId(t.messageId)}` },
    for: { reference: `Patient/${toFhirId(t.patientId)}`, display: t.patientName },
    authoredOn: t.createdAt,
    lastModified: t.updatedAt,
    ...(t.assignee ? { owner: { reference: `Practitioner/${toFhirId(t.assignee.practitionerId)}`, display: t.assignee.name } } : {}),
    ...(t.due ? { restriction: { period: { end: t.due } } } : {}),
  };
}

export function taskProvider(deps: { db: Db; tasks: TasksService; access: AccessPolicy }): ResourceProvider {
  const views = async (ids: string[]) => Promise.all((await deps.tasks.byIds(ids)).map(deps.tasks.view));
  return {
    type: 'Task',
    interactions: ['read', 'search-type'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: 'patient', type: 'reference', documentation: 'The patient the task is for' },
        { name: 'owner', type: 'reference', documentation: 'The practitioner it is assigned to' },
        { name: 'focus', type: 'reference', documentation: 'The Communication it was made from' },
        { name: 'status', type: 'token', documentation: 'requested, accepted, in-progress, completed, cancelled' },
      ],
    },
    async read(ctx, id) {
      deps.access.assertStaff(ctx.principal);
      const [t] = await views([fromFhirId(id)]);
      if (!t || !(await deps.access.canSeePatient(ctx.principal, t.patientId))) throw notFound(`Task/${id}`);
      return taskResource(t);
    },
    async searchType(ctx, req) {
      deps.access.assertStaff(ctx.principal);
      const patients = narrowPatients(
        await deps.access.visiblePatientIds(ctx.principal),
        paramsNamed(req, 'patient').map((p) => referenceIds(p, 'Patient')),
      );
      const where = (sql: SqlParams): string[] | null => {
        if (patients !== null && patients.length === 0) return null;
        const w: string[] = [];
        if (patients) w.push(`patient_id = ANY(${sql.p(patients)}::text[])`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, 'owner')) w.push(`assignee_practitioner_id = ANY(${sql.p(referenceIds(p, 'Practitioner'))}::text[])`);
        for (const p of paramsNamed(req, 'focus')) w.push(`message_id = ANY(${sql.p(referenceIds(p, 'Communication'))}::text[])`);
        for (const p of paramsNamed(req, 'status')) w.push(`status = ANY(${sql.p(p.values.map((v) => parseToken(v).code ?? ''))}::text[])`);
        return w;
      };
      const r = await tableSearch<{ id: string }, string>(deps.db, req, { from: 'message_tasks', columns: 'id', where, map: (row) => row.id });
      return { resources: (await views(r.resources)).map(taskResource), total: r.total, next: r.next };
    },
  };
}
