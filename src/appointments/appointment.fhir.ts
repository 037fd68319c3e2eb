import { createHash } from 'node:crypto';
import type { Principal } from '../domain/types.ts';
import type { Db } from '../platform/db.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditEntry, AuditService } from '../audit/audit.service.ts';
import type { AppointmentsService, Slot } from './appointments.service.ts';
import type { Appointment, AppointmentsRepository, Encounter } from './appointments.repository.ts';
import type { ResourceProvider, SearchResult } from '../api/fhir/registry.ts';
import type { Resource } from '../api/fhir/mapping.ts';
import { fromFhirId, referenceId, toFhirId } from '../api/fhir/ids.ts';
import { paramsNamed, parseToken, type SearchRequest } from '../api/fhir/search/params.ts';
import { narrowPatients, referenceIds } from '../api/fhir/search/reference.ts';
import { dateSql, parseDateValue } from '../api/fhir/search/date.ts';
import { decodeCursor, encodeCursor } from '../api/fhir/search/cursor.ts';
import { tableSearch } from '../api/fhir/resources/table-search.ts';
import type { SqlParams } from '../api/fhir/search/sql.ts';
import { AppointmentCreate } from '../api/contracts/index.ts';
import { AppError, badRequest, notFound } from '../platform/errors.ts';
import { fhirReference } from '../messaging/communication.fhir.ts';
import { nonEmpty } from '../api/fhir/bundle.ts';
import type { VersionStore } from '../api/fhir/versions.ts';
import { ifMatchCheck } from '../api/fhir/resources/write-input.ts';
import type { Queryable } from '../platform/db.ts';
import type { AppointmentChange } from './appointments.service.ts';

/**
 * FHIR R4 Appointment (create, read, vread, history, update, search), Encounter (read, search), Schedule and Slot (read/search) over
 * the appointments store, as providers on the FHIR registry (api/fhir/registry.ts), with conformant ids and
 * references (`Patient/pat-…`). https://hl7.org/fhir/R4/appointment.html, encounter.html, schedule.html, slot.html.
 */

const iso = (t: number) => new Date(t).toISOString();
const tokens = (req: SearchRequest, name: string) => paramsNamed(req, name).map((p) => p.values.map((v) => parseToken(v).code ?? ''));

export function appointmentResource(a: Appointment): Resource {
  return {
    resourceType: 'Appointment',
    id: toFhirId(a.id),
    meta: { versionId: String(a.version), lastUpdated: iso(a.updatedAt) },
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
      { actor: { reference: `Patient/${toFhirId(a.patientId)}`, display: a.patientName }, required: 'required', status: 'accepted' },
      ...(a.practitionerId
        ? [
            {
              actor: { reference: `Practitioner/${toFhirId(a.practitionerId)}`, ...(a.practitionerName ? { display: a.practitionerName } : {}) },
              required: 'required',
              status: 'accepted',
            },
          ]
        : []),
    ],
  };
}

export function encounterResource(e: Encounter, now: number): Resource {
  const minutes = (from: number, to: number | null) => Math.round((((to ?? now) - from) / 60_000) * 10) / 10;
  // An Encounter changes as people join and leave and when it ends: its last change is the latest of those times.
  const lastUpdated = Math.max(e.start, e.end ?? 0, ...e.participants.map((p) => Math.max(p.joinedAt, p.leftAt ?? 0)));
  return {
    resourceType: 'Encounter',
    id: toFhirId(e.id),
    meta: { lastUpdated: iso(lastUpdated) },
    status: e.status,
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR', display: 'virtual' },
    subject: { reference: `Patient/${toFhirId(e.patientId)}` },
    ...(e.appointmentId ? { appointment: [{ reference: `Appointment/${toFhirId(e.appointmentId)}` }] } : {}),
    period: { start: iso(e.start), ...(e.end ? { end: iso(e.end) } : {}) },
    ...(e.end ? { length: { value: minutes(e.start, e.end), unit: 'min', system: 'http://unitsofmeasure.org', code: 'min' } } : {}),
    // R4 JSON: no empty arrays (an Encounter nobody joined has no participant element).
    ...nonEmpty(
      'participant',
      e.participants.map((p) => ({
        type: [{ text: p.kind }],
        // Encounter.participant.individual is a Practitioner/RelatedPerson: the patient is the subject, a guest a display only.
        individual: { ...(p.ref && !p.ref.startsWith('Patient/') ? { reference: fhirReference(p.ref) } : {}), display: p.display },
        period: { start: iso(p.joinedAt), ...(p.leftAt ? { end: iso(p.leftAt) } : {}) },
      })),
    ),
  };
}

