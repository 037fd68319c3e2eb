import { badRequest } from '../../../platform/errors.ts';
import type { PatientsRepository } from '../../../store/patients.repository.ts';
import { practitionerResource, type Resource } from '../mapping.ts';
import type { FhirContext, FhirRegistry, SearchResult } from '../registry.ts';
import { countOnly, paramsNamed, parseSearch, type SearchRequest, type SearchSpec } from '../search/params.ts';

/**
 * Patient/{id}/$everything (R4 patient-everything): the Patient, its Devices and care team, and its
 * Observations, paged by the Observation cursor (the first page carries the non-Observation resources).
 * `start`/`end` bound the Observations' dates; `_since` their `_lastUpdated`.
 */
export const EVERYTHING_SPEC: SearchSpec = {
  params: [
    { name: 'start', type: 'date', documentation: 'Observations on or after this date' },
    { name: 'end', type: 'date', documentation: 'Observations on or before this date' },
    { name: '_since', type: 'date', documentation: 'Only resources stored after this instant' },
  ],
};

export async function patientEverything(
  ctx: FhirContext,
  registry: FhirRegistry,
  patients: PatientsRepository,
  id: string,
  req: SearchRequest,
): Promise<SearchResult> {
  const patient = await registry.get('Patient')!.read(ctx, id); // access-checked: 404 outside the caller's scope
  const internal = ((patient.identifier ?? []) as Array<{ system: string; value: string }>).find((i) => i.system === 'urn:vigil:patient')?.value;
  const obsQuery: Record<string, string | string[]> = { patient: `Patient/${patient.id}`, _sort: 'date', _count: String(req.count) };
  const dates: string[] = [];
  const one = (name: string) => paramsNamed(req, name).at(-1)?.values[0];
  if (one('start')) dates.push(`ge${one('start')}`);
  if (one('end')) dates.push(`le${one('end')}`);
  if (dates.length) obsQuery.date = dates;
  if (one('_since')) {
    if (!/T/.test(one('_since')!)) throw badRequest('_since must be an instant (e.g. 2026-11-24T10:00:00Z)');
    obsQuery._lastUpdated = `gt${one('_since')}`;
  }
  if (req.cursor) obsQuery._cursor = req.cursor;
  const counting = countOnly(req);
  if (counting) obsQuery._summary = 'count';
  const obs = await registry.get('Observation')!.searchType(ctx, parseSearch('Observation', obsQuery, registry.get('Observation')!.search, true));
  const first: Resource[] = [];
  if (!req.cursor) {
    first.push(patient);
    const devices = await registry
      .get('Device')!
      .searchType(ctx, parseSearch('Device', { patient: `Patient/${patient.id}`, _count: '1000' }, registry.get('Device')!.search, true));
    first.push(...devices.resources);
    if (internal) first.push(...(await patients.careTeamOf(internal)).map((p) => practitionerResource(p)));
  }
  // Counting only (_summary=count, _count=0): the first page's resources and every Observation, none sent.
  if (counting) return { resources: [], total: first.length + (obs.total ?? 0) };
  return { resources: [...first, ...obs.resources], total: undefined, next: obs.next };
}
