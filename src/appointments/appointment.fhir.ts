import { policy } from '../api/policy.ts';
import type { Api } from '../api/http-server.ts';
import { AppointmentCreate, FhirResource, FhirSearchQuery, IdParams } from '../api/contracts/index.ts';
import type { Principal } from '../domain/types.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { AppointmentsService, Slot } from './appointments.service.ts';
import type { Appointment, AppointmentsRepository, Encounter } from './appointments.repository.ts';
import { badRequest, notFound } from '../platform/errors.ts';
import { requirePrincipal } from '../api/principal.ts';
import { registerCapability } from '../api/fhir/fhir.service.ts';
import { parseDateParams, parsePaging, parseReference, parseTokens } from '../api/fhir/search-params.ts';

/**
 * FHIR R4 Appointment (create, read, search), Encounter (read, search), Schedule and Slot (search) over the
 * appointments store. https://hl7.org/fhir/R4/appointment.html, encounter.html, slot.html.
 */

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
type Query = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[v.length - 1] : v);
const all = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const iso = (t: number) => new Date(t).toISOString();

export function appointmentResource(a: Appointment) {
  return {
    resourceType: 'Appointment',
    id: a.id,
    meta: { lastUpdated: iso(a.createdAt) },
    status: a.status,
    ...(a.cancelReason ? { cancelationReason: { text: a.cancelReason } } : {}),
    serviceType: [{ text: a.mode === 'audio' ? 'Telephone/audio visit' : 'Video visit' }],
    appointmentType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'ROUTINE' }] },
    ...(a.description ? { description: a.description } : {}),
    start: iso(a.start),
    end: iso(a.end),
    minutesDuration: Math.round((a.end - a.start) / 60_000),
    created: iso(a.createdAt),
    participant: [
      { actor: { reference: `Patient/${a.patientId}`, display: a.patientName }, required: 'required', status: 'accepted' },
      ...(a.practitionerId ? [{ actor: { reference: `Practitioner/${a.practitionerId}`, display: a.practitionerName ?? undefined }, required: 'required', status: 'accepted' }] : []),
    ],
  };
}

export function encounterResource(e: Encounter) {
  const minutes = (from: number, to: number | null) => Math.round((((to ?? Date.now()) - from) / 60_000) * 10) / 10;
  return {
    resourceType: 'Encounter',
    id: e.id,
    status: e.status,
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR', display: 'virtual' },
    subject: { reference: `Patient/${e.patientId}` },
    ...(e.appointmentId ? { appointment: [{ reference: `Appointment/${e.appointmentId}` }] } : {}),
    period: { start: iso(e.start), ...(e.end ? { end: iso(e.end) } : {}) },
    ...(e.end ? { length: { value: minutes(e.start, e.end), unit: 'min', system: 'http://unitsofmeasure.org', code: 'min' } } : {}),
    participant: e.participants.map((p) => ({
      type: [{ text: p.kind }],
      individual: { ...(p.ref && !p.ref.startsWith('Patient/') ? { reference: p.ref } : {}), display: p.display },
      period: { start: iso(p.joinedAt), ...(p.leftAt ? { end: iso(p.leftAt) } : {}) },
    })),
  };
}

const scheduleId = (practitionerId: string) => `sch-${practitionerId}`;
function slotResource(s: Slot) {
  return { resourceType: 'Slot', id: s.id, schedule: { reference: `Schedule/${scheduleId(s.practitionerId)}` }, status: s.status, start: iso(s.start), end: iso(s.end) };
}