const scheduleId = (practitionerId: string) => `sch-${toFhirId(practitionerId)}`;
const practitionerOfSchedule = (id: string) => (id.startsWith('sch-') ? fromFhirId(id.slice(4)) : undefined);

/**
 * Slot and Schedule are computed (from availability and bookings), so they have no stored version: `versionId` is a
 * digest of the content and `lastUpdated` (as Slot says), so it changes whenever either does (hex: a FHIR id).
 */
function withComputedMeta(r: Resource, lastUpdated: number): Resource {
  const versionId = createHash('sha256')
    .update(`${lastUpdated}\n${JSON.stringify(r)}`)
    .digest('hex')
    .slice(0, 16);
  return { ...r, meta: { versionId, lastUpdated: iso(lastUpdated) } };
}

function slotResource(s: Slot): Resource {
  return withComputedMeta(
    {
      resourceType: 'Slot',
      id: s.id,
      schedule: { reference: `Schedule/${scheduleId(s.practitionerId)}` },
      status: s.status,
      start: iso(s.start),
      end: iso(s.end),
    },
    s.lastUpdated,
  );
}

/** Paging over a list computed in memory (slots, schedules): the cursor is the offset of the next page. */
function pageOf(all: Resource[], req: SearchRequest): SearchResult {
  const after = decodeCursor(req.cursor, (v): v is { o: number } => Number.isInteger((v as { o?: unknown })?.o) && (v as { o: number }).o >= 0);
  const from = after?.o ?? 0;
  if (req.summary === 'count') return { resources: [], total: all.length };
  const page = all.slice(from, from + req.count);
  return {
    resources: page,
    total: req.total === 'none' ? undefined : all.length,
    next: from + req.count < all.length && req.count > 0 ? encodeCursor({ o: from + req.count }) : undefined,
  };
}

/** Elements an update may change; the server's own (`meta`, narrative `text`) are ignored. */
const CHANGEABLE = new Set([
  'resourceType',
  'id',
  'meta',
  'text',
  'start',
  'end',
  'minutesDuration',
  'status',
  'cancelationReason',
  'description',
  'participant',
]);
/** Elements the server sets: left out of an update they stay as they are; given, they must be unchanged. */
const SERVER_SET = new Set(['serviceType', 'appointmentType', 'created']);

const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );

/**
 * What a FHIR update asks of an appointment, as the REST API's changes (R4 §3.1.0.4: the body is the whole
 * resource): new `start`/`end` (reschedule), `status` "cancelled" with a `cancelationReason` (cancel), a new
 * `description`. A malformed element is a 400; anything else that differs from `stored` (the patient, the
 * practitioner, another status, an element this server does not keep) is a 422; both name the element.
 */
