import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditService } from './audit.service.ts';
import type { Queryable } from '../platform/db.ts';
import { referenceId } from '../api/fhir/ids.ts';

/**
 * Audits every read of patient data and every refused access (ONC §170.315(d)(2), HIPAA §164.312(b); F11):
 * one entry per API request after the answer is sent — who (user or "anonymous"), what (method and route
 * pattern), which patient (route parameter or `patient`/`subject` query), from where (client address), and
 * the outcome (success, or failure with the HTTP status). Writes are audited by the services themselves.
 * The entry is committed before the answer is sent (onSend awaits its group commit): a crash can never leave a
 * disclosure without its audit row, and if the audit cannot be written the data is not sent (503).
 */
const QUIET = new Set(['/api/v1/me', '/api/v1/demo', '/api/v1/auth/login', '/api/v1/auth/logout', '/health', '/fhir/R4/metadata', '/api/v1/alerts/push-key']);

/**
 * Routes whose `:id` is a record of one patient (a thread, an attachment, an appointment or visit, an alert, a
 * device, a command): the table that says whose, so that a read of it, or a refused try, is on that patient's
 * access log (found by review: a revoked caregiver's and another patient's attempts on a thread, an attachment or
 * a visit were recorded with no patient). One indexed lookup by primary key, for these routes only.
 */
const OWNED_BY_PATIENT: Array<[prefix: string, table: string]> = [
  ['/api/v1/threads/:id', 'message_threads'],
  ['/api/v1/attachments/:id', 'message_attachments'],
  ['/api/v1/appointments/:id', 'appointments'],
  ['/api/v1/visits/:id', 'appointments'],
  ['/api/v1/alerts/:id', 'alerts'],
  ['/api/v1/devices/:id', 'devices'],
  ['/api/v1/commands/:id', 'device_commands'],
];

export function registerReadAudit(app: FastifyInstance, audit: AuditService, db?: Queryable) {
  /** The patient of the record a route names by `:id`, or null (not such a route, no such record). */
  async function ownerOf(req: FastifyRequest): Promise<string | null> {
    const route = req.routeOptions?.url;
    const id = text(fieldsOf(req.params).id);
    const owned = db && route && id ? OWNED_BY_PATIENT.find(([prefix]) => route === prefix || route.startsWith(prefix + '/')) : undefined;
    if (!owned) return null;
    try {
      const [row] = await db!.query<{ patient_id: string | null }>(`SELECT patient_id FROM ${owned[1]} WHERE id = $1`, [id]);
      return row?.patient_id ?? null;
    } catch {
      return null; // the entry is written without it rather than not at all
    }
  }
  const withOwner = async (req: FastifyRequest, e: ReturnType<typeof entryFor>) => (e.patientId ? e : { ...e, patientId: await ownerOf(req) });
  app.decorateRequest('auditReadNow', null);
  app.addHook('onRequest', async (req) => {
    // A read whose outcome is settled before its slow part (an authorised search about to run its query) may
    // start its entry then, so the entry's commit overlaps the query (on PostgreSQL another connection) instead
    // of following it. The entry is the one onSend would write for a 200; onSend still waits for it.
    req.auditReadNow = () => {
      if (req.auditedRead || !isAudited(req) || (req.method !== 'GET' && req.method !== 'HEAD')) return;
      req.auditedRead = true;
      // With the patient known (a search naming it), the entry's statement is sent now (no owner lookup to wait for).
      const e = entryFor(req, 200);
      const ahead = e.patientId ? audit.recordBatched(e) : withOwner(req, e).then((owned) => audit.recordBatched(owned));
      ahead.catch(() => undefined); // awaited in onSend
      req.auditAhead = ahead;
    };
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (!isAudited(req)) return payload;
    const status = reply.statusCode;
    const route = req.routeOptions?.url ?? null;
    const read = req.method === 'GET' || req.method === 'HEAD';
    const refused = status === 401 || status === 403 || (status === 404 && !!route);
    try {
      if (req.auditAhead) {
        const ahead = req.auditAhead;
        req.auditAhead = undefined;
        await ahead;
        // Written as a 200 before the answer was known: a different outcome is recorded as well.
        if (status !== 200) await audit.recordBatched(await withOwner(req, entryFor(req, status)));
        return payload;
      }
      if (!read && !refused) return payload; // successful writes: the service's own entry says what changed
      if (req.auditedRead) return payload; // an error answer replacing this one passes here again
      req.auditedRead = true;
      await audit.recordBatched(await withOwner(req, entryFor(req, status)));
    } catch (err) {
      req.log.error({ err }, 'audit entry could not be written; answer withheld');
      reply.status(503).header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'the audit trail is unavailable; nothing was disclosed' } });
    }
    return payload;
  });
}

