import type { Principal } from '../../domain/types.ts';
import type { Queryable } from '../../platform/db.ts';
import type { Resource } from './mapping.ts';
import type { SearchRequest, SearchSpec } from './search/params.ts';

/**
 * The FHIR resource-type registry: each type is a provider module (resources/*.ts here; other modules such
 * as telehealth register Communication, Appointment, Encounter the same way). The router, the
 * CapabilityStatement and the search-parameter checks are all driven from what providers declare, so a
 * type declares nothing it does not do.
 */

export interface FhirContext {
  principal: Principal;
  /** e.g. https://clinic.example/fhir/R4 */
  baseUrl: string;
  /**
   * The request is authorised and its parameters checked: its read audit entry may be written now, while the
   * query runs (audit/read-audit.ts auditReadNow). Absent outside an HTTP read.
   */
  readAuthorised?: () => void;
}

export interface SearchResult {
  resources: Resource[];
  /** Exact number of matches (omitted when `_total=none`). */
  total?: number;
  /** Opaque keyset cursor for the next page, when there is one. */
  next?: string;
  /** `_include` / `_revinclude` resources (search mode "include"). */
  included?: Resource[];
}

export type Interaction = 'read' | 'vread' | 'search-type' | 'history-instance' | 'create' | 'update';

export interface ResourceProvider {
  type: string;
  /** Profiles this server's resources of this type claim (CapabilityStatement supportedProfile). */
  supportedProfiles?: string[];
  search: SearchSpec;
  /** What the type supports; the router answers 405 not-supported to anything else. */
  interactions: Interaction[];
  /** Why an interaction is not supported, when there is a reason worth telling the client (in the 405). */
  notSupported?: Partial<Record<Interaction, string>>;
  read(ctx: FhirContext, id: string): Promise<Resource>;
  searchType(ctx: FhirContext, req: SearchRequest): Promise<SearchResult>;
  /** Type-level operations answered as a searchset (e.g. Observation `$lastn`), with their own parameters. */
  operations?: Record<string, { search: SearchSpec; run(ctx: FhirContext, req: SearchRequest): Promise<SearchResult> }>;
  /**
   * Writes come in two steps so that a transaction Bundle can check every entry before writing any: `prepare*`
   * parses, authorises and checks (If-Match) without changing anything; `commit` writes, records the version
   * (versions.ts) and audits. `ifMatch` is the version the client last saw (412 when it is not current).
   */
  prepareCreate?(ctx: FhirContext, resource: Record<string, unknown>, opts?: CreateOptions): Promise<PreparedWrite>;
  /**
   * A new logical id for a create, chosen before anything is written: in a transaction Bundle, `urn:uuid:`
   * references to the entry are rewritten to it (R4 §3.1.0.11.2). Types whose ids the database assigns
   * (Observation) have none, so other entries cannot reference them.
   */
  newId?(): string;
  /** A one-step create (checked and written together); in a transaction Bundle it is checked only when written. */
  create?(ctx: FhirContext, resource: unknown): Promise<Resource>;
  prepareUpdate?(ctx: FhirContext, id: string, resource: Record<string, unknown>, ifMatch?: number): Promise<PreparedWrite>;
  /**
   * Brings the stored versions of one record up to date before vread and history read them (after `read` has
   * authorised the caller): for a type whose versions the database captures whatever path changed the record
   * and the application seals later (Appointment, migration 039). `id` is the internal id.
   */
  syncVersions?(id: string): Promise<void>;
}

export interface CreateOptions {
  /** The id from `newId()` (transaction Bundles). */
  id?: string;
  /** `Type/id` of resources the same transaction creates before this one (not yet in the database). */
  pending?: ReadonlySet<string>;
}

export interface PreparedWrite {
  commit(): Promise<Resource>;
  /**
   * The same write inside the caller's database transaction (a transaction Bundle: all entries or none). It
   * may only use `tx` (on PGlite any other query would wait for the open transaction). It resolves to what
   * runs after COMMIT (events, stored version copies), which gives the resource.
   */
  inTransaction?(tx: Queryable): Promise<() => Promise<Resource>>;
}

export function createFhirRegistry() {
  const providers = new Map<string, ResourceProvider>();
  return {
    register(p: ResourceProvider) {
      if (providers.has(p.type)) throw new Error(`FHIR type ${p.type} is registered twice`);
      providers.set(p.type, p);
    },
    get: (type: string) => providers.get(type),
    all: () => [...providers.values()].sort((a, b) => a.type.localeCompare(b.type)),
  };
}

export type FhirRegistry = ReturnType<typeof createFhirRegistry>;
