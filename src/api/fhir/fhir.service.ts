import { badRequest, notFound } from '../../platform/errors.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { Resource } from './mapping.ts';
import type { PatientsRepository } from '../../store/patients.repository.ts';
import { EVERYTHING_SPEC, patientEverything } from './resources/everything.ts';
import type { FhirContext, FhirRegistry, Interaction, ResourceProvider, SearchResult } from './registry.ts';
import { parseSearch, type SearchRequest } from './search/params.ts';
import { applyElements, applySummary } from './search/subsetting.ts';

export type Query = Record<string, string | string[] | undefined>;

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
export function createFhirService(deps: { registry: FhirRegistry; version: string; access?: AccessPolicy; patients?: PatientsRepository; security?: () => Record<string, unknown> }) {
  function provider(type: string): ResourceProvider {
    const p = deps.registry.get(type);
    if (!p) throw new NotSupported(404, `resource type "${type}" is not supported here (supported: ${deps.registry.all().map((x) => x.type).join(', ')})`);
    return p;
  }
  function requireInteraction(p: ResourceProvider, i: Interaction, what: string) {
    if (!p.interactions.includes(i)) throw new NotSupported(405, `${what} is not supported for ${p.type} (supported: ${p.interactions.join(', ')})`);
  }
  /** A SMART app's token must carry a scope for this (type, read|search); the access policy decides. */
  const scoped = (ctx: FhirContext, type: string, i: 'read' | 'search') => deps.access?.assertScope(ctx.principal, type, i);

  function searchBundle(ctx: FhirContext, p: ResourceProvider, req: SearchRequest, result: SearchResult) {
    const type = p.type;
    const link = (extra?: Record<string, string>) => {
      const q = new URLSearchParams(req.applied);
      for (const [k, v] of Object.entries(extra ?? {})) q.set(k, v);
      const s = q.toString();
      return `${ctx.baseUrl}/${type}${s ? '?' + s : ''}`;
    };
    const shape = (r: Resource) => (req.elements ? applyElements(r, req.elements) : req.summary ? applySummary(r, req.summary, p.summaryElements) : r);
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      ...(result.total !== undefined ? { total: result.total } : {}),
      link: [{ relation: 'self', url: link() }, ...(result.next ? [{ relation: 'next', url: link({ _cursor: result.next, _count: String(req.count) }) }] : [])],
      entry: [
        ...result.resources.map((r) => ({ fullUrl: `${ctx.baseUrl}/${r.resourceType}/${r.id}`, resource: shape(r), search: { mode: 'match' } })),
        ...(result.included ?? []).map((r) => ({ fullUrl: `${ctx.baseUrl}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'include' } })),
        ...(req.ignored.length
          ? [{ resource: { resourceType: 'OperationOutcome', issue: req.ignored.map((why) => ({ severity: 'warning', code: 'not-supported', diagnostics: `ignored: ${why}` })) }, search: { mode: 'outcome' } }]
          : []),
      ],
    };
  }

  return {
    async read(ctx: FhirContext, type: string, id: string) {
      const p = provider(type);
      requireInteraction(p, 'read', 'read');
      scoped(ctx, type, 'read');
      return p.read(ctx, id);
    },

    /** vread: every resource served is at version 1 (stored records are immutable through FHIR so far). */
    async vread(ctx: FhirContext, type: string, id: string, version: string) {
      const p = provider(type);
      requireInteraction(p, 'vread', 'vread');
      scoped(ctx, type, 'read');
      const r = await p.read(ctx, id);
      if (r.meta?.versionId !== version) throw notFound(`${type}/${id}/_history/${version}`);
      return r;
    },

    async history(ctx: FhirContext, type: string, id: string) {
      const p = provider(type);
      requireInteraction(p, 'history-instance', 'history');
      scoped(ctx, type, 'read');
      const r = await p.read(ctx, id);
      return {
        resourceType: 'Bundle',
        type: 'history',
        total: 1,
        link: [{ relation: 'self', url: `${ctx.baseUrl}/${type}/${r.id}/_history` }],
        entry: [{ fullUrl: `${ctx.baseUrl}/${type}/${r.id}`, resource: r, request: { method: 'POST', url: type }, response: { status: '201 Created', lastModified: r.meta?.lastUpdated } }],
      };
    },

    async search(ctx: FhirContext, type: string, query: Query, strict: boolean) {
      const p = provider(type);
      requireInteraction(p, 'search-type', 'search');
      scoped(ctx, type, 'search');
      const req = parseSearch(type, query, p.search, strict);
      if (req.summary === 'true' && !p.summaryElements) throw badRequest(`_summary=true is not supported for ${type}`);
      const result = await p.searchType(ctx, req);
      return searchBundle(ctx, p, req, result);
    },

    /** GET [type]/$op: an operation the type declares, with its parameters checked like a search. */
    async operation(ctx: FhirContext, type: string, op: string, query: Query, strict: boolean) {
      const p = provider(type);
      const o = p.operations?.[op];
      if (!o) throw new NotSupported(501, `operation ${type}/${op} is not supported${p.operations ? ` (supported: ${Object.keys(p.operations).join(', ')})` : ''}`);
      scoped(ctx, type, 'search');
      const req = parseSearch(`${type}/${op}`, query, o.search, strict);
      const result = await o.run(ctx, req);
      return { ...searchBundle(ctx, p, req, result), link: [{ relation: 'self', url: `${ctx.baseUrl}/${type}/${op}${req.applied.toString() ? '?' + req.applied.toString() : ''}` }] };
    },

    /** Bulk export reads every type it writes: a SMART token needs read scopes on all of them. */
    assertExportScope(ctx: FhirContext) {
      for (const t of ['Patient', 'Device', 'Observation']) scoped(ctx, t, 'search');
    },

    /** GET Patient/{id}/$everything. */
    async everything(ctx: FhirContext, id: string, query: Query, strict: boolean) {
      const p = provider('Patient');
      scoped(ctx, 'Patient', 'read');
      scoped(ctx, 'Observation', 'search');
      const req = parseSearch('Patient/$everything', query, EVERYTHING_SPEC, strict);
      const result = await patientEverything(ctx, deps.registry, deps.patients!, id, req);
      const bundle = searchBundle(ctx, p, req, result);
      const self = `${ctx.baseUrl}/Patient/${id}/$everything`;
      return { ...bundle, link: [{ relation: 'self', url: `${self}${req.applied.toString() ? '?' + req.applied : ''}` }, ...(result.next ? [{ relation: 'next', url: `${self}?${new URLSearchParams({ ...Object.fromEntries(req.applied), _cursor: result.next, _count: String(req.count) })}` }] : [])] };
    },

    capabilityStatement(baseUrl: string, security?: Record<string, unknown>) {
      return {
        resourceType: 'CapabilityStatement',
        status: 'active',
        date: new Date().toISOString(),
        kind: 'instance',
        software: { name: 'Vigil', version: deps.version },
        implementation: { description: 'Vigil remote patient monitoring', url: baseUrl },
        fhirVersion: '4.0.1',
        format: ['application/fhir+json', 'json'],
        rest: [
          {
            mode: 'server',
            security: security ?? deps.security?.() ?? { description: 'Authorization: Bearer <token> (vigil token create) or a signed-in session' },
            resource: [...deps.registry.all().map((p) => ({
              type: p.type,
              ...(p.supportedProfiles?.length ? { supportedProfile: p.supportedProfiles } : {}),
              interaction: p.interactions.map((code) => ({ code })),
              ...(p.type === 'Patient' ? { operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }] } : {}),
              ...(p.operations ? { operation: Object.keys(p.operations).map((name) => ({ name: name.slice(1), definition: `http://hl7.org/fhir/OperationDefinition/${p.type}-${name.slice(1)}` })) } : {}),
              versioning: 'versioned',
              readHistory: p.interactions.includes('vread'),
              ...(p.search.includes?.length ? { searchInclude: p.search.includes } : {}),
              ...(p.search.revincludes?.length ? { searchRevInclude: p.search.revincludes } : {}),
              searchParam: [
                ...p.search.params.map((s) => ({ name: s.name, type: s.type, documentation: s.documentation })),
                { name: '_count', type: 'number', documentation: `Page size (default 50, at most 1000)` },
                { name: '_sort', type: 'special', documentation: p.search.sorts?.length ? `One of ${p.search.sorts.flatMap((s) => [s, '-' + s]).join(', ')}` : 'Not supported for this type' },
                { name: '_summary', type: 'token', documentation: 'true, data, count, false' },
                { name: '_elements', type: 'special', documentation: 'Top-level elements to return' },
                { name: '_total', type: 'token', documentation: 'none, estimate, accurate (default accurate)' },
              ],
            }))],
          },
        ],
      };
    },
  };
}

export type FhirService = ReturnType<typeof createFhirService>;
