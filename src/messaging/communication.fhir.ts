import { policy } from '../api/policy.ts';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../domain/types.ts';
import type { MessagingService, MessageView } from './messaging.service.ts';
import { badRequest, forbidden } from '../platform/errors.ts';
import { requirePrincipal } from '../api/principal.ts';
import { registerCapability } from '../api/fhir/fhir.service.ts';
import { parseDateParams, parsePaging, parseReference, parseTokens } from '../api/fhir/search-params.ts';

/**
 * FHIR R4 Communication over the messages (https://hl7.org/fhir/R4/communication.html): create by a patient
 * (subject = themself) or their care team, read, and search by subject/patient, sent, category.
 * Attachments are `Attachment`s whose `url` is the app's attachment route: the same authorisation applies.
 */

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const CATEGORY_SYSTEM = 'https://vigil.health/fhir/CodeSystem/message-category';
const THREAD_SYSTEM = 'urn:vigil:thread';

type Query = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[v.length - 1] : v);
const all = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function communicationResource(m: MessageView, base: string) {
  const origin = base.replace(/\/fhir\/R4$/, '');
  return {
    resourceType: 'Communication',
    id: m.id,
    meta: { lastUpdated: m.sentAt },
    identifier: [{ system: THREAD_SYSTEM, value: m.threadId }],
    status: 'completed',
    category: [{ coding: [{ system: CATEGORY_SYSTEM, code: m.category }] }],
    priority: m.urgent ? 'urgent' : 'routine',
    subject: { reference: `Patient/${m.patientId}` },
    sent: m.sentAt,
    ...(m.readBy.length ? { received: m.readBy[0].readAt } : {}),
    sender: { ...(m.sender.ref ? { reference: m.sender.ref } : {}), display: m.sender.name },
    payload: [
      ...(m.text ? [{ contentString: m.text }] : []),
      ...m.attachments.map((a) => ({
        contentAttachment: { contentType: a.contentType, url: origin + a.url, size: a.size, ...(a.title ? { title: a.title } : {}) },
      })),
    ],
  };
}

interface CommunicationInput {
  resourceType?: unknown;
  subject?: { reference?: unknown };
  payload?: Array<{ contentString?: unknown; contentAttachment?: { contentType?: unknown; data?: unknown; title?: unknown } }>;
  priority?: unknown;
  inResponseTo?: Array<{ reference?: unknown }>;
  identifier?: Array<{ system?: unknown; value?: unknown }>;
}

