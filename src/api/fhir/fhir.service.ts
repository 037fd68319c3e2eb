import type { Principal } from '../../domain/types.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { AuditService } from '../../audit/audit.service.ts';
import type { PatientsRepository } from '../../store/patients.repository.ts';
import type { DevicesRepository } from '../../store/devices.repository.ts';
import type { ReadingsRepository } from '../../store/readings.repository.ts';
import type { EcgRepository } from '../../store/ecg.repository.ts';
import { ECG_CODE } from '../../domain/codes.ts';
import { notFound } from '../../platform/errors.ts';
import { deviceResource, ecgObservationResource, observationResource, patientResource, practitionerResource } from './mapping.ts';
import { parseDateParams, parsePaging, parseReference, parseTokens } from './search-params.ts';

export type Query = Record<string, string | string[] | undefined>;

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[v.length - 1] : v);
const all = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * FHIR R4 read and search over the store, with no HTTP in it: (principal, params) → resource or Bundle.
 * Access is decided by the policy; a resource outside the caller's scope is "not found".
 */
export function createFhirService(deps: {
  access: AccessPolicy;
  audit: AuditService;
  patients: PatientsRepository;
  devices: DevicesRepository;
  readings: ReadingsRepository;
  ecg: EcgRepository;
  baseUrl: () => string;
}) {
  function bundle(type: string, query: Query, total: number | undefined, entries: Array<{ id: string; resourceType: string }>, count: number, offset: number) {
    const base = deps.baseUrl();
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const value of all(v)) if (k !== '_offset') params.append(k, value);
    const link = (off: number) => {
      const p = new URLSearchParams(params);
      p.set('_offset', String(off));
      p.set('_count', String(count));
      return `${base}/${type}?${p.toString()}`;
    };
    const links = [{ relation: 'self', url: link(offset) }];
    if (total !== undefined && offset + count < total && count > 0) links.push({ relation: 'next', url: link(offset + count) });
    if (offset > 0) links.push({ relation: 'previous', url: link(Math.max(0, offset - count)) });
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      ...(total !== undefined ? { total } : {}),
      link: links,
      entry: entries.map((resource) => ({ fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
    };
  }

  /** The patient ids a search may cover: the caller's scope, narrowed by `patient=`. */
  async function scope(principal: Principal, patientParam: string | undefined): Promise<string[] | null> {
    const visible = await deps.access.visiblePatientIds(principal);
    const wanted = parseReference(patientParam, 'Patient');
    if (wanted === undefined) return visible;
    if (visible !== null && !visible.includes(wanted)) return [];
    return [wanted];
  }

  return {
    async read(principal: Principal, type: string, id: string) {
      switch (type) {
        case 'Patient': {
          await deps.access.assertPatient(principal, id);
          const p = await deps.patients.byId(id);
          if (!p) throw notFound(`Patient/${id}`);
          await deps.audit.record({ actor: principal, action: 'fhir.read', entityType: 'Patient', entityId: id, patientId: id });
          return patientResource(p);
        }
        case 'Practitioner': {
          const visible = await deps.access.visiblePatientIds(principal);
          const allowed = visible === null || principal.practitionerId === id || (await deps.patients.practitionerIdsOfPatients(visible)).includes(id);
          const p = allowed ? await deps.patients.practitionerById(id) : null;
          if (!p) throw notFound(`Practitioner/${id}`);
          return practitionerResource(p);
        }
        case 'Device': {
          const d = await deps.devices.byId(id);
          if (!d || (d.patientId ? !(await deps.access.canSeePatient(principal, d.patientId)) : principal.role !== 'admin')) throw notFound(`Device/${id}`);
          return deviceResource(d);
        }
        case 'Observation': {
          const isEcg = id.startsWith('ecg-');
          const r = isEcg ? await deps.ecg.byId(id.slice(4)) : await deps.readings.byId(id);
          if (!r || !(await deps.access.canSeePatient(principal, r.patientId))) throw notFound(`Observation/${id}`);
          await deps.audit.record({ actor: principal, action: 'fhir.read', entityType: 'Observation', entityId: id, patientId: r.patientId });
          return isEcg ? ecgObservationResource(r as never) : observationResource(r as never);
        }
        default:
          throw notFound(`resource type ${type}`);
      }
    },

    async search(principal: Principal, type: string, query: Query) {
      const { count, offset } = parsePaging({ _count: one(query._count), _offset: one(query._offset) });
      const summaryCount = one(query._summary) === 'count';
      switch (type) {
        case 'Patient': {
          const ids = await scope(principal, one(query._id));
          const total = await deps.patients.count(ids);
          const rows = summaryCount ? [] : await deps.patients.list(ids, count, offset);
          return bundle(type, query, total, rows.map(patientResource), count, offset);
        }
        case 'Practitioner': {
          const visible = await deps.access.visiblePatientIds(principal);
          const ids = visible === null ? null : [...new Set([...(await deps.patients.practitionerIdsOfPatients(visible)), ...(principal.practitionerId ? [principal.practitionerId] : [])])];
          const rows = await deps.patients.listPractitioners(ids);
          return bundle(type, query, rows.length, summaryCount ? [] : rows.slice(offset, offset + count).map(practitionerResource), count, offset);
        }
        case 'Device': {
          const ids = await scope(principal, one(query.patient));
          const rows = await deps.devices.list(ids);
          return bundle(type, query, rows.length, summaryCount ? [] : rows.slice(offset, offset + count).map(deviceResource), count, offset);
        }
        case 'Observation': {
          const ids = await scope(principal, one(query.patient) ?? one(query.subject));
          const codes = parseTokens(one(query.code));
          const dates = parseDateParams(all(query.date));
          const sort = one(query._sort);
          if (codes?.includes(ECG_CODE.code)) {
            const rows = await deps.ecg.range(ids, dates.from ?? 0, dates.to ?? Date.now() + 86_400_000, summaryCount ? 0 : count, offset);
            return bundle(type, query, undefined, rows.map(ecgObservationResource), count, offset);
          }
          const { total, rows } = await deps.readings.search({
            patientIds: ids, codes, ...dates, sortDesc: sort === '-date', limit: count, offset, countOnly: summaryCount,
          });
          if (ids?.length === 1) await deps.audit.record({ actor: principal, action: 'fhir.search', entityType: 'Observation', patientId: ids[0], details: { count: rows.length } });
          return bundle(type, query, total, rows.map(observationResource), count, offset);
        }
        default:
          throw notFound(`resource type ${type}`);
      }
    },
  };
}

export type FhirService = ReturnType<typeof createFhirService>;

export const FHIR_TYPES = ['Patient', 'Practitioner', 'Device', 'Observation'] as const;

/** Resource types served by other modules (Communication, Appointment, Encounter…) announce themselves here. */
const extraCapabilities: Array<{ type: string; interaction: Array<{ code: string }>; searchParam: Array<{ name: string; type: string }> }> = [];
export function registerCapability(entry: (typeof extraCapabilities)[number]): void {
  if (!extraCapabilities.some((e) => e.type === entry.type)) extraCapabilities.push(entry);
}

export function capabilityStatement(baseUrl: string, version: string) {
  const searchParams: Record<string, Array<{ name: string; type: string }>> = {
    Patient: [{ name: '_id', type: 'token' }],
    Practitioner: [],
    Device: [{ name: 'patient', type: 'reference' }],
    Observation: [
      { name: 'patient', type: 'reference' },
      { name: 'subject', type: 'reference' },
      { name: 'code', type: 'token' },
      { name: 'date', type: 'date' },
    ],
  };
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'Vigil', version },
    implementation: { description: 'Vigil remote patient monitoring', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        security: { description: 'Authorization: Bearer <token> (vigil token create) or a signed-in session' },
        resource: [
          ...FHIR_TYPES.map((type) => ({
            type,
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [...searchParams[type], { name: '_count', type: 'number' }, { name: '_summary', type: 'token' }, ...(type === 'Observation' ? [{ name: '_sort', type: 'string' }] : [])],
          })),
          ...extraCapabilities,
        ],
      },
    ],
  };
}