function bundle(base: string, type: string, query: Query, total: number, resources: Array<{ id: string; resourceType: string }>, count: number, offset: number) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const value of all(v)) if (k !== '_offset') params.append(k, value);
  const link = (off: number) => {
    const s = new URLSearchParams(params);
    s.set('_offset', String(off));
    s.set('_count', String(count));
    return `${base}/${type}?${s.toString()}`;
  };
  const links = [{ relation: 'self', url: link(offset) }];
  if (offset + count < total && count > 0) links.push({ relation: 'next', url: link(offset + count) });
  if (offset > 0) links.push({ relation: 'previous', url: link(Math.max(0, offset - count)) });
  return { resourceType: 'Bundle', type: 'searchset', total, link: links, entry: resources.map((r) => ({ fullUrl: `${base}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'match' } })) };
}

export function appointmentFhirRoutes(app: Api, deps: { appointments: AppointmentsService; repo: AppointmentsRepository; access: AccessPolicy; audit: AuditService; baseUrl: () => string }) {
  registerCapability({ type: 'Appointment', interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }], searchParam: [{ name: 'patient', type: 'reference' }, { name: 'date', type: 'date' }, { name: 'status', type: 'token' }] });
  registerCapability({ type: 'Encounter', interaction: [{ code: 'read' }, { code: 'search-type' }], searchParam: [{ name: 'patient', type: 'reference' }, { name: 'subject', type: 'reference' }] });
  registerCapability({ type: 'Schedule', interaction: [{ code: 'search-type' }], searchParam: [{ name: 'actor', type: 'reference' }] });
  registerCapability({ type: 'Slot', interaction: [{ code: 'search-type' }], searchParam: [{ name: 'schedule', type: 'reference' }, { name: 'start', type: 'date' }, { name: 'status', type: 'token' }] });
  if (!app.hasContentTypeParser('application/fhir+json')) app.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  async function create(p: Principal, b: AppointmentCreate): Promise<Appointment> {
    const refs = b.participant.map((x) => x.actor?.reference).filter((r): r is string => typeof r === 'string');
    const patients = refs.filter((r) => r.startsWith('Patient/'));
    const practitioners = refs.filter((r) => r.startsWith('Practitioner/'));
    if (patients.length !== 1) throw badRequest('participant must name exactly one Patient (actor.reference "Patient/{id}")');
    if (practitioners.length > 1) throw badRequest('participant may name at most one Practitioner');
    const start = b.start === undefined ? Date.now() : Date.parse(b.start);
    if (!Number.isFinite(start)) throw badRequest('start must be a FHIR instant such as 2026-12-01T09:00:00Z');
    let end: number | undefined;
    if (b.end !== undefined) end = Date.parse(b.end);
    else if (b.minutesDuration !== undefined) end = start + b.minutesDuration * 60_000;
    if (end !== undefined && !Number.isFinite(end)) throw badRequest('end must be an instant after start (or minutesDuration a positive whole number)');
    const audio = (b.serviceType ?? []).some((s) => typeof s.text === 'string' && /audio|phone|telephone/i.test(s.text));
    return deps.appointments.create(p, {
      patientId: parseReference(patients[0], 'Patient')!, practitionerId: practitioners[0] ? parseReference(practitioners[0], 'Practitioner') : undefined,
      start, end, mode: audio ? 'audio' : 'video', description: b.description ?? null, status: b.status ?? 'booked',
    });
  }

  const SCOPE = 'resources of the patients they may see (the appointments service checks)';
  const read = { config: { policy: policy.signedIn(SCOPE) }, schema: { params: IdParams, response: { 200: FhirResource } } };
  const search = { config: { policy: policy.signedIn(SCOPE) }, schema: { querystring: FhirSearchQuery, response: { 200: FhirResource } } };
  app.post('/fhir/R4/Appointment', {
    config: { policy: policy.signedIn(SCOPE) },
    schema: { summary: 'FHIR Appointment create (staff): a visit with the patient, now or later', body: AppointmentCreate, response: { 201: FhirResource } },
  }, async (req, reply) => {
    const a = await create(requirePrincipal(req), req.body);
    return reply.status(201).type(FHIR_JSON).header('location', `${deps.baseUrl()}/Appointment/${a.id}`).send(appointmentResource(a));
  });
  app.get('/fhir/R4/Appointment/:id', read, async (req, reply) => reply.type(FHIR_JSON).send(appointmentResource(await deps.appointments.get(requirePrincipal(req), req.params.id))));
  app.get('/fhir/R4/Appointment', search, async (req, reply) => {
    const p = requirePrincipal(req);
    const q = req.query as Query;
    const { count, offset } = parsePaging({ _count: one(q._count), _offset: one(q._offset) });
    const dates = parseDateParams(all(q.date));
    const { total, rows } = await deps.appointments.list(p, {
      patientId: parseReference(one(q.patient) ?? one(q.actor), 'Patient'), from: dates.from, to: dates.to, statuses: parseTokens(one(q.status)), limit: one(q._summary) === 'count' ? 0 : count, offset,
    });
    return reply.type(FHIR_JSON).send(bundle(deps.baseUrl(), 'Appointment', q, total, rows.map(appointmentResource), count, offset));
  });

  app.get('/fhir/R4/Encounter/:id', read, async (req, reply) => {
    const p = requirePrincipal(req);
    const e = await deps.repo.encounter(req.params.id);
    if (!e || !(await deps.access.canSeePatient(p, e.patientId))) throw notFound(`Encounter/${req.params.id}`);
    await deps.audit.record({ actor: p, action: 'fhir.read', entityType: 'Encounter', entityId: e.id, patientId: e.patientId });
    return reply.type(FHIR_JSON).send(encounterResource(e));
  });
  app.get('/fhir/R4/Encounter', search, async (req, reply) => {
    const p = requirePrincipal(req);
    const q = req.query as Query;
    const { count, offset } = parsePaging({ _count: one(q._count), _offset: one(q._offset) });
    let ids = await deps.access.visiblePatientIds(p);
    const wanted = parseReference(one(q.patient) ?? one(q.subject), 'Patient');
    if (wanted) ids = ids === null || ids.includes(wanted) ? [wanted] : [];
    const { total, ids: encIds } = await deps.repo.encounters({ patientIds: ids, limit: count, offset });
    const rows = (await Promise.all(encIds.map((id) => deps.repo.encounter(id)))).filter((e): e is Encounter => !!e);
    return reply.type(FHIR_JSON).send(bundle(deps.baseUrl(), 'Encounter', q, total, rows.map(encounterResource), count, offset));
  });

  app.get('/fhir/R4/Slot', search, async (req, reply) => {
    const p = requirePrincipal(req);
    const q = req.query as Query;
    const { count, offset } = parsePaging({ _count: one(q._count), _offset: one(q._offset) });
    const dates = parseDateParams(all(q.start));
    const from = dates.from ?? Date.now();
    const schedule = parseReference(one(q.schedule), 'Schedule');
    const slots = (await deps.appointments.slots(p, { from, to: dates.to ?? from + 14 * 86_400_000, practitionerId: schedule?.replace(/^sch-/, '') })).filter((s) => !one(q.status) || s.status === one(q.status));
    return reply.type(FHIR_JSON).send(bundle(deps.baseUrl(), 'Slot', q, slots.length, slots.slice(offset, offset + count).map(slotResource), count, offset));
  });
  app.get('/fhir/R4/Schedule', search, async (req, reply) => {
    const p = requirePrincipal(req);
    const q = req.query as Query;
    const from = Date.now();
    const slots = await deps.appointments.slots(p, { from, to: from + 31 * 86_400_000 - 1 });
    const practitioners = [...new Map(slots.map((s) => [s.practitionerId, s.practitionerName])).entries()];
    const actor = parseReference(one(q.actor), 'Practitioner');
    const rows = practitioners.filter(([id]) => !actor || id === actor).map(([id, name]) => ({ resourceType: 'Schedule', id: scheduleId(id), active: true, actor: [{ reference: `Practitioner/${id}`, display: name }] }));
    return reply.type(FHIR_JSON).send(bundle(deps.baseUrl(), 'Schedule', q, rows.length, rows, rows.length, 0));
  });
}
