import { policy } from '../policy.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api } from '../http-server.ts';
import type { z } from 'zod';
import {
  GroupParams,
  BulkFileParams,
  BulkJobParams,
  BulkExportQuery,
  BulkManifest,
  Empty,
  FhirAnyPathParams,
  FhirOperationParams,
  FhirReadParams,
  FhirResource,
  FhirSearchQuery,
  FhirTypeParams,
  FhirVersionParams,
  Ndjson,
  OperationOutcome,
} from '../contracts/index.ts';
import { requirePrincipal } from '../principal.ts';
import { NotSupported, type FhirService, type Query } from './fhir.service.ts';
import type { Resource } from './mapping.ts';
import { isStrict } from './search/params.ts';
import { registerFormBody } from './form-body.ts';
import { badRequest } from '../../platform/errors.ts';
import { Readable } from 'node:stream';
import type { BulkExport } from './bulk-export.ts';

type BulkManifestBody = z.infer<typeof BulkManifest>;

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const outcome = (severity: 'error' | 'warning' | 'information', code: string, diagnostics: string) => ({
  resourceType: 'OperationOutcome' as const,
  issue: [{ severity, code, diagnostics }],
});

/**
 * HTTP for the FHIR R4 API under /fhir/R4 (RESTful API §3.1.0): read, vread, history, search; every other
 * interaction answers 405 (or 501 for whole operations not built) with issue code not-supported, so that a
 * client can tell "not here" from "no such record".
 */
