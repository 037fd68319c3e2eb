import { parseForm } from './form-body.ts';
import { AppError, badRequest } from '../../platform/errors.ts';
import type { Db } from '../../platform/db.ts';
import { isDataError } from '../../store/sql-errors.ts';
import type { Resource } from './mapping.ts';
import type { CreateOptions, FhirContext, PreparedWrite, ResourceProvider } from './registry.ts';

/**
 * batch and transaction Bundles (R4 http.html#transaction, §3.1.0.11).
 * - batch: each entry on its own, each answered (a failure is that entry's OperationOutcome).
 * - transaction: all or nothing. Every entry is prepared first (parsed, authorised, If-Match, If-None-Exist,
 *   references resolved); then every write runs in ONE database transaction (a failure there rolls all of
 *   them back); GETs run after the commit. Order (§3.1.0.11.2): POST, then PUT (DELETE and PATCH are not
 *   supported), then GET; the answers come back in the order of the entries.
 *   `urn:uuid:` / `urn:oid:` fullUrls of created entries get their ids before anything is written, and every
 *   `reference` to them in other entries is rewritten; conditional references (`Patient?identifier=…`) are
 *   searched and must match exactly one resource.
 */

export type Query = Record<string, string | string[] | undefined>;

/** `{ [key]: list }`, or nothing when the list is empty: R4 JSON forbids empty arrays (json.html, "Array cannot be empty"). */
export const nonEmpty = <K extends string, T>(key: K, list: T[]): { [k in K]?: T[] } => (list.length ? ({ [key]: list } as { [k in K]: T[] }) : {});

export interface Step {
  index: number;
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  type: string;
  id?: string;
  query?: Query;
  resource?: unknown;
  fullUrl?: string;
  ifNoneExist?: string;
  ifMatch?: string;
}

/** One Bundle entry's request (R4 Bundle.entry.request), checked before anything runs. */
export function planEntry(e: unknown, index: number): Step {
  // Entries are untrusted JSON: every field is checked for its type here, so a wrong one is a 400 naming the
  // entry (an object as ifNoneExist used to reach .replace() and answer 500).
  const entry = (e !== null && typeof e === 'object' ? e : {}) as { request?: unknown; fullUrl?: unknown; resource?: unknown };
  const req = (entry.request !== null && typeof entry.request === 'object' ? entry.request : {}) as {
    method?: unknown;
    url?: unknown;
    ifNoneExist?: unknown;
    ifMatch?: unknown;
  };
  const method = req.method;
  const url = typeof req.url === 'string' ? req.url.replace(/^\//, '') : '';
  if (method !== 'GET' && method !== 'POST' && method !== 'PUT')
    throw badRequest(`entry ${index}: request.method must be GET, POST or PUT (got ${JSON.stringify(method ?? null)})`);
  const optionalString = (v: unknown, name: string): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw badRequest(`entry ${index}: ${name} must be a string`);
    return v;
  };
  const ifNoneExist = optionalString(req.ifNoneExist, 'request.ifNoneExist');
  const ifMatch = optionalString(req.ifMatch, 'request.ifMatch');
  const fullUrl = optionalString(entry.fullUrl, 'fullUrl');
  const [path, qs] = url.split('?');
  const [type, id, ...rest] = path.split('/');
  if (!type || rest.length) throw badRequest(`entry ${index}: request.url must be [type], [type]/[id] or [type]?[query] (got ${JSON.stringify(url)})`);
  if (method === 'PUT' && !id) throw badRequest(`entry ${index}: PUT needs [type]/[id] (conditional update is not supported)`);
  if (method === 'POST' && id) throw badRequest(`entry ${index}: POST goes to [type]`);
  return {
    index,
    method,
    url,
    type,
    id,
    query: qs ? parseForm(qs) : {},
    resource: entry.resource,
    fullUrl,
    ifNoneExist,
    ifMatch,
  };
}

/** An entry whose request has the shape R4 requires (method an HTTP verb, url a string, the rest strings). */
function wellFormedRequest(e: unknown): boolean {
  const entry = e as { request?: Record<string, unknown>; fullUrl?: unknown } | null;
  const r = entry?.request;
  if (!r || typeof r !== 'object') return false;
  const optional = (v: unknown) => v === undefined || v === null || typeof v === 'string';
  return (
    typeof r.method === 'string' &&
    ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'].includes(r.method) &&
    typeof r.url === 'string' &&
    optional(r.ifNoneExist) &&
    optional(r.ifMatch) &&
    optional(entry.fullUrl)
  );
}

