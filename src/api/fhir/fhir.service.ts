import { AppError, badRequest, notFound } from '../../platform/errors.ts';
import type { VersionStore } from './versions.ts';
import { systemClock, type Clock } from '../../platform/clock.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { Resource } from './mapping.ts';
import { fromFhirId } from './ids.ts';
import { patientsOf } from './patients-of.ts';
import type { PatientsRepository } from '../../store/patients.repository.ts';
import { EVERYTHING_SPEC, patientEverything } from './resources/everything.ts';
import type { CreateOptions, FhirContext, FhirRegistry, Interaction, PreparedWrite, ResourceProvider, SearchResult } from './registry.ts';
import type { Interaction as ScopeInteraction } from '../../auth/smart-scopes.ts';
import type { Db } from '../../platform/db.ts';
import { createBundleRunner, nonEmpty, type Query } from './bundle.ts';
import { parseForm } from './form-body.ts';
import { countOnly, parseSearch, type SearchRequest } from './search/params.ts';
import { applyElements, applySummary, SUMMARY_ELEMENTS } from './search/subsetting.ts';

/** Search result parameters (R4 §3.1.1.5, plus Vigil's paging cursor): they shape an answer, they select nothing. */
const RESULT_PARAMETERS = new Set([
  '_summary',
  '_count',
  '_sort',
  '_elements',
  '_include',
  '_revinclude',
  '_total',
  '_cursor',
  '_format',
  '_contained',
  '_containedType',
  '_offset',
  '_pretty',
]);

export type { Query };

const REVINCLUDE_MAX = 1000;

/** `W/"3"`, `"3"` or `3` → 3 (RFC 9110 §8.8.3 entity tag carrying the versionId, R4 §3.1.0.4.2). */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!m) throw badRequest(`If-Match must be an ETag such as W/"3" (got ${JSON.stringify(header.slice(0, 40))})`);
  return Number(m[1]);
}

