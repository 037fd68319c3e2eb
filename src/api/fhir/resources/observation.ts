import type { AccessPolicy } from '../../../auth/access.ts';
import type { AuditService } from '../../../audit/audit.service.ts';
import { AppError, badRequest, notFound } from '../../../platform/errors.ts';
import type { NewReading } from '../../../store/readings.repository.ts';
import type { StoredReading } from '../../../domain/types.ts';
import { DERIVED_CODES, readingTimeProblem } from '../../../domain/codes.ts';
import type { DevicesRepository } from '../../../store/devices.repository.ts';
import { toFhirId } from '../ids.ts';
import type { VersionStore } from '../versions.ts';
import type { Clock } from '../../../platform/clock.ts';
import type { Queryable } from '../../../platform/db.ts';
import { observationCreateProblem, observationToReadings } from './observation-input.ts';
import { observationId, observationResource, parseObservationId, type Resource } from '../mapping.ts';
import type { FhirContext, ResourceProvider } from '../registry.ts';
import { decodeCursor, encodeCursor } from '../search/cursor.ts';
import { parseDateValue } from '../search/date.ts';
import { paramsNamed, parseToken, type SearchRequest } from '../search/params.ts';
import { narrowPatients, referenceIds } from '../search/reference.ts';
import { KINDS, kindsForCategory, kindsForCode, type ObservationKind } from './observation-kinds.ts';
import type { Cursor, ObservationFilter, ObservationRow, ObservationStore, Sort } from './observation.store.ts';

const isCursor = (v: unknown): v is Cursor & { o: string } => {
  const c = v as Record<string, unknown>;
  return (
    !!c &&
    typeof c.s === 'string' &&
    /^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(c.s) &&
    ['b', 'e', 'r'].includes(c.k as string) &&
    typeof c.n === 'string' &&
    /^\d{1,18}$/.test(c.n) &&
    typeof c.o === 'string'
  );
};