/** What the bundle runner needs from the FHIR service (fhir.service.ts). */
export interface BundleDeps {
  db?: Db;
  provider(type: string): ResourceProvider;
  prepareCreate(
    ctx: FhirContext,
    type: string,
    body: unknown,
    ifNoneExist: string | undefined,
    opts?: CreateOptions,
  ): Promise<{ existing?: Resource; write?: PreparedWrite }>;
  prepareUpdate(ctx: FhirContext, type: string, id: string, body: unknown, ifMatch?: string): Promise<PreparedWrite>;
  read(ctx: FhirContext, type: string, id: string): Promise<Resource>;
  search(ctx: FhirContext, type: string, query: Query, strict: boolean): Promise<unknown>;
  /** A type-level operation (`Observation/$lastn?…`) in a GET entry. */
  operation(ctx: FhirContext, type: string, op: string, query: Query, strict: boolean): Promise<unknown>;
  /** The resources a strict search finds (conditional references), at most `count`. */
  find(ctx: FhirContext, type: string, query: Query, count: number): Promise<Resource[]>;
  /** An error → its HTTP status and message (AppError, not-supported); anything else is rethrown. */
  toStatus(err: unknown): { status: number; message: string };
}

const entryResponse = (ctx: FhirContext, status: string, r?: Resource) => ({
  ...(r ? { fullUrl: `${ctx.baseUrl}/${r.resourceType}/${r.id}`, resource: r } : {}),
  response: {
    status,
    ...(r
      ? {
          location: `${r.resourceType}/${r.id}/_history/${r.meta?.versionId ?? '1'}`,
          etag: `W/"${r.meta?.versionId ?? '1'}"`,
          lastModified: r.meta?.lastUpdated,
        }
      : {}),
  },
});

function outcome(status: number, message: string) {
  const code =
    status === 404
      ? 'not-found'
      : status === 405 || status === 501
        ? 'not-supported'
        : status === 412 || status === 409
          ? 'conflict'
          : status === 403
            ? 'forbidden'
            : 'invalid';
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: message }] };
}

const CODE_OF: Record<number, ConstructorParameters<typeof AppError>[0]> = {
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  422: 'PAYLOAD_REJECTED',
};