/** Requests the read audit covers: the API and FHIR, except the quiet routes. */
function isAudited(req: FastifyRequest): boolean {
  const path = req.routeOptions?.url ?? req.url.split('?')[0];
  return (path.startsWith('/api') || path.startsWith('/fhir')) && !QUIET.has(path);
}

/** The entry for a request answered with `status`: who, what, which patient, from where, the outcome. */
function entryFor(req: FastifyRequest, status: number) {
  const route = req.routeOptions?.url ?? null;
  const path = route ?? req.url.split('?')[0];
  const refused = status === 401 || status === 403 || (status === 404 && !!route);
  const p = req.principal;
  return {
    actor: p ?? 'system',
    action: refused ? 'access.refused' : 'read',
    entityType: route ?? 'unknown-route',
    entityId: text(fieldsOf(req.params).id),
    patientId: patientOf(req, route),
    outcome: status < 400 ? 'success' : 'failure',
    details: {
      method: req.method,
      status,
      ip: req.ip,
      via: p?.credential?.kind ?? 'anonymous',
      ...(route ? {} : { path: path.slice(0, 200) }),
      ...queryOf(req),
    },
  } as const;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** [sec] this request's read/refusal audit entry is written */
    auditedRead?: boolean;
    /** Starts this read's audit entry now, as a 200 (the outcome is settled): it commits while the query runs. */
    auditReadNow: (() => void) | null;
    /** The entry auditReadNow started; onSend waits for it before the answer goes out. */
    auditAhead?: Promise<void>;
  }
}

function patientOf(req: FastifyRequest, route: string | null): string | null {
  const params = fieldsOf(req.params);
  if (route?.startsWith('/api/v1/patients/:id')) return text(params.id);
  if (route?.startsWith('/fhir/R4/:type/:id') && params.type === 'Patient') return typeof params.id === 'string' ? patientIdOf(params.id) : null; // FHIR id → internal
  const q = fieldsOf(req.query);
  for (const key of ['patient', 'subject', 'subject:Patient', 'patientId']) {
    const v = q[key];
    if (typeof v === 'string' && v) return patientIdOf(v);
  }
  return null;
}

/**
 * The internal patient id a query names, in any form a client may write it (`pat_…`, FHIR `pat-…`,
 * `Patient/pat-…`, an absolute URL): the entry must carry the same id as the patient's own record, or the
 * patient's "who saw my record" would miss it. Several patients (`a,b`), another type, or something that is no
 * id: null (the query stays in the details, and a FHIR search records one entry per patient it returned).
 */
function patientIdOf(value: string): string | null {
  if (value.includes(',') || value.length > 300) return null;
  const id = referenceId(value, 'Patient');
  return id && /^[A-Za-z0-9_\-.]{1,64}$/.test(id) ? id : null;
}

/** A hook sees every route, so params and query are untyped here: read them as plain fields. */
function fieldsOf(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

const text = (v: unknown): string | null => (typeof v === 'string' && v ? v.slice(0, 100) : null);

function queryOf(req: FastifyRequest): Record<string, unknown> {
  const q = req.url.indexOf('?');
  return q >= 0 ? { query: req.url.slice(q + 1, q + 301) } : {};
}