export function appointmentChange(body: Record<string, unknown>, stored: Resource): AppointmentChange {
  const rejected = (what: string, why: string) => new AppError('PAYLOAD_REJECTED', `Appointment.${what} ${why}`);
  for (const key of Object.keys(body)) {
    if (CHANGEABLE.has(key)) continue;
    if (SERVER_SET.has(key)) {
      const same =
        key === 'created' ? Date.parse(String(body.created)) === Date.parse(String(stored.created)) : canonical(body[key]) === canonical(stored[key]);
      if (!same) throw rejected(key, 'is set by the server and cannot be changed by update');
      continue;
    }
    throw rejected(
      key,
      'is not kept by this server, so an update cannot set it (start, end, status → cancelled, cancelationReason and description can change)',
    );
  }
  const instant = (key: 'start' | 'end'): number => {
    const v = body[key];
    if (v === undefined) throw badRequest(`Appointment.${key} is required (the whole resource is sent on update)`);
    const t = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(t)) throw badRequest(`Appointment.${key} must be a FHIR instant with a time zone, such as 2026-12-01T09:00:00Z`);
    return t;
  };
  const start = instant('start');
  const end = instant('end');
  const was = { start: Date.parse(String(stored.start)), end: Date.parse(String(stored.end)) };
  if (body.minutesDuration !== undefined) {
    const m = body.minutesDuration;
    if (typeof m !== 'number' || !Number.isInteger(m) || m <= 0) throw badRequest('Appointment.minutesDuration must be a positive whole number');
    if (m !== Math.round((end - start) / 60_000)) throw rejected('minutesDuration', `(${m}) does not agree with start and end`);
  }
  const change: AppointmentChange = {};
  if (start !== was.start || end !== was.end) {
    change.start = start;
    if (end !== was.end || end - start !== was.end - was.start) change.end = end;
  }
  // The participants: the same references (a patient is never moved to another's appointment; the clinician
  // changes by booking anew). Their display, required and status elements are the server's.
  if (!Array.isArray(body.participant) || body.participant.some((x) => !x || typeof x !== 'object'))
    throw badRequest('Appointment.participant must be a list naming the Patient (and the Practitioner)');
  const refs = (list: unknown[]) =>
    list
      .map((x) => (x as { actor?: { reference?: unknown } }).actor?.reference)
      .map((r) => (typeof r === 'string' ? r.replace(/^.*\/(Patient|Practitioner)\//, '$1/') : String(r)))
      .sort();
  if (canonical(refs(body.participant)) !== canonical(refs(stored.participant as unknown[])))
    throw rejected('participant', 'cannot be changed by update: the patient and the practitioner stay those it was booked with');
  const status = body.status;
  if (typeof status !== 'string') throw badRequest('Appointment.status is required: proposed, booked, arrived, fulfilled, cancelled or noshow');
  const reason = body.cancelationReason;
  let reasonText: string | undefined;
  if (reason !== undefined) {
    const r = reason as { text?: unknown; coding?: Array<{ display?: unknown; code?: unknown }> } | null;
    const text = r && typeof r === 'object' ? (r.text ?? r.coding?.[0]?.display ?? r.coding?.[0]?.code) : undefined;
    if (typeof text !== 'string' || !text.trim()) throw badRequest('Appointment.cancelationReason needs a text (or a coding with a display or code)');
    reasonText = text.trim();
  }
  const storedReason = (stored.cancelationReason as { text?: string } | undefined)?.text;
  if (status !== stored.status) {
    if (status !== 'cancelled')
      throw rejected(
        'status',
        `${stored.status} → ${status} is not a change an update makes (cancel with status "cancelled"; arrived and fulfilled follow the visit)`,
      );
    change.cancel = { reason: reasonText ?? null };
    if (change.start !== undefined) throw rejected('start', 'cannot change in the update that cancels the appointment');
  } else if (reasonText !== undefined && reasonText !== storedReason) throw rejected('cancelationReason', 'is given when cancelling (status "cancelled")');
  const description = body.description;
  if (description !== undefined && (typeof description !== 'string' || !description.trim()))
    throw badRequest('Appointment.description must be a non-empty string (leave it out to remove it)');
  if (typeof description === 'string' && description.length > 500) throw badRequest('Appointment.description may be at most 500 characters');
  if ((description ?? null) !== (stored.description ?? null)) change.description = (description as string | undefined) ?? null;
  return change;
}

function parseOrThrow(body: unknown): AppointmentCreate {
  const r = AppointmentCreate.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw badRequest(`${issue.path.length ? issue.path.join('.') + ': ' : ''}${issue.message}`);
}

type Ctx = { principal: Principal; baseUrl: string };
export type AppointmentProvider = ResourceProvider & { create(ctx: Ctx, resource: unknown): Promise<Resource> };

export function appointmentProviders(deps: {
  db: Db;
  appointments: AppointmentsService;
  repo: AppointmentsRepository;
  access: AccessPolicy;
  audit: AuditService;
  /** The FHIR module's stored versions (vread, _history). */
  versions: VersionStore;
  now: () => number;
}) {
  const { access } = deps;

  /**
   * Seals the versions the database captured (migration 039: every INSERT and every change of an appointment,
   * by any path) into `fhir_versions`, as the other versioned types store theirs: with the patient's data key,
   * the writer (when the change named one) and how. Runs outside any transaction (sealing on PGlite must);
   * idempotent, so two instances doing it at once store each version once.
   */
  async function syncVersions(id: string): Promise<void> {
    for (const v of await deps.repo.pendingVersions(id)) {
      const a = v.appointment;
      await deps.versions.record({
        type: 'Appointment',
        id: a.id,
        patientId: a.patientId,
        method: v.method,
        actorUserId: v.actorUserId,
        resource: appointmentResource(a),
      });
      await deps.repo.versionStored(a.id, a.version);
    }
  }
  const visiblePatients = async (p: Principal, req: SearchRequest, names: string[]) =>
    narrowPatients(
      await access.visiblePatientIds(p),
      names.flatMap((n) => paramsNamed(req, n)).map((x) => referenceIds(x, 'Patient')),
    );

  const appointment: AppointmentProvider = {
    type: 'Appointment',
    interactions: ['read', 'vread', 'search-type', 'history-instance', 'create', 'update'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: 'patient', type: 'reference', documentation: 'The patient taking part (Patient/{id})' },
        { name: 'actor', type: 'reference', modifiers: ['Patient', 'Practitioner'], documentation: 'Any participant: Patient/{id} or Practitioner/{id}' },
        { name: 'practitioner', type: 'reference', documentation: 'The practitioner taking part' },
        { name: 'date', type: 'date', documentation: 'The appointment period overlaps or falls in the date (all prefixes)' },
        { name: 'status', type: 'token', documentation: 'proposed, booked, arrived, fulfilled, cancelled, noshow' },
      ],
    },
    async read(ctx, id) {
      return appointmentResource(await deps.appointments.get(ctx.principal, fromFhirId(id)));
    },
    async searchType(ctx, req) {
      const patients = await visiblePatients(ctx.principal, req, ['patient']);
      const practitioners = paramsNamed(req, 'practitioner').map((x) => referenceIds(x, 'Practitioner'));
      // One `actor` is an OR over its values, which may name patients and practitioners alike
      // (`actor=Patient/A,Practitioner/P`); a bare id may be either (found by review: the practitioner was dropped).
      const actors = paramsNamed(req, 'actor').map((a) => ({ patients: referenceIds(a, 'Patient'), practitioners: referenceIds(a, 'Practitioner') }));
      const where = (sql: SqlParams): string[] | null => {
        if (patients !== null && patients.length === 0) return null;
        const w: string[] = [];
        if (patients) w.push(`patient_id = ANY(${sql.p(patients)}::text[])`);
        for (const ids of practitioners) w.push(`practitioner_id = ANY(${sql.p(ids)}::text[])`);
        for (const a of actors) w.push(`(patient_id = ANY(${sql.p(a.patients)}::text[]) OR practitioner_id = ANY(${sql.p(a.practitioners)}::text[]))`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, 'date'))
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, 'date'), 'start_at', 'end_at', sql)).join(' OR ') + ')');
        for (const codes of tokens(req, 'status')) w.push(`status = ANY(${sql.p(codes)}::text[])`);
        return w;
      };
      const r = await tableSearch<{ id: string }, string>(deps.db, req, { from: 'appointments', columns: 'id', where, map: (row) => row.id });
      const rows = await deps.repo.byIds(r.resources);
      for (const patientId of new Set(rows.map((a) => a.patientId)))
        await deps.audit.record({
          actor: ctx.principal,
          action: 'fhir.search',
          entityType: 'Appointment',
          patientId,
          details: { count: rows.filter((a) => a.patientId === patientId).length },
        });
      return { resources: rows.map(appointmentResource), total: r.total, next: r.next };
    },
    async create(ctx, resource) {
      const b = parseOrThrow(resource);
      const refs = b.participant.map((x) => x.actor?.reference).filter((r): r is string => typeof r === 'string');
      const patients = refs.map((r) => (r.startsWith('Patient/') ? referenceId(r, 'Patient') : undefined)).filter((r): r is string => !!r);
      const practitioners = refs.map((r) => (r.startsWith('Practitioner/') ? referenceId(r, 'Practitioner') : undefined)).filter((r): r is string => !!r);
      if (patients.length !== 1) throw badRequest('participant must name exactly one Patient (actor.reference "Patient/{id}")');
      if (practitioners.length > 1) throw badRequest('participant may name at most one Practitioner');
      const start = b.start === undefined ? deps.now() : Date.parse(b.start);
      if (!Number.isFinite(start)) throw badRequest('start must be a FHIR instant such as 2026-12-01T09:00:00Z');
      let end: number | undefined;
      if (b.end !== undefined) end = Date.parse(b.end);
      else if (b.minutesDuration !== undefined) end = start + b.minutesDuration * 60_000;
      if (end !== undefined && !Number.isFinite(end)) throw badRequest('end must be an instant after start (or minutesDuration a positive whole number)');
      const audio = (b.serviceType ?? []).some((s) => typeof s.text === 'string' && /audio|phone|telephone/i.test(s.text));
      const a = await deps.appointments.create(ctx.principal, {
        patientId: patients[0],
        practitionerId: practitioners[0],
        start,
        end,
        mode: audio ? 'audio' : 'video',
        description: b.description ?? null,
        status: b.status ?? 'booked',
      });
      await syncVersions(a.id);
      return appointmentResource(a);
    },

    syncVersions,

    /**
     * FHIR update (R4 §3.1.0.4, If-Match): what the REST API can change (reschedule, cancel) and the
     * description, through the appointments service's own checks (`prepareChange`: who may, the clinician's
     * calendar, the patient's open slots), audited as there. One update is one version.
     */
    async prepareUpdate(ctx, id, body, ifMatch) {
      const internal = fromFhirId(id);
      if (typeof body.id !== 'string' || fromFhirId(body.id) !== internal)
        throw badRequest(`the body's Appointment.id must be the id in the URL, ${id} (R4 §3.1.0.4.1)`);
      const current = await deps.appointments.get(ctx.principal, internal);
      ifMatchCheck(`Appointment/${id}`, ifMatch, current.version);
      const change = appointmentChange(body, appointmentResource(current));
      const prepared = await deps.appointments.prepareChange(ctx.principal, internal, { ...change, via: 'fhir' });
      const inTransaction = async (tx: Queryable) => {
        const entries: AuditEntry[] = [];
        if (!(await prepared.apply(tx, (e) => entries.push(e), current.version)))
          throw new AppError('PRECONDITION_FAILED', `Appointment/${id} changed meanwhile (it is no longer at version ${current.version}): read it again`);
        await deps.audit.recordIn(tx, entries);
        return async (): Promise<Resource> => {
          await syncVersions(internal);
          return appointmentResource((await deps.repo.byId(internal))!);
        };
      };
      return { inTransaction, commit: async () => (await deps.audit.change((tx) => inTransaction(tx)))() };
    },
  };

  const encounter: ResourceProvider = {
    type: 'Encounter',
    interactions: ['read', 'search-type'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: 'patient', type: 'reference', documentation: 'The patient (Patient/{id})' },
        { name: 'subject', type: 'reference', modifiers: ['Patient'], documentation: 'The patient (Patient/{id})' },
        { name: 'appointment', type: 'reference', documentation: 'The appointment the visit was booked as' },
        { name: 'date', type: 'date', documentation: 'The visit period (all prefixes)' },
        { name: 'status', type: 'token', documentation: 'in-progress or finished' },
      ],
    },
    async read(ctx, id) {
      const e = await deps.repo.encounter(fromFhirId(id));
      if (!e || !(await access.canSeePatient(ctx.principal, e.patientId))) throw notFound(`Encounter/${id}`);
      await deps.audit.record({ actor: ctx.principal, action: 'fhir.read', entityType: 'Encounter', entityId: e.id, patientId: e.patientId });
      return encounterResource(e, deps.now());
    },
    async searchType(ctx, req) {
      const patients = await visiblePatients(ctx.principal, req, ['patient', 'subject']);
      const where = (sql: SqlParams): string[] | null => {
        if (patients !== null && patients.length === 0) return null;
        const w: string[] = [];
        if (patients) w.push(`patient_id = ANY(${sql.p(patients)}::text[])`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, 'appointment')) w.push(`appointment_id = ANY(${sql.p(referenceIds(p, 'Appointment'))}::text[])`);
        for (const p of paramsNamed(req, 'date'))
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, 'date'), 'started_at', 'COALESCE(ended_at, started_at)', sql)).join(' OR ') + ')');
        for (const codes of tokens(req, 'status')) w.push(`status = ANY(${sql.p(codes)}::text[])`);
        return w;
      };
      const r = await tableSearch<{ id: string }, string>(deps.db, req, { from: 'encounters', columns: 'id', where, map: (row) => row.id });
      const rows = (await Promise.all(r.resources.map((id) => deps.repo.encounter(id)))).filter((e): e is Encounter => !!e);
      for (const patientId of new Set(rows.map((e) => e.patientId)))
        await deps.audit.record({
          actor: ctx.principal,
          action: 'fhir.search',
          entityType: 'Encounter',
          patientId,
          details: { count: rows.filter((e) => e.patientId === patientId).length },
        });
      return { resources: rows.map((e) => encounterResource(e, deps.now())), total: r.total, next: r.next };
    },
  };

  /** The slot window a search asks for: its `start` bounds, by default the next 14 days (at most 31). */
  function window(req: SearchRequest): { from: number; to: number } {
    let from: number | undefined;
    let to: number | undefined;
    for (const p of paramsNamed(req, 'start')) {
      if (p.values.length > 1) throw badRequest('Slot search: start takes one value per parameter (repeat it for a range)');
      const v = parseDateValue(p.values[0], 'start');
      if (['eq', 'ge', 'gt', 'sa', 'ap'].includes(v.prefix)) from = Math.max(from ?? -Infinity, v.prefix === 'gt' || v.prefix === 'sa' ? v.end : v.start);
      if (['eq', 'le', 'lt', 'eb', 'ap'].includes(v.prefix))
        to = Math.min(to ?? Infinity, v.prefix === 'le' || v.prefix === 'eq' || v.prefix === 'ap' ? v.end : v.start);
      if (v.prefix === 'ne') throw badRequest('Slot search: start:ne is not supported (use ge/gt/le/lt/eq)');
    }
    const f = from ?? deps.now();
    return { from: f, to: to ?? f + 14 * 86_400_000 };
  }

  async function schedules(p: Principal): Promise<Resource[]> {
    const from = deps.now();
    const slots = await deps.appointments.slots(p, { from, to: from + 31 * 86_400_000 - 1 });
    const practitioners = [...new Map(slots.map((s) => [s.practitionerId, s])).values()];
    return practitioners.map((s) =>
      withComputedMeta(
        {
          resourceType: 'Schedule',
          id: scheduleId(s.practitionerId),
          active: true,
          actor: [{ reference: `Practitioner/${toFhirId(s.practitionerId)}`, display: s.practitionerName }],
        },
        s.scheduleUpdated,
      ),
    );
  }

  const schedule: ResourceProvider = {
    type: 'Schedule',
    interactions: ['read', 'search-type'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id (sch-{practitioner})' },
        { name: 'actor', type: 'reference', modifiers: ['Practitioner'], documentation: 'The practitioner whose availability it is' },
      ],
    },
    async read(ctx, id) {
      const found = (await schedules(ctx.principal)).find((s) => s.id === id);
      if (!found) throw notFound(`Schedule/${id}`);
      return found;
    },
    async searchType(ctx, req) {
      let all = await schedules(ctx.principal);
      for (const p of paramsNamed(req, '_id')) all = all.filter((s) => p.values.includes(s.id));
      for (const p of paramsNamed(req, 'actor')) {
        const ids = referenceIds(p, 'Practitioner').map((x) => `Practitioner/${toFhirId(x)}`);
        all = all.filter((s) => ids.includes((s.actor as Array<{ reference: string }>)[0].reference));
      }
      return pageOf(all, req);
    },
  };

  const slot: ResourceProvider = {
    type: 'Slot',
    interactions: ['search-type'],
    search: {
      params: [
        { name: 'schedule', type: 'reference', documentation: 'Schedule/sch-{practitioner}' },
        { name: 'start', type: 'date', documentation: 'Slot start; ge/gt/le/lt/eq bound the window (default the next 14 days, at most 31)' },
        { name: 'status', type: 'token', documentation: 'free or busy' },
      ],
    },
    async read(_ctx, id) {
      throw notFound(`Slot/${id}`);
    },
    async searchType(ctx, req) {
      const { from, to } = window(req);
      const practitionerIds = paramsNamed(req, 'schedule').map((p) =>
        p.values.map((v) => practitionerOfSchedule(referenceId(v, 'Schedule') ?? '')).filter((x): x is string => !!x),
      );
      if (practitionerIds.length > 1) throw badRequest('Slot search: give schedule once (comma for OR)');
      let slots: Slot[] = [];
      const wanted = practitionerIds[0];
      if (!wanted) slots = await deps.appointments.slots(ctx.principal, { from, to });
      else for (const practitionerId of wanted) slots.push(...(await deps.appointments.slots(ctx.principal, { from, to, practitionerId })));
      for (const codes of tokens(req, 'status')) slots = slots.filter((s) => codes.includes(s.status));
      slots = slots.filter((s) => s.start >= from && s.start < to).sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
      return pageOf(slots.map(slotResource), req);
    },
  };

  return { appointment, encounter, schedule, slot };
}