export function communicationFhirRoutes(app: FastifyInstance, deps: { messaging: MessagingService; baseUrl: () => string }) {
  const m = deps.messaging;
  registerCapability({
    type: 'Communication',
    interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }],
    searchParam: ['subject:reference', 'patient:reference', 'sent:date', 'category:token', '_count:number', '_summary:token'].map((s) => ({ name: s.split(':')[0], type: s.split(':')[1] })),
  });
  if (!app.hasContentTypeParser('application/fhir+json')) {
    app.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  }

  async function create(p: Principal, body: CommunicationInput) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a FHIR Communication resource (JSON object)');
    if (body.resourceType !== 'Communication') throw badRequest(`resourceType must be "Communication" (got ${JSON.stringify(body.resourceType ?? null)})`);
    const ref = typeof body.subject?.reference === 'string' ? body.subject.reference : undefined;
    if (!ref || !/^Patient\/[^/\s]+$/.test(ref)) throw badRequest('subject.reference must be "Patient/{id}"');
    const patientId = parseReference(ref, 'Patient')!;
    if (p.role === 'patient' && p.patientId !== patientId) throw forbidden('a patient can send messages only about themself (subject must be your own Patient)');
    if (!Array.isArray(body.payload) || body.payload.length === 0) throw badRequest('payload must hold at least one contentString or contentAttachment');
    const texts: string[] = [];
    const files: Array<{ name?: string; contentType?: string; data: Buffer }> = [];
    body.payload.forEach((item, i) => {
      if (typeof item?.contentString === 'string') texts.push(item.contentString);
      else if (item?.contentAttachment && typeof item.contentAttachment.data === 'string') {
        const a = item.contentAttachment;
        files.push({ name: typeof a.title === 'string' ? a.title : undefined, contentType: typeof a.contentType === 'string' ? a.contentType : undefined, data: Buffer.from(a.data as string, 'base64') });
      } else throw badRequest(`payload[${i}] must have contentString or contentAttachment.data (base64)`);
    });
    if (body.priority !== undefined && !['routine', 'urgent', 'asap', 'stat'].includes(body.priority as string)) throw badRequest('priority must be routine, urgent, asap or stat');
    // The thread: the one a reply answers (inResponseTo) or names (identifier), else the patient's latest.
    const replyTo = body.inResponseTo?.find((r) => typeof r?.reference === 'string')?.reference as string | undefined;
    const named = body.identifier?.find((i) => i?.system === THREAD_SYSTEM && typeof i.value === 'string')?.value as string | undefined;
    let threadId: string;
    if (replyTo) threadId = (await m.byId(p, parseReference(replyTo, 'Communication')!)).threadId;
    else if (named) threadId = named;
    else threadId = await m.defaultThread(p, patientId);
    return m.send(p, threadId, { text: texts.join('\n\n'), urgent: body.priority !== undefined && body.priority !== 'routine', attachments: files }, patientId);
  }

  app.post('/fhir/R4/Communication', { config: { policy: policy.signedIn('Communications of the patients they may see (the messaging service checks)') } }, async (req, reply) => {
    const sent = await create(requirePrincipal(req), req.body as CommunicationInput);
    return reply.status(201).type(FHIR_JSON).header('location', `${deps.baseUrl()}/Communication/${sent.id}`).send(communicationResource(sent, deps.baseUrl()));
  });

  app.get<{ Params: { id: string } }>('/fhir/R4/Communication/:id', { config: { policy: policy.signedIn('Communications of the patients they may see (the messaging service checks)') } }, async (req, reply) =>
    reply.type(FHIR_JSON).send(communicationResource(await m.byId(requirePrincipal(req), req.params.id), deps.baseUrl())),
  );

  app.get('/fhir/R4/Communication', { config: { policy: policy.signedIn('Communications of the patients they may see (the messaging service checks)') } }, async (req, reply) => {
    const p = requirePrincipal(req);
    const q = req.query as Query;
    const { count, offset } = parsePaging({ _count: one(q._count), _offset: one(q._offset) });
    const subject = one(q.subject) ?? one(q.patient);
    const dates = parseDateParams(all(q.sent));
    const categories = parseTokens(one(q.category));
    const summaryCount = one(q._summary) === 'count';
    const { total, rows } = await m.search(p, {
      patientId: parseReference(subject, 'Patient'), from: dates.from, to: dates.to, categories, limit: summaryCount ? 0 : count, offset,
    });
    const base = deps.baseUrl();
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) for (const value of all(v)) if (k !== '_offset') params.append(k, value);
    const link = (off: number) => {
      const s = new URLSearchParams(params);
      s.set('_offset', String(off));
      s.set('_count', String(count));
      return `${base}/Communication?${s.toString()}`;
    };
    const links = [{ relation: 'self', url: link(offset) }];
    if (offset + count < total && count > 0) links.push({ relation: 'next', url: link(offset + count) });
    if (offset > 0) links.push({ relation: 'previous', url: link(Math.max(0, offset - count)) });
    return reply.type(FHIR_JSON).send({
      resourceType: 'Bundle',
      type: 'searchset',
      total,
      link: links,
      entry: rows.map((r) => ({ fullUrl: `${base}/Communication/${r.id}`, resource: communicationResource(r, base), search: { mode: 'match' } })),
    });
  });
}