export function fhirRoutes(app: Api, deps: { fhir: FhirService; baseUrl: () => string; bulk?: BulkExport }) {
  const ctx = (req: FastifyRequest) => ({ principal: requirePrincipal(req), baseUrl: deps.baseUrl(), readAuthorised: () => req.auditReadNow?.() });
  const send = async (reply: FastifyReply, work: () => Promise<unknown>) => {
    try {
      return reply.type(FHIR_JSON).send(await work());
    } catch (err) {
      if (err instanceof NotSupported)
        return reply
          .status(err.status)
          .type(FHIR_JSON)
          .send(outcome('error', 'not-supported', err.message));
      throw err;
    }
  };
  /** ETag (R4 §3.1.0.4.2: W/"versionId") and Last-Modified on a read, so a client can send If-Match. */
  const versioned = (reply: FastifyReply, r: Resource) => {
    reply.header('etag', `W/"${r.meta?.versionId ?? '1'}"`);
    if (r.meta?.lastUpdated) reply.header('last-modified', new Date(r.meta.lastUpdated).toUTCString());
    return r;
  };
  const notSupported = (status: 405 | 501, message: string) => () => Promise.reject(new NotSupported(status, message));
  const isOperation = (s: string) => s.startsWith('$');
  if (!app.hasContentTypeParser('application/fhir+json')) {
    app.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, body === '' ? undefined : JSON.parse(body as string));
      } catch {
        done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }));
      }
    });
  }

  const READ_SCOPE = policy.signedIn('resources of the patients they may see (the FHIR service scopes every search and read, SMART scopes too)');
  /** Every FHIR answer is a resource; errors are OperationOutcomes (errors.ts). */
  const resource = { 200: FhirResource, 400: OperationOutcome, 404: OperationOutcome, 405: OperationOutcome, 501: OperationOutcome };

  // Public (SMART App Launch 2.x §conformance): clients read it before they have a token.
  app.get(
    '/fhir/R4/metadata',
    {
      config: { policy: policy.public('SMART App Launch: clients read the CapabilityStatement before they have a token') },
      schema: { summary: 'CapabilityStatement (public)', response: { 200: FhirResource } },
    },
    async (_req, reply) => reply.type(FHIR_JSON).send(deps.fhir.capabilityStatement(deps.baseUrl())),
  );

  // Bulk Data $export (system and Patient level), asynchronous: kick-off → status → NDJSON files.
  const bulk = deps.bulk;
  if (bulk) {
    app.addHook('onClose', async () => bulk.stop()); // hand a running job back before the database closes
    const kickOff = (level: 'system' | 'patient' | 'group', req: FastifyRequest, query: Query, reply: FastifyReply, groupId?: string) =>
      send(reply, async () => {
        const c = ctx(req);
        // Only the types asked for need a scope (Observation alone: patient/Observation.rs is enough).
        const asked = [query._type ?? []]
          .flat()
          .flatMap((t) => String(t).split(','))
          .map((t) => t.trim())
          .filter(Boolean);
        deps.fhir.assertExportScope(c, asked.length ? asked : undefined);
        const status = await bulk.kickOff(
          c,
          level,
          query,
          req.headers.prefer as string | undefined,
          `${deps.baseUrl()}${req.url.replace(/^\/fhir\/R4/, '')}`,
          groupId,
        );
        reply.status(202).header('content-location', status);
        return outcome('information', 'informational', `export started; poll ${status}`);
      });
    const kickOffSchema = { querystring: BulkExportQuery, response: { 202: OperationOutcome } };
    app.get(
      '/fhir/R4/$export',
      { config: { policy: READ_SCOPE }, schema: { summary: 'Bulk Data system export (admins), asynchronous', ...kickOffSchema } },
      async (req, reply) => kickOff('system', req, req.query, reply),
    );
    app.get(
      '/fhir/R4/Patient/$export',
      { config: { policy: READ_SCOPE }, schema: { summary: 'Bulk Data export of the patients the caller may see, asynchronous', ...kickOffSchema } },
      async (req, reply) => kickOff('patient', req, req.query, reply),
    );
    app.get(
      '/fhir/R4/Group/:id/$export',
      {
        config: { policy: READ_SCOPE },
        schema: { summary: 'Bulk Data export of a Group (a care team: its patients the caller may see), asynchronous', params: GroupParams, ...kickOffSchema },
      },
      async (req, reply) => kickOff('group', req, req.query, reply, req.params.id),
    );
    app.get(
      '/fhir/R4/$export-status/:id',
      {
        config: { policy: READ_SCOPE },
        schema: {
          summary: 'Bulk Data export status: 202 while running, the manifest when complete',
          params: BulkJobParams,
          response: { 200: BulkManifest, 202: Empty, 500: OperationOutcome },
        },
      },
      async (req, reply) => {
        const s = await bulk.status(ctx(req), req.params.id);
        if (s.status === 202) return (reply as FastifyReply).status(202).header('x-progress', s.progress).header('retry-after', '1').send();
        if (s.status === 500)
          return reply
            .status(500)
            .type(FHIR_JSON)
            .send(outcome('error', 'exception', s.error));
        return reply.type('application/json').send(s.manifest as BulkManifestBody);
      },
    );
    app.delete(
      '/fhir/R4/$export-status/:id',
      { config: { policy: READ_SCOPE }, schema: { summary: 'Cancel or delete a Bulk Data export', params: BulkJobParams, response: { 202: Empty } } },
      async (req, reply) => {
        await bulk.remove(ctx(req), req.params.id);
        return (reply as FastifyReply).status(202).send();
      },
    );
    app.get(
      '/fhir/R4/$export-file/:id/:name',
      {
        config: { policy: READ_SCOPE },
        schema: { summary: 'One NDJSON file of a completed export (its owner only)', params: BulkFileParams, response: { 200: Ndjson } },
      },
      async (req, reply) => {
        const { id, name } = req.params;
        return reply.type('application/fhir+ndjson').send(Readable.from(await bulk.file(ctx(req), id, name)) as unknown as string);
      },
    );
  }

  app.get(
    '/fhir/R4/:type',
    {
      config: { policy: READ_SCOPE },
      schema: {
        summary: 'search-type → Bundle (searchset); unknown parameters: 400 under Prefer: handling=strict',
        params: FhirTypeParams,
        querystring: FhirSearchQuery,
        response: resource,
      },
    },
    async (req, reply) => {
      const { type } = req.params;
      if (isOperation(type)) return send(reply, notSupported(501, `operation ${type} is not supported yet`));
      return send(reply, () => deps.fhir.search(ctx(req), type, req.query, isStrict(req.headers.prefer)));
    },
  );
  // System-level interactions that are not built say so (R4 http.html: 501 for an unsupported interaction), not
  // 404 "no route" or 400 (found by review).
  const system: Array<['GET' | 'POST', string, string]> = [
    ['GET', '/fhir/R4', 'search-system (GET [base]?…) is not supported; search one type, e.g. GET [base]/Observation?…'],
    ['GET', '/fhir/R4/', 'search-system (GET [base]?…) is not supported; search one type, e.g. GET [base]/Observation?…'],
    ['POST', '/fhir/R4/_search', 'search-system (POST [base]/_search) is not supported; search one type, e.g. POST [base]/Observation/_search'],
    ['GET', '/fhir/R4/_history', 'history-system ([base]/_history) is not supported; history-instance ([type]/{id}/_history) is'],
  ];
  for (const [method, url, message] of system)
    app.route({
      method,
      url,
      config: { policy: policy.signedIn('answers 501 not-supported') },
      schema: { response: resource },
      handler: async (req, reply) => {
        requirePrincipal(req);
        return send(reply, notSupported(501, message));
      },
    });

  // search via POST (R4 http.html#search): `[type]/_search` with an application/x-www-form-urlencoded body;
  // parameters in the URL and in the body both count (a key in both is two conditions, as when repeated).
  registerFormBody(app);
  app.post(
    '/fhir/R4/:type/_search',
    {
      config: { policy: READ_SCOPE },
      schema: {
        summary: 'search-type by POST (form-encoded parameters, with any in the URL) → Bundle (searchset)',
        params: FhirTypeParams,
        querystring: FhirSearchQuery,
        body: FhirSearchQuery.nullish(), // no body: the URL's parameters only
        response: resource,
      },
    },
    async (req, reply) => {
      const type = req.headers['content-type'];
      if (req.body != null && !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type ?? ''))
        throw badRequest(`POST ${req.params.type}/_search takes application/x-www-form-urlencoded parameters (got ${type})`);
      const query: Record<string, string | string[] | undefined> = { ...req.query };
      for (const [k, v] of Object.entries(req.body ?? {})) {
        if (v === undefined) continue;
        const had = query[k];
        query[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), ...(Array.isArray(v) ? v : [v])];
      }
      return send(reply, () => deps.fhir.search(ctx(req), req.params.type, query, isStrict(req.headers.prefer)));
    },
  );
  app.get(
    '/fhir/R4/:type/:id',
    {
      config: { policy: READ_SCOPE },
      schema: { summary: 'read, or a type-level operation (Observation/$lastn)', params: FhirReadParams, querystring: FhirSearchQuery, response: resource },
    },
    async (req, reply) => {
      const { type, id } = req.params;
      // `_history` is not an id (the id rule allows `_`): history-type, which is not built (found by review: a 404).
      if (id === '_history')
        return send(reply, notSupported(501, `history-type (${type}/_history) is not supported; history-instance (${type}/{id}/_history) is`));
      if (isOperation(id)) return send(reply, () => deps.fhir.operation(ctx(req), type, id, req.query, isStrict(req.headers.prefer)));
      return send(reply, async () => versioned(reply, await deps.fhir.read(ctx(req), type, id)));
    },
  );
  app.get(
    '/fhir/R4/:type/:id/_history',
    { config: { policy: READ_SCOPE }, schema: { summary: 'history-instance → Bundle (history)', params: FhirReadParams, response: resource } },
    async (req, reply) => {
      const { type, id } = req.params;
      return send(reply, () => deps.fhir.history(ctx(req), type, id));
    },
  );
  app.get(
    '/fhir/R4/:type/:id/_history/:vid',
    { config: { policy: READ_SCOPE }, schema: { summary: 'vread', params: FhirVersionParams, response: resource } },
    async (req, reply) => {
      const { type, id, vid } = req.params;
      return send(reply, async () => versioned(reply, await deps.fhir.vread(ctx(req), type, id, vid)));
    },
  );
  app.get(
    '/fhir/R4/:type/:id/:op',
    {
      config: { policy: READ_SCOPE },
      schema: { summary: 'instance operation (Patient/{id}/$everything)', params: FhirOperationParams, querystring: FhirSearchQuery, response: resource },
    },
    async (req, reply) => {
      const { type, id, op } = req.params;
      requirePrincipal(req);
      if (type === 'Patient' && op === '$everything') return send(reply, () => deps.fhir.everything(ctx(req), id, req.query, isStrict(req.headers.prefer)));
      if (isOperation(op)) return send(reply, notSupported(501, `operation ${type}/${id}/${op} is not supported yet`));
      return send(reply, notSupported(405, `GET ${type}/${id}/${op} is not a FHIR interaction this server supports`));
    },
  );
  // Writes (R4 §3.1.0.4–5, §3.1.0.11). Who may write is the providers' decision through auth/access.ts, exactly
  // as on the REST API (staff register patients; a patient's clinicians and admins change them and post readings).
  const WRITE = policy.signedIn(
    "writes: the FHIR service authorises each one through auth/access.ts (staff create patients; a patient's clinicians and admins update them and post Observations)",
  );
  const header = (req: FastifyRequest, name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  /**
   * Location/ETag/Last-Modified (R4 §3.1.0.5.1), and Prefer: return= (§3.1.0.8.1 / RFC 7240): minimal → no body,
   * OperationOutcome → an OperationOutcome about the write, representation (the default) → the resource.
   */
  const written = (req: FastifyRequest, reply: FastifyReply, w: { status: 200 | 201; resource: Resource }) => {
    const v = w.resource.meta?.versionId ?? '1';
    const where = `${w.resource.resourceType}/${w.resource.id}/_history/${v}`;
    reply.status(w.status).header('etag', `W/"${v}"`).header('location', `${deps.baseUrl()}/${where}`);
    if (w.resource.meta?.lastUpdated) reply.header('last-modified', new Date(w.resource.meta.lastUpdated).toUTCString());
    const wanted = /(^|[,;\s])return\s*=\s*"?(minimal|representation|OperationOutcome)"?/i.exec(header(req, 'prefer') ?? '')?.[2].toLowerCase();
    if (wanted === 'minimal') return (reply as FastifyReply).send();
    if (wanted === 'operationoutcome')
      return outcome('information', 'informational', `${w.status === 201 ? 'created' : req.method === 'PUT' ? 'updated' : 'found (If-None-Exist)'} ${where}`);
    return w.resource;
  };
  // The base with or without its trailing slash (clients keep the base as configured, often with one).
  for (const base of ['/fhir/R4', '/fhir/R4/'])
    app.post(
      base,
      { config: { policy: WRITE }, schema: { summary: 'batch or transaction Bundle (POST, PUT and GET entries)', body: FhirResource, response: resource } },
      async (req, reply) => send(reply, () => deps.fhir.bundle(ctx(req), req.body, isStrict(req.headers.prefer))),
    );
  app.post(
    '/fhir/R4/:type',
    {
      config: { policy: WRITE },
      schema: {
        summary: 'create (If-None-Exist for a conditional create)',
        params: FhirTypeParams,
        body: FhirResource,
        response: { ...resource, 201: FhirResource, 409: OperationOutcome, 412: OperationOutcome, 422: OperationOutcome },
      },
    },
    async (req, reply) =>
      send(reply, async () => written(req, reply, await deps.fhir.create(ctx(req), req.params.type, req.body, header(req, 'if-none-exist')))),
  );
  app.put(
    '/fhir/R4/:type/:id',
    {
      config: { policy: WRITE },
      schema: {
        summary: 'update (If-Match: W/"version"; 412 when it is not current)',
        params: FhirReadParams,
        body: FhirResource,
        response: { ...resource, 409: OperationOutcome, 412: OperationOutcome, 422: OperationOutcome },
      },
    },
    async (req, reply) =>
      send(reply, async () => written(req, reply, await deps.fhir.update(ctx(req), req.params.type, req.params.id, req.body, header(req, 'if-match')))),
  );

  // PATCH bodies (R4 §3.1.0.6: JSON Patch, XML Patch) have no parser here, so Fastify would answer 415 before the
  // route could say 405 not-supported: take them as text for a FHIR PATCH only; anything else keeps the 415.
  for (const type of ['application/json-patch+json', 'application/xml-patch+xml'])
    if (!app.hasContentTypeParser(type))
      app.addContentTypeParser(type, { parseAs: 'string' }, (req, body, done) =>
        req.method === 'PATCH' && req.url.startsWith('/fhir/')
          ? done(null, body)
          : done(Object.assign(new Error(`Unsupported Media Type: ${type}`), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })),
      );

  // The rest (delete, patch, conditional update, writes to a sub-path): said plainly.
  const others: Array<[string, Array<'POST' | 'PUT' | 'PATCH' | 'DELETE'>, typeof FhirTypeParams | undefined]> = [
    ['/fhir/R4', ['PUT', 'PATCH', 'DELETE'], undefined],
    ['/fhir/R4/:type', ['PUT', 'PATCH', 'DELETE'], FhirTypeParams],
    ['/fhir/R4/:type/:id', ['POST', 'PATCH', 'DELETE'], FhirReadParams],
    ['/fhir/R4/:type/:id/*', ['POST', 'PUT', 'PATCH', 'DELETE'], FhirAnyPathParams],
  ];
  for (const [url, methods, params] of others) {
    for (const method of methods)
      app.route({
        method,
        url,
        config: { policy: policy.signedIn('answers 405/501 not-supported') },
        schema: { ...(params ? { params } : {}), response: resource },
        handler: async (req, reply) => {
          requirePrincipal(req);
          const what = `${req.method} ${req.url.split('?')[0].replace(/^\/fhir\/R4/, '') || '/'}`;
          return send(
            reply,
            notSupported(
              req.url.split('?')[0] === '/fhir/R4' ? 501 : 405,
              `${what}: this interaction is not supported (supported: read, vread, history, search, create, update, batch, transaction; see the CapabilityStatement)`,
            ),
          );
        },
      });
  }
}
