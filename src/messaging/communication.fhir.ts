import type { Principal } from '../domain/types.ts';
import type { Db } from '../platform/db.ts';
import type { MessagingService, MessageView } from './messaging.service.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { ResourceProvider } from '../api/fhir/registry.ts';
import type { Resource } from '../api/fhir/mapping.ts';
import { fromFhirId, referenceId, toFhirId } from '../api/fhir/ids.ts';
import { paramsNamed, parseToken } from '../api/fhir/search/params.ts';
import { narrowPatients, referenceIds } from '../api/fhir/search/reference.ts';
import { dateSql, parseDateValue } from '../api/fhir/search/date.ts';
import { tableSearch } from '../api/fhir/resources/table-search.ts';
import type { SqlParams } from '../api/fhir/search/sql.ts';
import { CommunicationCreate } from '../api/contracts/index.ts';
import { badRequest } from '../platform/errors.ts';

/**
 * FHIR R4 Communication over the messages (https://hl7.org/fhir/R4/communication.html), a provider on the
 * FHIR registry: read (and vread/history: a message is immutable, so it is always version 1), search by
 * subject/patient, sent, category, _id, and create by a patient (subject = themself) or their care team.
 * Attachments are `Attachment`s whose `url` is the app's attachment route: the same authorisation applies.
 */

const CATEGORY_SYSTEM = 'https://vigil.health/fhir/CodeSystem/message-category';
const THREAD_SYSTEM = 'urn:vigil:thread';

/** `Patient/pat_1` (how senders are stored) → `Patient/pat-1` (a conformant FHIR reference). */
export const fhirReference = (ref: string) => {
  const i = ref.indexOf('/');
  return i < 0 ? ref : `${ref.slice(0, i)}/${toFhirId(ref.slice(i + 1))}`;
};

export function communicationResource(m: MessageView, base: string): Resource {
  const origin = base.replace(/\/fhir\/R4$/, '');
  return {
    resourceType: 'Communication',
    id: toFhirId(m.id),
    meta: { versionId: '1', lastUpdated: m.sentAt },
    identifier: [{ system: THREAD_SYSTEM, value: m.threadId }],
    status: 'completed',
    category: [{ coding: [{ system: CATEGORY_SYSTEM, code: m.category }] }],
    priority: m.urgent ? 'urgent' : 'routine',
    subject: { reference: `Patient/${toFhirId(m.patientId)}` },
    sent: m.sentAt,
    ...(m.readBy.length ? { received: m.readBy[0].readAt } : {}),
    sender: { ...(m.sender.ref ? { reference: fhirReference(m.sender.ref) } : {}), display: m.sender.name },
    payload: [
      ...(m.text ? [{ contentString: m.text }] : []),
      ...m.attachments.map((a) => ({
        contentAttachment: { contentType: a.contentType, url: origin + a.url, size: a.size, ...(a.title ? { title: a.title } : {}) },
      })),
    ],
  } as Resource;
}

/** Zod's first issue as `payload.0: …`, the same wording the REST API uses. */
function parseOrThrow(body: unknown): CommunicationCreate {
  const r = CommunicationCreate.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw badRequest(`${issue.path.length ? issue.path.join('.') + ': ' : ''}${issue.message}`);
}

export function communicationProvider(deps: {
  db: Db;
  messaging: MessagingService;
  access: AccessPolicy;
}): ResourceProvider & { create(ctx: { principal: Principal; baseUrl: string }, resource: unknown): Promise<Resource> } {
  const m = deps.messaging;
  return {
    type: 'Communication',
    interactions: ['read', 'vread', 'history-instance', 'search-type', 'create'],
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: 'subject', type: 'reference', modifiers: ['Patient'], documentation: 'The patient the message is about (Patient/{id})' },
        { name: 'patient', type: 'reference', documentation: 'The patient the message is about' },
        { name: 'sent', type: 'date', documentation: 'When it was sent (all prefixes)' },
        { name: 'category', type: 'token', documentation: `message, visit-chat, visit-summary or notification (system ${CATEGORY_SYSTEM})` },
      ],
    },

    async read(ctx, id) {
      return communicationResource(await m.byId(ctx.principal, fromFhirId(id)), ctx.baseUrl);
    },

    async searchType(ctx, req) {
      const visible = await deps.access.visiblePatientIds(ctx.principal);
      const patients = narrowPatients(
        visible,
        [...paramsNamed(req, 'subject'), ...paramsNamed(req, 'patient')].map((p) => referenceIds(p, 'Patient')),
      );
      const where = (sql: SqlParams): string[] | null => {
        if (patients !== null && patients.length === 0) return null;
        const w: string[] = [];
        if (patients) w.push(`patient_id = ANY(${sql.p(patients)}::text[])`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, 'sent'))
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, 'sent'), 'sent_at', 'sent_at', sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'category')) {
          const codes = p.values
            .map(parseToken)
            .filter((t) => t.system === undefined || t.system === CATEGORY_SYSTEM)
            .map((t) => t.code ?? '');
          w.push(`category = ANY(${sql.p(codes)}::text[])`);
        }
        return w;
      };
      const r = await tableSearch<{ id: string }, string>(deps.db, req, { from: 'messages', columns: 'id', where, map: (row) => row.id });
      const views = await m.views(ctx.principal, r.resources);
      return { resources: views.map((v) => communicationResource(v, ctx.baseUrl)), total: r.total, next: r.next };
    },

    async create(ctx, resource) {
      const p = ctx.principal;
      const body = parseOrThrow(resource);
      const patientId = referenceId(body.subject.reference, 'Patient')!;
      const texts: string[] = [];
      const files: Array<{ name?: string; contentType?: string; data: Buffer }> = [];
      for (const item of body.payload) {
        if (typeof item.contentString === 'string') texts.push(item.contentString);
        else if (item.contentAttachment?.data !== undefined)
          files.push({
            name: item.contentAttachment.title,
            contentType: item.contentAttachment.contentType,
            data: Buffer.from(item.contentAttachment.data, 'base64'),
          });
      }
      // The thread: the one a reply answers (inResponseTo) or names (identifier), else the patient's latest.
      const replyTo = body.inResponseTo?.find((r) => typeof r.reference === 'string')?.reference;
      const named = body.identifier?.find((i) => i.system === THREAD_SYSTEM && typeof i.value === 'string')?.value;
      await deps.access.assertWritesAbout(p, patientId);
      let threadId: string;
      if (replyTo) threadId = (await m.byId(p, referenceId(replyTo, 'Communication') ?? '')).threadId;
      else if (named) threadId = named;
      else threadId = await m.defaultThread(p, patientId);
      const sent = await m.send(
        p,
        threadId,
        { text: texts.join('\n\n'), urgent: body.priority !== undefined && body.priority !== 'routine', attachments: files },
        patientId,
      );
      return communicationResource(sent, ctx.baseUrl);
    },
  };
}