export function createBundleRunner(deps: BundleDeps) {
  /** A database refusal inside the transaction (a unique or foreign key, a value out of range) is the client's: 409/400. */
  const statusOf = (err: unknown) =>
    isDataError(err) ? { status: /^23/.test((err as { code: string }).code) ? 409 : 400, message: (err as Error).message } : deps.toStatus(err);
  /** The whole transaction fails with the first entry that fails, named (and nothing was written). */
  const refuse = (step: Step, err: unknown): never => {
    const e = statusOf(err);
    throw Object.assign(
      new AppError(
        CODE_OF[e.status] ?? 'BAD_REQUEST',
        `transaction refused, nothing was written: entry ${step.index} (${step.method} ${step.url}): ${e.message}`,
      ),
      { fhirStatus: e.status },
    );
  };

  /** `strict`: the Bundle request's own Prefer: handling (R4 §3.1.1.3.3, lenient by default) applies to its GET entries. */
  async function runOne(ctx: FhirContext, step: Step, strict: boolean) {
    if (step.method === 'GET') {
      // A GET entry is any GET the server takes, operations included (R4 http.html#transaction: "GET [type]/$op").
      if (step.id?.startsWith('$'))
        return { resource: await deps.operation(ctx, step.type, step.id, step.query ?? {}, strict), response: { status: '200 OK' } };
      return step.id
        ? entryResponse(ctx, '200 OK', await deps.read(ctx, step.type, step.id))
        : { resource: await deps.search(ctx, step.type, step.query ?? {}, strict), response: { status: '200 OK' } };
    }
    if (step.method === 'POST') {
      const prepared = await deps.prepareCreate(ctx, step.type, step.resource, step.ifNoneExist);
      return prepared.existing ? entryResponse(ctx, '200 OK', prepared.existing) : entryResponse(ctx, '201 Created', await prepared.write!.commit());
    }
    return entryResponse(ctx, '200 OK', await (await deps.prepareUpdate(ctx, step.type, step.id!, step.resource, step.ifMatch)).commit());
  }

  async function batch(ctx: FhirContext, steps: Array<Step | Error>, strict: boolean) {
    const entry = [];
    for (const step of steps) {
      try {
        if (step instanceof Error) throw step;
        entry.push(await runOne(ctx, step, strict));
      } catch (err) {
        const e = deps.toStatus(err);
        entry.push({ response: { status: String(e.status), outcome: outcome(e.status, e.message) } });
      }
    }
    return { resourceType: 'Bundle', type: 'batch-response', ...nonEmpty('entry', entry) };
  }

  async function transaction(ctx: FhirContext, steps: Step[], strict: boolean) {
    if (!deps.db) throw badRequest('transaction Bundles are not enabled here');
    for (const step of steps) {
      try {
        deps.provider(step.type); // an unknown type fails the transaction up front, GETs included
      } catch (err) {
        refuse(step, err);
      }
    }
    // 1. Ids ahead for created entries with a urn fullUrl (only types whose ids Vigil chooses: Patient).
    const refs = new Map<string, string>(); // fullUrl → Type/id
    const unassignable = new Map<string, Step>();
    const assigned = new Map<number, string>();
    for (const step of steps) {
      if (!step.fullUrl) continue;
      if (refs.has(step.fullUrl) || unassignable.has(step.fullUrl)) refuse(step, badRequest(`fullUrl ${step.fullUrl} is used by two entries`));
      if (!/^urn:(uuid|oid):/.test(step.fullUrl)) continue; // an absolute URL: references use the server's own ids
      if (step.method === 'PUT') refs.set(step.fullUrl, `${step.type}/${step.id}`);
      else if (step.method === 'POST') {
        const p = deps.provider(step.type);
        if (!p.newId) unassignable.set(step.fullUrl, step);
        else {
          const id = p.newId();
          assigned.set(step.index, id);
          refs.set(step.fullUrl, `${step.type}/${id}`);
        }
      }
    }
    const pending = new Set<string>();
    for (const step of steps) if (assigned.has(step.index) && !step.ifNoneExist) pending.add(`${step.type}/${assigned.get(step.index)}`);

    /** Every `reference` in the entry's resource: urn → assigned id, `Type?query` → the one match. */
    const resolve = async (step: Step): Promise<unknown> => {
      const walk = async (v: unknown): Promise<unknown> => {
        if (Array.isArray(v)) return Promise.all(v.map(walk));
        if (v === null || typeof v !== 'object') return v;
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v as Record<string, unknown>))
          out[k] = k === 'reference' && typeof x === 'string' ? await resolveReference(step, x) : await walk(x);
        return out;
      };
      return walk(step.resource);
    };
    const resolveReference = async (step: Step, ref: string): Promise<string> => {
      const hit = refs.get(ref);
      if (hit) return hit;
      const other = unassignable.get(ref);
      if (other)
        throw badRequest(
          `reference ${ref} names entry ${other.index}, a ${other.type} whose id the database assigns when it is stored; only Patient entries can be referenced by urn:uuid here`,
        );
      if (/^urn:(uuid|oid):/.test(ref)) throw badRequest(`reference ${ref} names no entry of this Bundle`);
      const conditional = /^([A-Z][A-Za-z]+)\?(.+)$/.exec(ref);
      if (!conditional) return ref;
      const query = parseForm(conditional[2]);
      const found = await deps.find(ctx, conditional[1], query, 2);
      if (found.length !== 1)
        throw new AppError(
          'PRECONDITION_FAILED',
          `conditional reference ${ref} matches ${found.length === 0 ? 'no' : 'more than one'} ${conditional[1]}: it must match exactly one`,
        );
      return `${conditional[1]}/${found[0].id}`;
    };

    // 2. Prepare every write (conditional creates first: a match changes what their fullUrl stands for).
    const writes = steps.filter((s) => s.method !== 'GET');
    const prepareOrder = [
      ...writes.filter((s) => s.method === 'POST' && s.ifNoneExist),
      ...writes.filter((s) => s.method === 'POST' && !s.ifNoneExist),
      ...writes.filter((s) => s.method === 'PUT'),
    ];
    const answers = new Map<number, unknown>();
    const toWrite: Array<{ step: Step; write: PreparedWrite }> = [];
    for (const step of prepareOrder) {
      try {
        const resource = await resolve(step);
        if (step.method === 'POST') {
          const prepared = await deps.prepareCreate(ctx, step.type, resource, step.ifNoneExist, { id: assigned.get(step.index), pending });
          if (prepared.existing) {
            answers.set(step.index, entryResponse(ctx, '200 OK', prepared.existing));
            if (step.fullUrl && refs.has(step.fullUrl)) refs.set(step.fullUrl, `${step.type}/${prepared.existing.id}`);
            continue;
          }
          if (assigned.has(step.index)) pending.add(`${step.type}/${assigned.get(step.index)}`);
          toWrite.push({ step, write: prepared.write! });
        } else toWrite.push({ step, write: await deps.prepareUpdate(ctx, step.type, step.id!, resource, step.ifMatch) });
        if (!toWrite.at(-1)!.write.inTransaction)
          throw badRequest(`${step.type} ${step.method === 'POST' ? 'create' : 'update'} cannot take part in a transaction here (send it in a batch Bundle)`);
      } catch (err) {
        refuse(step, err);
      }
    }

    // 2b. Every GET is tried before anything is written: a failing entry fails the whole transaction (R4
    // §3.1.0.11.2: "if any of the entries fail, the transaction fails"). A GET of a resource this Bundle creates
    // can only run after the writes. With nothing to write, these answers are the answers (each read run, and
    // audited, once).
    const created = new Set([...assigned].map(([i, id]) => `${steps[i].type}/${id}`));
    const tried = new Map<number, unknown>();
    for (const step of steps.filter((s) => s.method === 'GET' && !(s.id && created.has(`${s.type}/${s.id}`)))) {
      try {
        tried.set(step.index, await runOne(ctx, step, strict));
      } catch (err) {
        refuse(step, err);
      }
    }

    // 3. One database transaction: created resources the others point at (ids chosen ahead) first, for their keys.
    const commitOrder = [
      ...toWrite.filter((w) => w.step.method === 'POST' && assigned.has(w.step.index)),
      ...toWrite.filter((w) => w.step.method === 'POST' && !assigned.has(w.step.index)),
      ...toWrite.filter((w) => w.step.method === 'PUT'),
    ];
    const finish = await deps.db.transaction(async (tx) => {
      const after: Array<{ step: Step; run: () => Promise<Resource> }> = [];
      for (const w of commitOrder) {
        try {
          after.push({ step: w.step, run: await w.write.inTransaction!(tx) });
        } catch (err) {
          refuse(w.step, err);
        }
      }
      return after;
    });
    for (const f of finish) answers.set(f.step.index, entryResponse(ctx, f.step.method === 'POST' ? '201 Created' : '200 OK', await f.run()));

    // 4. Reads, after the writes (they see them). Each was tried in 2b; one that fails only now (a GET of a resource
    // created here, or a change in between) is answered for its entry: the writes are committed.
    for (const step of steps.filter((s) => s.method === 'GET')) {
      try {
        answers.set(step.index, !toWrite.length && tried.has(step.index) ? tried.get(step.index) : await runOne(ctx, step, strict));
      } catch (err) {
        const e = deps.toStatus(err);
        answers.set(step.index, { response: { status: String(e.status), outcome: outcome(e.status, e.message) } });
      }
    }
    return {
      resourceType: 'Bundle',
      type: 'transaction-response',
      ...nonEmpty(
        'entry',
        steps.map((s) => answers.get(s.index)),
      ),
    };
  }

  return {
    /** POST [base] with a batch or transaction Bundle. */
    async run(ctx: FhirContext, body: unknown, strict = false) {
      const b = body as { resourceType?: unknown; type?: unknown; entry?: unknown };
      if (b?.resourceType !== 'Bundle' || (b.type !== 'batch' && b.type !== 'transaction'))
        throw badRequest('POST [base] takes a Bundle of type batch or transaction');
      // No entry is an empty Bundle; an entry that is not a list is a malformed one (not "nothing to do").
      if (b.entry !== undefined && !Array.isArray(b.entry)) throw badRequest('Bundle.entry must be an array of entries');
      const entries: unknown[] = Array.isArray(b.entry) ? b.entry : [];
      if (entries.length > 1000) throw badRequest(`a Bundle may carry at most 1000 entries (got ${entries.length})`);
      if (b.type === 'transaction')
        return transaction(
          ctx,
          entries.map((e, i) => planEntry(e, i)),
          strict,
        );
      // A batch's entries stand alone (R4 http.html#transaction): a well-formed request the server does not take
      // in a Bundle (DELETE, a vread URL) gets its own error answer and the others still run. A malformed entry
      // makes the Bundle itself invalid: refused whole, naming it.
      return batch(
        ctx,
        entries.map((e, i) => {
          try {
            return planEntry(e, i);
          } catch (err) {
            if (!wellFormedRequest(e)) throw err;
            return err as Error;
          }
        }),
        strict,
      );
    },
  };
}
