import { createHash } from 'node:crypto';
import type { AccessPolicy } from '../../../auth/access.ts';
import type { Principal } from '../../../domain/types.ts';
import type { Db } from '../../../platform/db.ts';
import { notFound } from '../../../platform/errors.ts';
import type { PatientsRepository } from '../../../store/patients.repository.ts';
import { fromFhirId, toFhirId } from '../ids.ts';
import type { Resource } from '../mapping.ts';
import { nonEmpty } from '../bundle.ts';
import type { ResourceProvider } from '../registry.ts';
import { paramsNamed } from '../search/params.ts';
import type { SqlParams } from '../search/sql.ts';
import { tableSearch } from './table-search.ts';

/**
 * Group: a care team as the set of its patients (R4 Group, type person, actual), with the same id as the
 * team's Practitioner. It is what Bulk Data `Group/{id}/$export` exports. Seen by admins and by that
 * practitioner (auth/access.ts canSeeCareTeam); members are only the patients the caller may see.
 */
export async function careTeamGroupMembers(
  deps: { access: AccessPolicy; patients: PatientsRepository },
  p: Principal,
  groupId: string,
): Promise<string[] | null> {
  const practitionerId = fromFhirId(groupId);
  if (!deps.access.canSeeCareTeam(p, practitionerId) || !(await deps.patients.practitionerById(practitionerId))) return null;
  const members = await deps.patients.patientIdsOfPractitioner(practitionerId);
  const visible = await deps.access.visiblePatientIds(p);
  return visible === null ? members : members.filter((m) => visible.includes(m));
}

type Row = { id: string; name: string; changed_at: Date };
/** lastUpdated: the latest of the team's creation, its practitioner's update and its members' change (migration 045). */
const COLUMNS = 'id, name, GREATEST(created_at, updated_at, care_team_changed_at) AS changed_at';

export function groupProvider(deps: { db: Db; access: AccessPolicy; patients: PatientsRepository }): ResourceProvider {
  async function resource(p: Principal, row: Row): Promise<Resource> {
    const members = (await careTeamGroupMembers(deps, p, row.id)) ?? [];
    const r: Resource = {
      resourceType: 'Group',
      id: toFhirId(row.id),
      meta: { versionId: '', lastUpdated: new Date(row.changed_at).toISOString() },
      type: 'person',
      actual: true,
      name: `Care team of ${row.name}`,
      managingEntity: { reference: `Practitioner/${toFhirId(row.id)}`, display: row.name },
      quantity: members.length,
      // A care team with no patients has no member element (R4 JSON: no empty arrays).
      ...nonEmpty(
        'member',
        members.map((m) => ({ entity: { reference: `Patient/${toFhirId(m)}` } })),
      ),
    };
    // Computed, with no stored versions: versionId is a digest of the content and lastUpdated (as Slot's), so it
    // changes whenever either does (R4 resource.html#Meta; the ETag follows).
    r.meta!.versionId = createHash('sha256').update(JSON.stringify(r)).digest('hex').slice(0, 16);
    return r;
  }
  return {
    type: 'Group',
    interactions: ['read', 'search-type'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: "The care team's practitioner id; comma for OR" },
        { name: 'managing-entity', type: 'reference', modifiers: ['Practitioner'], documentation: 'Practitioner/{id}' },
      ],
    },
    async read(ctx, id) {
      const internal = fromFhirId(id);
      const rows = deps.access.canSeeCareTeam(ctx.principal, internal)
        ? await deps.db.query<Row>(`SELECT ${COLUMNS} FROM practitioners WHERE id = $1`, [internal])
        : [];
      if (!rows[0]) throw notFound(`Group/${id}`);
      return resource(ctx.principal, rows[0]);
    },
    async searchType(ctx, req) {
      const p = ctx.principal;
      const where = (sql: SqlParams): string[] | null => {
        // Admins see every team; a clinician their own; nobody else any (auth/access.ts careTeamsVisible).
        const w: string[] = [];
        const teams = deps.access.careTeamsVisible(p);
        if (teams) {
          if (!teams.length) return null;
          w.push(`id = ANY(${sql.p(teams)}::text[])`);
        }
        for (const x of [...paramsNamed(req, '_id'), ...paramsNamed(req, 'managing-entity')])
          w.push(`id = ANY(${sql.p(x.values.map((v) => fromFhirId(v.replace(/^.*Practitioner\//, ''))))}::text[])`);
        return w;
      };
      const r = await tableSearch<Row, Row>(deps.db, req, {
        from: 'practitioners',
        columns: COLUMNS,
        where,
        map: (row) => row,
      });
      return { resources: await Promise.all(r.resources.map((row) => resource(p, row))), total: r.total, next: r.next };
    },
  };
}
