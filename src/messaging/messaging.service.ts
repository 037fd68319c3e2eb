import type { Principal } from '../domain/types.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { PatientCipher } from '../platform/encryption/index.ts';
import { AppError, badRequest, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import { cleanAttachment, MAX_ATTACHMENTS, type IncomingFile } from './attachments.ts';
import type { MessageCategory, MessagesRepository, SenderKind, StoredMessage } from './messages.repository.ts';

export const MAX_TEXT = 5000;
const MAX_SUBJECT = 120;

/** A message as clients see it (REST, WebSocket): the body opened, attachments as URLs under the same authorisation. */
export interface MessageView {
  id: string;
  threadId: string;
  patientId: string;
  sender: { kind: SenderKind; name: string; ref: string | null; userId: string | null };
  text: string;
  urgent: boolean;
  category: MessageCategory;
  sentAt: string;
  attachments: Array<{
    id: string;
    contentType: string;
    size: number;
    width: number | null;
    height: number | null;
    title: string | null;
    url: string;
    thumbnailUrl: string | null;
  }>;
  readBy: Array<{ userId: string; readAt: string }>;
}

export interface SendInput {
  text?: string;
  urgent?: boolean;
  category?: MessageCategory;
  attachments?: IncomingFile[];
}

/** Who is sending, for senders without an account (a visit guest) or the system. */
export interface Sender {
  kind: SenderKind;
  name: string;
  ref: string | null;
  userId: string | null;
}

/**
 * Secure messaging between a patient and their care team. Bodies and files are sealed with the patient's
 * data key before they reach the database; messages are immutable once sent (a database trigger refuses
 * updates). Every read and write is authorised by the access policy and audited; delivery is live on the
 * dashboard WebSocket (`message.sent` / `message.read` events reach only sockets whose user may see the patient).
 */
export function createMessagingService(deps: {
  repo: MessagesRepository;
  access: AccessPolicy;
  audit: AuditService;
  events: EventBus;
  clock: Clock;
  cipher: PatientCipher;
}) {
  const { repo, access, audit, events, cipher } = deps;

  function senderOf(p: Principal): Sender {
    const kind = access.participantKind(p);
    if (kind === 'patient') return { kind: 'patient', name: p.displayName, ref: p.patientId ? `Patient/${p.patientId}` : null, userId: p.userId };
    // Until caregivers have their own sender kind, a caregiver writes for the patient side under their own name.
    if (kind === 'caregiver') return { kind: 'patient', name: `${p.displayName} (caregiver)`, ref: null, userId: p.userId };
    return { kind: 'staff', name: p.displayName, ref: p.practitionerId ? `Practitioner/${p.practitionerId}` : null, userId: p.userId };
  }

  async function view(m: StoredMessage): Promise<MessageView> {
    return viewWith(m, (await cipher.open(m.patientId, m.body, `message:${m.id}`)).toString('utf8'));
  }

  function viewWith(m: StoredMessage, text: string): MessageView {
    return {
      id: m.id,
      threadId: m.threadId,
      patientId: m.patientId,
      sender: { kind: m.senderKind, name: m.senderName, ref: m.senderRef, userId: m.senderUserId },
      text,
      urgent: m.urgent,
      category: m.category,
      sentAt: new Date(m.sentAt).toISOString(),
      attachments: m.attachments.map(({ hasThumbnail, ...a }) => ({
        ...a,
        url: `/api/v1/attachments/${a.id}`,
        thumbnailUrl: hasThumbnail ? `/api/v1/attachments/${a.id}/thumbnail` : null,
      })),
      readBy: m.readBy.map((r) => ({ userId: r.userId, readAt: new Date(r.readAt).toISOString() })),
    };
  }

  async function threadFor(p: Principal, threadId: string) {
    const t = await repo.thread(threadId);
    if (!t || !(await access.canSeePatient(p, t.patientId))) throw notFound(`thread ${threadId}`);
    return t;
  }

  function checkText(input: SendInput): string {
    if (input.text !== undefined && typeof input.text !== 'string') throw badRequest('text must be a string');
    const text = (input.text ?? '').trim();
    if (text.length > MAX_TEXT) throw badRequest(`text is ${text.length} characters; the limit is ${MAX_TEXT}`);
    if (!text && !input.attachments?.length) throw badRequest('a message needs text or an attachment');
    if ((input.attachments?.length ?? 0) > MAX_ATTACHMENTS) throw badRequest(`at most ${MAX_ATTACHMENTS} attachments per message`);
    return text;
  }

  /** Writes one message (sealed), audits, then emits it live. Used by people, visit guests and the system. */
  async function post(threadId: string, patientId: string, sender: Sender, input: SendInput, actor: Principal | 'system'): Promise<MessageView> {
    const text = checkText(input);
    // Clean every file before storing anything: a bad file refuses the whole message.
    const files = await Promise.all((input.attachments ?? []).map(cleanAttachment));
    const id = newId('msg');
    const sentAt = deps.clock.now();
    const attachments = await Promise.all(
      files.map(async (f) => {
        const aid = newId('att');
        return {
          id: aid,
          contentType: f.contentType,
          size: f.data.length,
          width: f.width,
          height: f.height,
          title: f.title,
          data: await cipher.seal(patientId, f.data, `attachment:${aid}`),
          thumbnail: f.thumbnail ? await cipher.seal(patientId, f.thumbnail, `thumbnail:${aid}`) : null,
        };
      }),
    );
    const category = input.category ?? 'message';
    const urgent = sender.kind === 'patient' && input.urgent === true;
    const row = {
      id,
      threadId,
      patientId,
      senderUserId: sender.userId,
      senderKind: sender.kind,
      senderName: sender.name,
      senderRef: sender.ref,
      body: await cipher.seal(patientId, Buffer.from(text, 'utf8'), `message:${id}`),
      urgent,
      category,
      sentAt,
    };
    // The message, its files and its audit entry commit together (or none of them does).
    await repo.insertMessage(row, attachments, (tx) =>
      audit.recordIn(tx, {
        actor: actor === 'system' ? 'system' : actor,
        action: 'message.send',
        entityType: 'Communication',
        entityId: id,
        patientId,
        details: { threadId, attachments: attachments.length, urgent, category, sender: sender.kind },
      }),
    );
    // What was just written, as clients see it, without reading it back.
    const stored: StoredMessage = {
      ...row,
      attachments: attachments.map(({ data: _d, thumbnail, ...a }) => ({ ...a, hasThumbnail: thumbnail !== null })).sort((a, b) => (a.id < b.id ? -1 : 1)),
      readBy: [],
    };
    const v = viewWith(stored, text);
    events.emit('message.sent', { patientId, threadId, message: v });
    return v;
  }

  return {
    view,

    async createThread(p: Principal, patientId: string, input: SendInput & { subject?: string }) {
      await access.assertPatient(p, patientId);
      if (input.subject !== undefined && typeof input.subject !== 'string') throw badRequest('subject must be a string');
      const subject = (input.subject ?? '').trim().slice(0, MAX_SUBJECT) || 'Message';
      checkText(input);
      const id = newId('thr');
      await repo.createThread({ id, patientId, subject, createdBy: p.userId });
      const message = await post(id, patientId, senderOf(p), input, p);
      return { id, patientId, subject, message };
    },

    /** The inbox: threads the principal may see, urgent unanswered first, with their unread counts. */
    async threads(p: Principal, patientId?: string) {
      let ids = await access.visiblePatientIds(p);
      if (patientId) {
        await access.assertPatient(p, patientId);
        ids = [patientId];
      }
      const rows = await repo.threads(ids, p.userId);
      return rows.map((t) => ({ ...t, createdAt: new Date(t.createdAt).toISOString(), lastMessageAt: new Date(t.lastMessageAt).toISOString() }));
    },

    async unread(p: Principal) {
      return { unread: await repo.unreadCount(await access.visiblePatientIds(p), p.userId) };
    },

    async messages(p: Principal, threadId: string, opts: { before?: number; limit?: number } = {}) {
      const t = await threadFor(p, threadId);
      const rows = await repo.messages(threadId, opts);
      await audit.record({
        actor: p,
        action: 'message.read',
        entityType: 'Thread',
        entityId: threadId,
        patientId: t.patientId,
        details: { count: rows.length },
      });
      return { thread: t, messages: await Promise.all(rows.map(view)) };
    },

    async send(p: Principal, threadId: string, input: SendInput, expectPatientId?: string) {
      const t = await threadFor(p, threadId);
      if (expectPatientId && t.patientId !== expectPatientId) throw new AppError('CONFLICT', `thread ${threadId} belongs to another patient`);
      return post(threadId, t.patientId, senderOf(p), input, p);
    },

    /** For other modules (visit chat from a guest, visit summaries): the caller has authorised the sender. */
    postAs: (threadId: string, patientId: string, sender: Sender, input: SendInput, actor: Principal | 'system') =>
      post(threadId, patientId, sender, input, actor),

    /** A thread for a patient created by the system (a visit's chat) when none is given. */
    async ensureThread(patientId: string, subject: string, createdBy: string): Promise<string> {
      const id = newId('thr');
      await repo.createThread({ id, patientId, subject: subject.slice(0, MAX_SUBJECT), createdBy });
      return id;
    },

    /**
     * Read receipts: everything in the thread not sent by this user is now read by them. The receipts and their
     * `message.read` entry (patient, messages) commit together ((d)(2)); nothing newly read, nothing recorded.
     */
    async markRead(p: Principal, threadId: string) {
      const t = await threadFor(p, threadId);
      const at = deps.clock.now();
      const ids = await audit.change(async (tx, log) => {
        const read = await repo.markRead(threadId, p.userId, at, tx);
        if (read.length)
          log({
            actor: p,
            action: 'message.read',
            entityType: 'Thread',
            entityId: threadId,
            patientId: t.patientId,
            details: { receipt: true, count: read.length, messageIds: read },
          });
        return read;
      });
      if (ids.length) {
        events.emit('message.read', {
          patientId: t.patientId,
          threadId,
          userId: p.userId,
          name: p.displayName,
          messageIds: ids,
          readAt: new Date(at).toISOString(),
        });
      }
      return { read: ids.length };
    },

    async attachment(p: Principal, attachmentId: string, which: 'file' | 'thumbnail') {
      const a = await repo.attachment(attachmentId);
      if (!a || !(await access.canSeePatient(p, a.patientId))) throw notFound(`attachment ${attachmentId}`);
      const sealed = which === 'thumbnail' ? a.thumbnail : a.data;
      if (!sealed) throw notFound(`thumbnail of attachment ${attachmentId}`);
      const data = await cipher.open(a.patientId, sealed, `${which === 'thumbnail' ? 'thumbnail' : 'attachment'}:${a.id}`);
      await audit.record({ actor: p, action: 'attachment.read', entityType: 'Attachment', entityId: a.id, patientId: a.patientId, details: { which } });
      return { contentType: which === 'thumbnail' ? 'image/jpeg' : a.contentType, title: a.title, data };
    },

    /** Messages by id for a FHIR search the caller has scoped to the patients they may see (the search is audited per patient). */
    async views(p: Principal, ids: string[]): Promise<MessageView[]> {
      const rows = await repo.byIds(ids);
      for (const patientId of new Set(rows.map((r) => r.patientId)))
        await audit.record({
          actor: p,
          action: 'fhir.search',
          entityType: 'Communication',
          patientId,
          details: { count: rows.filter((r) => r.patientId === patientId).length },
        });
      return Promise.all(rows.map(view));
    },

    async byId(p: Principal, id: string) {
      const m = await repo.message(id);
      if (!m || !(await access.canSeePatient(p, m.patientId))) throw notFound(`Communication/${id}`);
      await audit.record({ actor: p, action: 'fhir.read', entityType: 'Communication', entityId: id, patientId: m.patientId });
      return view(m);
    },

    /** Where a FHIR Communication without a thread goes: the patient's latest thread, or a new one. */
    async defaultThread(p: Principal, patientId: string): Promise<string> {
      await access.assertPatient(p, patientId);
      return (await repo.latestThreadOf(patientId)) ?? (await this.ensureThread(patientId, 'Messages', p.userId));
    },
  };
}

export type MessagingService = ReturnType<typeof createMessagingService>;
