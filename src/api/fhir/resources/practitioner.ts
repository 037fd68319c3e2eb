import type { AccessPolicy } from '../../../auth/access.ts';
import type { Principal } from '../../../domain/types.ts';
import type { Db } from '../../../platform/db.ts';
import { notFound } from '../../../platform/errors.ts';
import type { PatientsRepository } from '../../../store/patients.repository.ts';
import { fromFhirId } from '../ids.ts';
import { practitionerResource } from '../mapping.ts';
import type { ResourceProvider } from '../registry.ts';
import { SUMMARY_ELEMENTS } from '../search/subsetting.ts';
import { dateSql, parseDateValue } from '../search/date.ts';
import { paramsNamed } from '../search/params.ts';
import type { SqlParams } from '../search/sql.ts';
import { likeEscape, tableSearch } from './table-search.ts';

interface Row {
  id: string;
  name: string;
  qualification: string | null;
  created_at: Date;
}

/** Practitioner: the caller may see themself and the practitioners on the care teams of patients they see. */
export function practitionerProvider(deps: { db: Db; access: AccessPolicy; patients: PatientsRepository }): ResourceProvider {
  async function visible(p: Principal): Promise<string[] | null> {
    const patients = await deps.access.visiblePatientIds(p);
    if (patients === null) return null;
    return [...new Set([...(await deps.patients.practitionerIdsOfPatients(patients)), ...(p.practitionerId ? [p.practitionerId] : [])])];
  }
  const map = (r: Row) => practitionerResource({ id: r.id, name: r.name, qualification: r.qualification, createdAt: new Date(r.created_at).getTime() });
  return {
    type: 'Practitioner',
    summaryElements: SUMMARY_ELEMENTS.Practitioner,
    interactions: ['read', 'vread', 'search-type', 'history-instance'],
    notSupported: {
      create: 'a practitioner comes with a clinician account: `vigil user add --role clinician` or the admin screen',
      update: 'a practitioner is changed with their account (admin screen)',
    },
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: '_lastUpdated', type: 'date', documentation: 'When the record was created (all prefixes)' },
        { name: 'name', type: 'string', modifiers: ['exact', 'contains'], documentation: 'Starts a word of the name (case-insensitive); :exact; :contains' },
      ],
    },
    async read(ctx, id) {
      const internal = fromFhirId(id);
      const ids = await visible(ctx.principal);
      const rows =
        ids === null || ids.includes(internal)
          ? await deps.db.query<Row>('SELECT id, name, qualification, created_at FROM practitioners WHERE id = $1', [internal])
          : [];
      if (!rows.length) throw notFound(`Practitioner/${id}`);
      return map(rows[0]);
    },
    async searchType(ctx, req) {
      const ids = await visible(ctx.principal);
      const where = (sql: SqlParams): string[] => {
        const w: string[] = [];
        if (ids) w.push(`id = ANY(${sql.p(ids)}::text[])`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, '_lastUpdated'))
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, '_lastUpdated'), 'created_at', 'created_at', sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'name')) {
          w.push(
            '(' +
              p.values
                .map((v) => {
                  if (p.modifier === 'exact') return `(name = ${sql.p(v)} OR ${sql.p(v)} = ANY(regexp_split_to_array(name, '\\s+')))`;
                  if (p.modifier === 'contains') return `name ILIKE ${sql.p('%' + likeEscape(v) + '%')}`;
                  return `(name ILIKE ${sql.p(likeEscape(v) + '%')} OR name ILIKE ${sql.p('% ' + likeEscape(v) + '%')})`;
                })
                .join(' OR ') +
              ')',
          );
        }
        return w;
      };
      const r = await tableSearch<Row, ReturnType<typeof map>>(deps.db, req, {
        from: 'practitioners',
        columns: 'id, name, qualification, created_at',
        where,
        map,
      });
      return { resources: r.resources, total: r.total, next: r.next };
    },
  };
}