/** Observation: readings, blood-pressure panels, ECG chunks and derived results, read and searched as one. */
export function observationProvider(deps: {
  access: AccessPolicy;
  audit: AuditService;
  store: ObservationStore;
  /** For `_include=Observation:patient` / `:device`: resources by internal id, already access-checked by scope. */
  include: { patients(ids: string[]): Promise<Resource[]>; devices(ids: string[]): Promise<Resource[]> };
  /** FHIR create: the ingest path's durable batch (ingest.storeDerived), which emits readings.stored for alerts and NEWS2. */
  write?: {
    storeReadings(rows: NewReading[]): Promise<StoredReading[]>;
    /** The same inside a transaction Bundle's database transaction (ingest.storeIn); `committed()` after COMMIT. */
    storeIn(tx: Queryable, rows: NewReading[]): Promise<{ readings: StoredReading[]; committed(): void }>;
    devices: DevicesRepository;
    versions: VersionStore;
    clock: Clock;
  };
}): ResourceProvider {
  const write = deps.write;
  /**
   * Rows to resources, with what derived results were computed from (`derivedFrom`): an ECG heart rate its
   * ECG chunk, an AF episode the chunk it begins in, a NEWS2 score its five measured inputs. (A CGM day's
   * time in range comes from every glucose reading of that local day, a few hundred: not listed; its `date`
   * and the `code=2339-0` search of that day give them.)
   */
  async function hydrate(rows: ObservationRow[]): Promise<Resource[]> {
    // Measurements only (no ECG chunk, no derived result; most pages): nothing to look up.
    if (!rows.some((r) => r.k === 'e' || r.method)) return rows.map((r) => observationResource(r));
    const derived = (code: string) => rows.filter((r) => r.k === 'r' && r.method && r.code === code);
    const ecgHr = derived(DERIVED_CODES.ecgHeartRate.code).filter((r) => r.deviceId);
    const af = derived(DERIVED_CODES.afEpisode.code).filter((r) => r.deviceId);
    const news2 = derived(DERIVED_CODES.news2.code);
    const [chunks, sources, onsets, inputs] = await Promise.all([
      deps.store.ecgChunks(rows.filter((r) => r.k === 'e').map((r) => r.n)),
      deps.store.sourceChunks(ecgHr.map((r) => ({ deviceId: r.deviceId!, ts: r.ts }))),
      deps.store.onsetChunks(af.map((r) => ({ n: r.n, patientId: r.patientId, deviceId: r.deviceId!, ts: r.ts }))),
      deps.store.news2Inputs(news2.map((r) => ({ n: r.n, patientId: r.patientId, ts: r.ts, lastUpdated: r.lastUpdated }))),
    ]);
    const derivedFrom = (r: ObservationRow): string[] | undefined => {
      if (r.k !== 'r' || !r.method) return undefined;
      if (r.code === DERIVED_CODES.news2.code) return inputs.get(r.n);
      const chunk = r.code === DERIVED_CODES.afEpisode.code ? onsets.get(r.n) : sources.get(`${r.deviceId}|${r.ts}`);
      return chunk ? [observationId('e', chunk)] : undefined;
    };
    return rows.map((r) => observationResource(r, { ecg: r.k === 'e' ? chunks.get(r.n) : undefined, derivedFrom: derivedFrom(r) }));
  }

  async function filterFor(ctx: FhirContext, req: SearchRequest): Promise<ObservationFilter> {
    const visible = await deps.access.visiblePatientIds(ctx.principal);
    const patientRefs = [...paramsNamed(req, 'patient'), ...paramsNamed(req, 'subject')].map((p) => referenceIds(p, 'Patient'));
    const f: ObservationFilter = { patientIds: narrowPatients(visible, patientRefs) };
    let kinds: ObservationKind[] | undefined;
    const narrow = (k: ObservationKind[]) => (kinds = kinds === undefined ? k : kinds.filter((x) => k.includes(x)));
    for (const p of paramsNamed(req, 'code')) narrow([...new Set(p.values.flatMap((v) => kindsForCode(p.modifier === 'text' ? { text: v } : parseToken(v))))]);
    for (const p of paramsNamed(req, 'category')) narrow([...new Set(p.values.flatMap((v) => kindsForCategory(parseToken(v))))]);
    if (kinds) f.kinds = kinds;
    const ids = paramsNamed(req, '_id').map((p) => p.values.map(parseObservationId).filter((x): x is NonNullable<typeof x> => x !== null));
    if (ids.length) f.ids = ids.map((alternatives) => alternatives.map((a) => ({ branch: a.branch, n: a.n })));
    const devices = paramsNamed(req, 'device').map((p) => referenceIds(p, 'Device'));
    if (devices.length) f.deviceIds = devices;
    const dates = paramsNamed(req, 'date').map((p) => p.values.map((v) => parseDateValue(v, 'date')));
    if (dates.length) f.dates = dates;
    const updated = paramsNamed(req, '_lastUpdated').map((p) => p.values.map((v) => parseDateValue(v, '_lastUpdated')));
    if (updated.length) f.lastUpdated = updated;
    for (const p of paramsNamed(req, 'status')) {
      // Everything Vigil stores is final (devices send results, analysis writes results).
      if (
        !p.values.some((v) => {
          const t = parseToken(v);
          return t.code === 'final' && (t.system === undefined || t.system === 'http://hl7.org/fhir/observation-status');
        })
      )
        f.none = true;
    }
    return f;
  }

  return {
    type: 'Observation',
    supportedProfiles: [...new Set(KINDS.flatMap((k) => (k.profile ? [k.profile] : [])))],
    interactions: ['read', 'vread', 'search-type', 'history-instance', ...(write ? (['create'] as const) : [])],
    notSupported: { update: 'a stored measurement is immutable (what alerts and NEWS2 were computed from); post a new Observation instead' },
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: '_lastUpdated', type: 'date', documentation: 'When the server stored it (all prefixes); finds late-arriving readings' },
        { name: 'patient', type: 'reference', documentation: 'Patient/{id} or {id}; comma for OR' },
        { name: 'subject', type: 'reference', modifiers: ['Patient'], documentation: 'Patient/{id} or {id}; :Patient type modifier; comma for OR' },
        {
          name: 'code',
          type: 'token',
          modifiers: ['text'],
          documentation: 'system|code, |code, code or system|; :text matches the display (case-insensitive substring)',
        },
        { name: 'category', type: 'token', documentation: 'vital-signs, laboratory, activity, survey, procedure (observation-category system)' },
        { name: 'date', type: 'date', documentation: 'effective[x]; prefixes eq ne gt lt ge le sa eb ap; a period (ECG) is compared as a range' },
        { name: 'device', type: 'reference', modifiers: ['Device'], documentation: 'Device/{id} or {id}; comma for OR' },
        { name: 'status', type: 'token', documentation: 'All stored Observations are final' },
      ],
      sorts: ['date', '_lastUpdated'],
      includes: ['Observation:patient', 'Observation:subject', 'Observation:device'],
    },

    operations: {
      // Observation $lastn (R4 observation-lastn): the most recent `max` Observations of each code, per patient.
      $lastn: {
        search: {
          params: [
            { name: 'max', type: 'number', documentation: 'How many of each code (default 1, at most 100)' },
            { name: 'patient', type: 'reference', documentation: 'Patient/{id}; comma for OR' },
            { name: 'subject', type: 'reference', modifiers: ['Patient'], documentation: 'Patient/{id}' },
            { name: 'category', type: 'token', documentation: 'e.g. vital-signs' },
            { name: 'code', type: 'token', modifiers: ['text'], documentation: 'system|code' },
            { name: 'date', type: 'date', documentation: 'effective[x], all prefixes' },
          ],
        },
        async run(ctx, req) {
          const maxParam = paramsNamed(req, 'max').at(-1)?.values[0];
          const max = maxParam === undefined ? 1 : Number(maxParam);
          if (!Number.isInteger(max) || max < 1 || max > 100) throw badRequest(`max must be an integer from 1 to 100 (got "${maxParam}")`);
          const base = await filterFor(ctx, { ...req, params: req.params.filter((p) => p.name !== 'max') });
          const patients = base.patientIds ?? (await deps.store.patientsWithObservations());
          if (patients.length > 100) throw badRequest('$lastn covers at most 100 patients at once: give patient=…');
          const rows: ObservationRow[] = [];
          for (const patientId of patients) {
            for (const kind of base.kinds ?? KINDS) {
              rows.push(...(await deps.store.page({ ...base, patientIds: [patientId], kinds: [kind] }, { key: 'date', desc: true }, max)));
            }
          }
          const resources = await hydrate(rows);
          return { resources, total: resources.length };
        },
      },
    },

    async read(ctx, id) {
      const parsed = parseObservationId(id);
      const visible = await deps.access.visiblePatientIds(ctx.principal);
      const rows = parsed ? await deps.store.page({ patientIds: visible, ids: [[parsed]] }, { key: 'date', desc: false }, 1) : [];
      if (!rows.length) throw notFound(`Observation/${id}`);
      // Reads are audited in the batched path (audit.recordSoon: written within 250 ms, flushed on shutdown), off the request's critical path.
      deps.audit.recordSoon({ actor: ctx.principal, action: 'fhir.read', entityType: 'Observation', entityId: id, patientId: rows[0].patientId });
      return (await hydrate(rows))[0];
    },

    /**
     * FHIR create: a device, an EHR or a clinician posts a measurement (vital signs, glucose, weight, steps; a
     * BP panel with its two components). It is stored through the ingest path, so alerts and NEWS2 see it as
     * they see a device's; who posted it is kept with its version (provenance) and in the audit log.
     */
    async prepareCreate(ctx, body, opts) {
      if (!write) throw new AppError('FORBIDDEN', 'Observation create is not enabled here');
      const problem = observationCreateProblem(body, ctx.baseUrl);
      if (problem) throw new AppError('PAYLOAD_REJECTED', `Observation: ${problem}`);
      const parsed = observationToReadings(body, 0);
      if (typeof parsed === 'string') throw new AppError('PAYLOAD_REJECTED', `Observation: ${parsed}`);
      const patientId = parsed[0].patient;
      // A patient created earlier in the same transaction Bundle is not in the database yet: its creator (staff,
      // checked by Patient's create) manages it. Any other patient is checked by the access policy.
      const pendingPatient = opts?.pending?.has(`Patient/${toFhirId(patientId)}`) ?? false;
      if (!pendingPatient) await deps.access.assertCanManagePatient(ctx.principal, patientId);
      const deviceId = parsed[0].device ?? null;
      if (deviceId) {
        const d = pendingPatient ? null : await write.devices.byId(deviceId);
        if (!d || d.patientId !== patientId)
          throw new AppError('PAYLOAD_REJECTED', `Observation.device: Device/${toFhirId(deviceId)} is not a device of this patient`);
      }
      // A clock a few minutes fast is tolerated; a reading from the future is not (it would sort above all others).
      const late = readingTimeProblem(parsed[0].ts, write.clock.now());
      if (late) throw new AppError('PAYLOAD_REJECTED', `Observation.effective[x]: ${late}`);
      const rows = parsed.map((r) => ({ patientId, deviceId, code: r.code, value: r.value, unit: r.unit, ts: r.ts, seq: null }));
      const branch = parsed.length === 2 ? ('b' as const) : ('r' as const);
      /** After the readings are durable: the resource as served, its version copy (who posted it: provenance). */
      const finish = async (firstReadingId: string) => {
        const stored = await deps.store.page({ patientIds: [patientId], ids: [[{ branch, n: firstReadingId }]] }, { key: 'date', desc: false }, 1);
        const r = (await hydrate(stored))[0];
        await write.versions.record({ type: 'Observation', id: r.id, patientId, method: 'POST', actorUserId: ctx.principal.userId, resource: r });
        return r;
      };
      const audit = (id: string) => ({
        actor: ctx.principal,
        action: 'fhir.create',
        entityType: 'Observation',
        entityId: id,
        patientId,
        details: { code: parsed.map((x) => x.code) },
      });
      return {
        // [audit] alone too, the readings and their fhir.create entry commit together ((d)(2)); as in a Bundle.
        async commit() {
          return (await deps.audit.change((tx) => inTransaction(tx)))();
        },
        inTransaction,
      };
      async function inTransaction(tx: Queryable) {
        const { readings, committed } = await write!.storeIn(tx, rows);
        await deps.audit.recordIn(tx, audit(observationId(branch, readings[0].id)));
        return async () => {
          committed();
          return finish(readings[0].id);
        };
      }
    },

    async searchType(ctx, req) {
      const f = await filterFor(ctx, req);
      const sort: Sort = { key: (req.sort?.key as Sort['key']) ?? 'date', desc: req.sort?.desc ?? false };
      const order = `${sort.desc ? '-' : ''}${sort.key}`;
      const cursor = decodeCursor(req.cursor, isCursor);
      if (cursor && cursor.o !== order) throw badRequest(`_cursor was issued for _sort=${cursor.o}, not ${order}`);
      // [audit] The read entry is started once the query is sent (its statement written first: the entry's
      // commit has time to spare beside it, bench:fhir), and commits while the query runs (F11: before the answer).
      if (req.summary === 'count') {
        const counting = deps.store.count(f);
        ctx.readAuthorised?.();
        return { resources: [], total: await counting };
      }
      const querying: Promise<{ rows: ObservationRow[]; total?: number }> =
        req.total === 'none'
          ? deps.store.page(f, sort, req.count + 1, cursor).then((rows) => ({ rows }))
          : deps.store.pageAndCount(f, sort, req.count + 1, cursor);
      ctx.readAuthorised?.();
      const { rows, total } = await querying;
      const page = rows.slice(0, req.count);
      const last = page.at(-1);
      const next = rows.length > req.count && last ? encodeCursor({ s: last.sortKey, k: last.k, n: last.n, o: order }) : undefined;
      const resources = await hydrate(page);
      const patients = [...new Set(page.map((r) => r.patientId))];
      // One entry per patient whose readings this page disclosed, so each patient's own audit view shows it,
      // however the search named them (or did not: a clinician's search over the care team).
      for (const patientId of patients)
        deps.audit.recordSoon({
          actor: ctx.principal,
          action: 'fhir.search',
          entityType: 'Observation',
          patientId,
          details: { count: page.reduce((n, r) => n + (r.patientId === patientId ? 1 : 0), 0) },
        });
      const included: Resource[] = [];
      if (req.includes.some((i) => i === 'Observation:patient' || i === 'Observation:subject')) included.push(...(await deps.include.patients(patients)));
      if (req.includes.includes('Observation:device'))
        included.push(...(await deps.include.devices([...new Set(page.flatMap((r) => (r.deviceId ? [r.deviceId] : [])))])));
      return { resources, total, next, included };
    },
  };
}
