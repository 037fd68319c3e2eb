import { policy } from '../api/policy.ts';
import type { Api } from '../api/http-server.ts';
import { CommunicationCreate, FhirResource, FhirSearchQuery, IdParams } from '../api/contracts/index.ts';
import type { Principal } from '../domain/types.ts';
import type { MessagingService, MessageView } from './messaging.service.ts';
import { forbidden } from '../platform/errors.ts';
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

export function communicationFhirRoutes(app: Api, deps: { messaging: MessagingService; baseUrl: () => string }) {
  const m = deps.messaging;
  registerCapability({
    type: 'Communication',
    interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }],
    searchParam: ['subject:reference', 'patient:reference', 'sent:date', 'category:token', '_count:number', '_summary:token'].map((s) => ({ name: s.split(':')[0], type: s.split(':')[1] })),
  });
  if (!app.hasContentTypeParser('application/fhir+json')) {
    app.addContentTypeParser('application/fhir+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  }

  async function create(p: Principal, body: CommunicationCreate) {
    const patientId = parseReference(body.subject.reference, 'Patient')!;
    if (p.role === 'patient' && p.patientId !== patientId) throw forbidden('a patient can send messages only about themself (subject must be your own Patient)');
    const texts: string[] = [];
    const files: Array<{ name?: string; contentType?: string; data: Buffer }> = [];
    for (const item of body.payload) {
      if (typeof item.contentString === 'string') texts.push(item.contentString);
      else if (item.contentAttachment?.data !== undefined) files.push({ name: item.contentAttachment.title, contentType: item.contentAttachment.contentType, data: Buffer.from(item.contentAttachment.data, 'base64') });
    }
    // The thread: the one a reply answers (inResponseTo) or names (identifier), else the patient's latest.
    const replyTo = body.inResponseTo?.find((r) => typeof r.reference === 'string')?.reference;
    const named = body.identifier?.find((i) => i.system === THREAD_SYSTEM && typeof i.value === 'string')?.value;
    let threadId: string;
    if (replyTo) threadId = (await m.byId(p, parseReference(replyTo, 'Communication')!)).threadId;
    else if (named) threadId = named;
    else threadId = await m.defaultThread(p, patientId);
    return m.send(p, threadId, { text: texts.join('\n\n'), urgent: body.priority !== undefined && body.priority !== 'routine', attachments: files }, patientId);
  }

  const SCOPE = 'Communications of the patients they may see (the messaging service checks)';
  app.post('/fhir/R4/Communication', {
    config: { policy: policy.signedIn(SCOPE) },
    schema: { summary: 'FHIR Communication create: a message about a patient (a patient: about themself)', body: CommunicationCreate, response: { 201: FhirResource } },
  }, async (req, reply) => {
    const sent = await create(requirePrincipal(req), req.body);
    return reply.status(201).type(FHIR_JSON).header('location', `${deps.baseUrl()}/Communication/${sent.id}`).send(communicationResource(sent, deps.baseUrl()));
  });

  app.get('/fhir/R4/Communication/:id', { config: { policy: policy.signedIn(SCOPE) }, schema: { summary: 'FHIR Communication read', params: IdParams, response: { 200: FhirResource } } }, async (req, reply) =>
    reply.type(FHIR_JSON).send(communicationResource(await m.byId(requirePrincipal(req), req.params.id), deps.baseUrl())),
  );

  app.get('/fhir/R4/Communication', { config: { policy: policy.signedIn(SCOPE) }, schema: { summary: 'FHIR Communication search (subject/patient, sent, category)', querystring: FhirSearchQuery, response: { 200: FhirResource } } }, async (req, reply) => {
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