function asResource(body: unknown, type: string): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the body must be a ${type} resource (JSON object)`);
  const r = { ...(body as Record<string, unknown>) };
  if (r.resourceType !== type) throw badRequest(`the body is a ${JSON.stringify(r.resourceType ?? null)}, not a ${type}`);
  return r;
}

function toStatus(err: unknown): { status: number; message: string } {
  if (err instanceof NotSupported) return { status: err.status, message: err.message };
  if (err instanceof AppError) return { status: err.status, message: err.message };
  throw err;
}

/** An interaction the server (or this type) does not do: 405 or 501 with issue code not-supported, never a 404. */
export class NotSupported extends Error {
  constructor(
    readonly status: 404 | 405 | 501,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The FHIR R4 API with no HTTP in it: (context, type, params) → resource or Bundle. Types come from the
 * registry; access decisions are the providers' (through the one access policy).
 */

export function createFhirService(deps: {
  registry: FhirRegistry;
  db?: Db;
  version: string;
  access?: AccessPolicy;
  patients?: PatientsRepository;
  versions?: VersionStore;
  security?: () => Record<string, unknown>;
  clock?: Clock;
  /** Records which patients a read or search disclosed (audit.recordSoon). */
  disclosed?: (entry: { actor: FhirContext['principal']; action: string; entityType: string; patientId: string; details: Record<string, unknown> }) => void;
}) {
  const clock = deps.clock ?? systemClock;
  /**
   * One audit entry per patient whose data a FHIR answer carried (ONC §170.315(d)(2); the patient's own
   * AuditEvent view): the request's own entry names at most the patient its query named, and a search by
   * _id, name, device or a list of patients named none (found by review). Observation and a Patient read
   * record their own, finer entries; AuditEvent is the log itself.
   */
  function recordDisclosure(ctx: FhirContext, action: string, type: string, resources: Resource[]) {
    if (!deps.disclosed || type === 'AuditEvent') return;
    const counts = new Map<string, number>();
    for (const r of resources) {
      if (r.resourceType === 'Observation' || r.resourceType === 'AuditEvent') continue;
      for (const id of patientsOf(r)) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const [patientId, count] of counts) deps.disclosed({ actor: ctx.principal, action, entityType: type, patientId, details: { count } });
  }
  function provider(type: string): ResourceProvider {
    const p = deps.registry.get(type);
    if (!p)
      throw new NotSupported(
        404,
        `resource type "${type}" is not supported here (supported: ${deps.registry
          .all()
          .map((x) => x.type)
          .join(', ')})`,
      );
    return p;
  }
  function requireInteraction(p: ResourceProvider, i: Interaction, what: string) {
    if (!p.interactions.includes(i))
      throw new NotSupported(
        405,
        `${what} is not supported for ${p.type}${p.notSupported?.[i] ? `: ${p.notSupported[i]}` : ''} (supported: ${p.interactions.join(', ')})`,
      );
  }

  /** A write's answer: the resource, and whether it was created (201) or found by If-None-Exist / updated (200). */
  type Written = { status: 200 | 201; resource: Resource };

  async function prepareCreate(
    ctx: FhirContext,
    type: string,
    body: unknown,
    ifNoneExist?: string,
    opts?: CreateOptions,
  ): Promise<{ existing?: Resource; write?: PreparedWrite }> {
    const p = provider(type);
    requireInteraction(p, 'create', 'create');
    scoped(ctx, type, 'create');
    const resource = asResource(body, type);
    if (resource.id !== undefined) delete resource.id; // R4 §3.1.0.5: the server assigns the id on create
    if (ifNoneExist !== undefined) {
      // Conditional create (R4 §3.1.0.8.1): the search, under strict handling (an unknown parameter must not match everything).
      const query = parseForm(ifNoneExist.replace(/^.*\?/, ''));
      if (!Object.keys(query).length) throw badRequest('If-None-Exist needs search parameters, e.g. identifier=urn:vigil:mrn|123');
      // Criteria only: a result parameter would change what "a match" means (with _summary=count no resource
      // comes back, so a match would go unseen and a duplicate be created).
      const shaping = Object.keys(query).filter((k) => RESULT_PARAMETERS.has(k.split(':')[0]));
      if (shaping.length) throw badRequest(`If-None-Exist takes search criteria only: ${shaping.join(', ')} shapes a result and cannot be used there`);
      const found = await p.searchType(ctx, { ...parseSearch(type, query, p.search, true, ctx.baseUrl), count: 2, total: 'none' });
      if (found.resources.length > 1)
        throw new AppError('PRECONDITION_FAILED', `If-None-Exist matched ${found.resources.length}+ ${type} resources: make the criteria selective`);
      if (found.resources.length === 1) return { existing: found.resources[0] };
    }
    if (p.prepareCreate) return { write: await p.prepareCreate(ctx, resource, opts) };
    if (p.create) return { write: { commit: () => p.create!(ctx, resource) } };
    throw new NotSupported(405, `create is not supported for ${type}`);
  }

  async function prepareUpdate(ctx: FhirContext, type: string, id: string, body: unknown, ifMatch?: string): Promise<PreparedWrite> {
    const p = provider(type);
    requireInteraction(p, 'update', 'update');
    scoped(ctx, type, 'update');
    return p.prepareUpdate!(ctx, id, asResource(body, type), parseIfMatch(ifMatch));
  }

  /**
   * `_revinclude=Observation:patient` (R4 §3.1.1.5.5): the resources of another type that point at this page,
   * found with that type's own search (so its access scoping and the app's SMART scopes apply), at most
   * REVINCLUDE_MAX in all.
   */
  async function revinclude(ctx: FhirContext, type: string, page: Resource[], specs: string[]) {
    const out: Resource[] = [];
    let truncated = false;
    if (!page.length) return { resources: out, truncated };
    for (const spec of specs) {
      const [source, param] = spec.split(':');
      const p = provider(source);
      scoped(ctx, source, 'search');
      let cursor: string | undefined;
      do {
        const query: Query = { [param]: page.map((r) => `${type}/${r.id}`).join(','), _count: '500', _total: 'none', ...(cursor ? { _cursor: cursor } : {}) };
        const found = await p.searchType(ctx, parseSearch(source, query, p.search, true, ctx.baseUrl));
        out.push(...found.resources);
        cursor = found.next;
        if (out.length >= REVINCLUDE_MAX) {
          truncated = !!cursor || out.length > REVINCLUDE_MAX;
          out.length = Math.min(out.length, REVINCLUDE_MAX);
          return { resources: out, truncated };
        }
      } while (cursor);
    }
    return { resources: out, truncated };
  }

  /** The types `_include=Source:param` brings in: the reference parameter's type modifiers, else the type it names (patient → Patient). */
  function includeTargets(p: ResourceProvider, spec: string): string[] {
    const param = spec.split(':')[1] ?? '';
    const def = p.search.params.find((d) => d.name === param);
    if (def?.modifiers?.length) return def.modifiers;
    const named = param.charAt(0).toUpperCase() + param.slice(1);
    return deps.registry.get(named) ? [named] : [];
  }

  /** A SMART app's token must carry a scope for this (type, interaction); the access policy decides. */
  const scoped = (ctx: FhirContext, type: string, i: ScopeInteraction) => deps.access?.assertScope(ctx.principal, type, i);

  function searchBundle(ctx: FhirContext, p: ResourceProvider, req: SearchRequest, result: SearchResult) {
    const type = p.type;
    const link = (extra?: Record<string, string>) => {
      const q = new URLSearchParams(req.applied);
      for (const [k, v] of Object.entries(extra ?? {})) q.set(k, v);
      const s = q.toString();
      return `${ctx.baseUrl}/${type}${s ? '?' + s : ''}`;
    };
    const shape = (r: Resource) => (req.elements ? applyElements(r, req.elements) : req.summary ? applySummary(r, req.summary) : r);
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      ...(result.total !== undefined ? { total: result.total } : {}),
      link: [{ relation: 'self', url: link() }, ...(result.next ? [{ relation: 'next', url: link({ _cursor: result.next, _count: String(req.count) }) }] : [])],
      ...nonEmpty('entry', [
        ...result.resources.map((r) => ({ fullUrl: `${ctx.baseUrl}/${r.resourceType}/${r.id}`, resource: shape(r), search: { mode: 'match' } })),
        ...(result.included ?? []).map((r) => ({ fullUrl: `${ctx.baseUrl}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'include' } })),
        ...(req.ignored.length
          ? [
              {
                resource: {
                  resourceType: 'OperationOutcome',
                  issue: req.ignored.map((why) => ({ severity: 'warning', code: 'not-supported', diagnostics: `ignored: ${why}` })),
                },
                search: { mode: 'outcome' },
              },
            ]
          : []),
      ]),
    };
  }

  const bundles = createBundleRunner({
    db: deps.db,
    provider,
    prepareCreate,
    prepareUpdate,
    read: (ctx, type, id) => service.read(ctx, type, id),
    search: (ctx, type, query, strict) => service.search(ctx, type, query, strict),
    operation: (ctx, type, op, query, strict) => service.operation(ctx, type, op, query, strict),
    async find(ctx, type, query, count) {
      const p = provider(type);
      requireInteraction(p, 'search-type', 'search');
      scoped(ctx, type, 'search');
      return (await p.searchType(ctx, { ...parseSearch(type, query, p.search, true, ctx.baseUrl), count, total: 'none' })).resources;
    },
    toStatus,
  });

  const service = {
    async read(ctx: FhirContext, type: string, id: string) {
      const p = provider(type);
      requireInteraction(p, 'read', 'read');
      scoped(ctx, type, 'read');
      const r = await p.read(ctx, id);
      if (type !== 'Patient') recordDisclosure(ctx, 'fhir.read', type, [r]);
      return r;
    },

    /** vread: the current version from the record, earlier ones from the stored versions (versions.ts). */
    async vread(ctx: FhirContext, type: string, id: string, version: string) {
      const p = provider(type);
      requireInteraction(p, 'vread', 'vread');
      scoped(ctx, type, 'read');
      const r = await p.read(ctx, id); // the access check, and the current version
      if (r.meta?.versionId === version) return r;
      await p.syncVersions?.(fromFhirId(id));
      const n = /^\d{1,9}$/.test(version) ? Number(version) : NaN;
      const stored = Number.isFinite(n) && deps.versions ? await deps.versions.get(type, fromFhirId(id), n) : null;
      if (!stored) throw notFound(`${type}/${id}/_history/${version}`);
      return stored.resource;
    },

    /** history-instance (R4 §3.1.0.7): every stored version, newest first; a record never written through FHIR has one. */
    async history(ctx: FhirContext, type: string, id: string) {
      const p = provider(type);
      requireInteraction(p, 'history-instance', 'history');
      scoped(ctx, type, 'read');
      const current = await p.read(ctx, id);
      await p.syncVersions?.(fromFhirId(id));
      const stored = deps.versions ? await deps.versions.list(type, fromFhirId(id)) : [];
      const versions = stored.length ? stored.map((v) => v.resource) : [current];
      if (stored.length && stored[0].resource.meta?.versionId !== current.meta?.versionId) versions.unshift(current);
      return {
        resourceType: 'Bundle',
        type: 'history',
        total: versions.length,
        link: [{ relation: 'self', url: `${ctx.baseUrl}/${type}/${current.id}/_history` }],
        entry: versions.map((r) => {
          const first = r.meta?.versionId === '1';
          return {
            fullUrl: `${ctx.baseUrl}/${type}/${current.id}`,
            resource: r,
            request: { method: first ? 'POST' : 'PUT', url: first ? type : `${type}/${current.id}` },
            response: { status: first ? '201 Created' : '200 OK', etag: `W/"${r.meta?.versionId ?? '1'}"`, lastModified: r.meta?.lastUpdated },
          };
        }),
      };
    },

    /** create (R4 §3.1.0.5), conditional with If-None-Exist (§3.1.0.8.1): 201, or 200 with the one match. */
    async create(ctx: FhirContext, type: string, body: unknown, ifNoneExist?: string): Promise<Written> {
      const prepared = await prepareCreate(ctx, type, body, ifNoneExist);
      if (prepared.existing) return { status: 200, resource: prepared.existing };
      return { status: 201, resource: await prepared.write!.commit() };
    },

    /** update (R4 §3.1.0.4) with If-Match versioning: 412 when the client's version is no longer current. */
    async update(ctx: FhirContext, type: string, id: string, body: unknown, ifMatch?: string): Promise<Written> {
      return { status: 200, resource: await (await prepareUpdate(ctx, type, id, body, ifMatch)).commit() };
    },

    /** batch / transaction Bundles (bundle.ts). */
    bundle: (ctx: FhirContext, body: unknown, strict = false) => bundles.run(ctx, body, strict),

    async search(ctx: FhirContext, type: string, query: Query, strict: boolean) {
      const p = provider(type);
      requireInteraction(p, 'search-type', 'search');
      scoped(ctx, type, 'search');
      const req = parseSearch(type, query, p.search, strict, ctx.baseUrl);
      if (req.summary === 'true' && !SUMMARY_ELEMENTS[type]) throw badRequest(`_summary=true is not supported for ${type}`);
      // An included resource is read too: a SMART app needs a scope for its type (patient/Observation.rs alone
      // must not bring in the Patient or the Device), checked before the query so the answer never depends on the data.
      if (req.summary !== 'count') for (const spec of req.includes) for (const t of includeTargets(p, spec)) scoped(ctx, t, 'read');
      const result = await p.searchType(ctx, req);
      for (const t of new Set((result.included ?? []).map((r) => r.resourceType))) scoped(ctx, t, 'read');
      if (req.revincludes.length && req.summary !== 'count') {
        const rev = await revinclude(ctx, type, result.resources, req.revincludes);
        result.included = [...(result.included ?? []), ...rev.resources];
        if (rev.truncated) req.ignored.push(`_revinclude stopped at ${REVINCLUDE_MAX} resources; page with a smaller _count`);
      }
      if (type !== 'Observation') recordDisclosure(ctx, 'fhir.search', type, [...result.resources, ...(result.included ?? [])]);
      else recordDisclosure(ctx, 'fhir.search', type, result.included ?? []);
      return searchBundle(ctx, p, req, result);
    },

    /** GET [type]/$op: an operation the type declares, with its parameters checked like a search. */
    async operation(ctx: FhirContext, type: string, op: string, query: Query, strict: boolean) {
      const p = provider(type);
      const o = p.operations?.[op];
      if (!o)
        throw new NotSupported(501, `operation ${type}/${op} is not supported${p.operations ? ` (supported: ${Object.keys(p.operations).join(', ')})` : ''}`);
      scoped(ctx, type, 'search');
      const req = parseSearch(`${type}/${op}`, query, o.search, strict, ctx.baseUrl);
      const found = await o.run(ctx, req);
      // _summary=count and _count=0 (R4 §3.1.1.5.7, §3.1.1.5.4): the total only, no entries, as on a search.
      const result = countOnly(req) ? { resources: [], total: found.total ?? found.resources.length } : found;
      recordDisclosure(ctx, 'fhir.search', type, [...result.resources, ...(result.included ?? [])]);
      return {
        ...searchBundle(ctx, p, req, result),
        link: [{ relation: 'self', url: `${ctx.baseUrl}/${type}/${op}${req.applied.toString() ? '?' + req.applied.toString() : ''}` }],
      };
    },

    /** Bulk export reads every type it writes: a SMART token needs read scopes on all of them. */
    /** The kick-off of $export: search scope on each type it will export (`_type`, or every type it exports by default). */
    assertExportScope(ctx: FhirContext, types: readonly string[] = ['Patient', 'Device', 'Observation']) {
      for (const t of types) scoped(ctx, t, 'search');
    },

    /** GET Patient/{id}/$everything. */
    async everything(ctx: FhirContext, id: string, query: Query, strict: boolean) {
      const p = provider('Patient');
      scoped(ctx, 'Patient', 'read');
      scoped(ctx, 'Observation', 'search');
      const req = parseSearch('Patient/$everything', query, EVERYTHING_SPEC, strict, ctx.baseUrl);
      // _summary=count and _count=0: patientEverything counts, and sends no entries.
      const result = await patientEverything(ctx, deps.registry, deps.patients!, id, req);
      const bundle = searchBundle(ctx, p, req, result);
      const self = `${ctx.baseUrl}/Patient/${id}/$everything`;
      return {
        ...bundle,
        link: [
          { relation: 'self', url: `${self}${req.applied.toString() ? '?' + req.applied : ''}` },
          ...(result.next
            ? [
                {
                  relation: 'next',
                  url: `${self}?${new URLSearchParams({ ...Object.fromEntries(req.applied), _cursor: result.next, _count: String(req.count) })}`,
                },
              ]
            : []),
        ],
      };
    },

    capabilityStatement(baseUrl: string, security?: Record<string, unknown>) {
      return {
        resourceType: 'CapabilityStatement',
        status: 'active',
        date: new Date(clock.now()).toISOString(),
        kind: 'instance',
        software: { name: 'Vigil', version: deps.version },
        implementation: { description: 'Vigil remote patient monitoring', url: baseUrl },
        fhirVersion: '4.0.1',
        instantiates: ['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'],
        format: ['application/fhir+json', 'json'],
        rest: [
          {
            mode: 'server',
            security: security ?? deps.security?.() ?? { description: 'Authorization: Bearer <token> (vigil token create) or a signed-in session' },
            operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' }],
            interaction: [
              { code: 'batch' },
              {
                code: 'transaction',
                documentation:
                  'All or nothing in one database transaction: every entry is checked (parsed, authorised, If-Match, If-None-Exist, references) before any is written; then POST, PUT in one transaction, then GET. urn:uuid references to created Patients are rewritten to their ids; conditional references (Type?search) must match one resource',
              },
            ],
            resource: [
              ...deps.registry.all().map((p) => ({
                type: p.type,
                ...(p.supportedProfiles?.length ? { supportedProfile: p.supportedProfiles } : {}),
                interaction: p.interactions.map((code) => ({ code })),
                ...(p.type === 'Patient'
                  ? {
                      operation: [
                        { name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
                        { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' },
                      ],
                    }
                  : {}),
                ...(p.type === 'Group'
                  ? { operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' }] }
                  : {}),
                ...(p.operations
                  ? {
                      operation: Object.keys(p.operations).map((name) => ({
                        name: name.slice(1),
                        definition: `http://hl7.org/fhir/OperationDefinition/${p.type}-${name.slice(1)}`,
                      })),
                    }
                  : {}),
                versioning: 'versioned',
                readHistory: p.interactions.includes('vread'),
                ...(p.interactions.includes('create') ? { conditionalCreate: true } : {}),
                ...(p.interactions.includes('update') ? { updateCreate: false, conditionalUpdate: false } : {}),
                ...(p.search.includes?.length ? { searchInclude: p.search.includes } : {}),
                ...(p.search.revincludes?.length ? { searchRevInclude: p.search.revincludes } : {}),
                searchParam: [
                  ...p.search.params.map((s) => ({ name: s.name, type: s.type, documentation: s.documentation })),
                  { name: '_count', type: 'number', documentation: `Page size (default 50, at most 1000)` },
                  {
                    name: '_sort',
                    type: 'special',
                    documentation: p.search.sorts?.length ? `One of ${p.search.sorts.flatMap((s) => [s, '-' + s]).join(', ')}` : 'Not supported for this type',
                  },
                  { name: '_summary', type: 'token', documentation: 'true, data, count, false' },
                  { name: '_elements', type: 'special', documentation: 'Top-level elements to return' },
                  { name: '_total', type: 'token', documentation: 'none, estimate, accurate (default accurate)' },
                ],
              })),
            ],
          },
        ],
      };
    },
  };
  return service;
}

export type FhirService = ReturnType<typeof createFhirService>;
