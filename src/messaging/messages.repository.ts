import type { Db, Queryable } from '../platform/db.ts';
import { sealedTextColumn, type PatientCipherAdmin } from '../platform/encryption/index.ts';

/**
 * SQL for threads, messages, attachments and read receipts. Bodies and files arrive here already sealed; thread
 * subjects and attachment file names are sealed here (patient free text: "HIV result", "rash.jpg"), with the
 * patient's key, so erasure's crypto-shred reaches them in backups too.
 */

export interface ThreadRow {
  id: string;
  patientId: string;
  patientName: string;
  subject: string;
  createdAt: number;
  lastMessageAt: number;
  urgentOpen: boolean;
  unread: number;
  messageCount: number;
}

export type SenderKind = 'patient' | 'staff' | 'guest' | 'system';
export type MessageCategory = 'message' | 'visit-chat' | 'visit-summary' | 'notification';

export interface StoredMessage {
  id: string;
  threadId: string;
  patientId: string;
  senderUserId: string | null;
  senderKind: SenderKind;
  senderName: string;
  senderRef: string | null;
  body: Uint8Array;
  urgent: boolean;
  category: MessageCategory;
  sentAt: number;
  attachments: AttachmentMeta[];
  readBy: Array<{ userId: string; readAt: number }>;
}

export interface AttachmentMeta {
  id: string;
  contentType: string;
  size: number;
  width: number | null;
  height: number | null;
  title: string | null;
  hasThumbnail: boolean;
}

export interface NewAttachment {
  id: string;
  contentType: string;
  size: number;
  width: number | null;
  height: number | null;
  title: string | null;
  data: Uint8Array;
  thumbnail: Uint8Array | null;
}

const ms = (d: Date | string) => new Date(d).getTime();
const bytes = (b: unknown): Uint8Array => (b instanceof Uint8Array ? b : Buffer.from(b as ArrayBuffer));

export function createMessagesRepository(db: Db, cipher: Pick<PatientCipherAdmin, 'sealText' | 'openText'>) {
  const subjects = sealedTextColumn(cipher, 'thread.subject');
  const titles = sealedTextColumn(cipher, 'attachment.title');
  async function attachmentsOf(q: Queryable, messageIds: string[]): Promise<Map<string, AttachmentMeta[]>> {
    const out = new Map<string, AttachmentMeta[]>();
    if (messageIds.length === 0) return out;
    const rows = await q.query<{
      id: string;
      message_id: string;
      patient_id: string;
      content_type: string;
      size: number;
      width: number | null;
      height: number | null;
      title: string | null;
      has_thumb: boolean;
    }>(
      `SELECT id, message_id, patient_id, content_type, size, width, height, title, thumbnail IS NOT NULL AS has_thumb
       FROM message_attachments WHERE message_id = ANY($1) ORDER BY id`,
      [messageIds],
    );
    for (const r of rows) {
      const list = out.get(r.message_id) ?? [];
      const title = await titles.open(r.patient_id, r.title, r.id);
      list.push({ id: r.id, contentType: r.content_type, size: r.size, width: r.width, height: r.height, title, hasThumbnail: r.has_thumb });
      out.set(r.message_id, list);
    }
    return out;
  }

  async function readsOf(q: Queryable, messageIds: string[]): Promise<Map<string, Array<{ userId: string; readAt: number }>>> {
    const out = new Map<string, Array<{ userId: string; readAt: number }>>();
    if (messageIds.length === 0) return out;
    const rows = await q.query<{ message_id: string; user_id: string; read_at: Date }>(
      'SELECT message_id, user_id, read_at FROM message_reads WHERE message_id = ANY($1) ORDER BY read_at',
      [messageIds],
    );
    for (const r of rows) {
      const list = out.get(r.message_id) ?? [];
      list.push({ userId: r.user_id, readAt: ms(r.read_at) });
      out.set(r.message_id, list);
    }
    return out;
  }

  type MessageDbRow = {
    id: string;
    thread_id: string;
    patient_id: string;
    sender_user_id: string | null;
    sender_kind: SenderKind;
    sender_name: string;
    sender_ref: string | null;
    body: unknown;
    urgent: boolean;
    category: MessageCategory;
    sent_at: Date;
  };

  async function hydrate(q: Queryable, rows: MessageDbRow[]): Promise<StoredMessage[]> {
    const ids = rows.map((r) => r.id);
    const [atts, reads] = await Promise.all([attachmentsOf(q, ids), readsOf(q, ids)]);
    return rows.map((r) => ({
      id: r.id,
      threadId: r.thread_id,
      patientId: r.patient_id,
      senderUserId: r.sender_user_id,
      senderKind: r.sender_kind,
      senderName: r.sender_name,
      senderRef: r.sender_ref,
      body: bytes(r.body),
      urgent: r.urgent,
      category: r.category,
      sentAt: ms(r.sent_at),
      attachments: atts.get(r.id) ?? [],
      readBy: reads.get(r.id) ?? [],
    }));
  }

  return {
    async createThread(t: { id: string; patientId: string; subject: string; createdBy: string }): Promise<void> {
      await db.query('INSERT INTO message_threads (id, patient_id, subject, created_by) VALUES ($1, $2, $3, $4)', [
        t.id,
        t.patientId,
        await subjects.seal(t.patientId, t.subject, t.id),
        t.createdBy,
      ]);
    },

    async thread(id: string): Promise<{ id: string; patientId: string; subject: string } | null> {
      const [r] = await db.query<{ id: string; patient_id: string; subject: string }>('SELECT id, patient_id, subject FROM message_threads WHERE id = $1', [
        id,
      ]);
      return r ? { id: r.id, patientId: r.patient_id, subject: (await subjects.open(r.patient_id, r.subject, r.id)) ?? '' } : null;
    },

    /** The patient's most recently active thread, if any (where FHIR Communication without a thread lands). */
    async latestThreadOf(patientId: string): Promise<string | null> {
      const [r] = await db.query<{ id: string }>('SELECT id FROM message_threads WHERE patient_id = $1 ORDER BY last_message_at DESC LIMIT 1', [patientId]);
      return r?.id ?? null;
    },

    /**
     * Threads of these patients (null = all) with this user's unread count. Urgent unanswered threads first,
     * then the most recent activity (the clinicians' inbox order).
     */
    async threads(patientIds: string[] | null, userId: string, limit = 200): Promise<ThreadRow[]> {
      const rows = await db.query<{
        id: string;
        patient_id: string;
        patient_name: string;
        subject: string;
        created_at: Date;
        last_message_at: Date;
        urgent_open: boolean;
        unread: string;
        message_count: string;
      }>(
        `SELECT t.id, t.patient_id, p.name AS patient_name, t.subject, t.created_at, t.last_message_at, t.urgent_open,
                (SELECT count(*) FROM messages m WHERE m.thread_id = t.id AND m.sender_user_id IS DISTINCT FROM $2
                   AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.message_id = m.id AND r.user_id = $2)) AS unread,
                (SELECT count(*) FROM messages m WHERE m.thread_id = t.id) AS message_count
         FROM message_threads t JOIN patients p ON p.id = t.patient_id
         WHERE ($1::text[] IS NULL OR t.patient_id = ANY($1))
         ORDER BY t.urgent_open DESC, t.last_message_at DESC LIMIT $3`,
        [patientIds, userId, limit],
      );
      const opened = await Promise.all(rows.map((r) => subjects.open(r.patient_id, r.subject, r.id)));
      return rows.map((r, i) => ({
        id: r.id,
        patientId: r.patient_id,
        patientName: r.patient_name,
        subject: opened[i] ?? '',
        createdAt: ms(r.created_at),
        lastMessageAt: ms(r.last_message_at),
        urgentOpen: r.urgent_open,
        unread: Number(r.unread),
        messageCount: Number(r.message_count),
      }));
    },

    async unreadCount(patientIds: string[] | null, userId: string): Promise<number> {
      const [r] = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM messages m WHERE ($1::text[] IS NULL OR m.patient_id = ANY($1)) AND m.sender_user_id IS DISTINCT FROM $2
           AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.message_id = m.id AND r.user_id = $2)`,
        [patientIds, userId],
      );
      return Number(r?.n ?? 0);
    },

    /** Inserts a message and its attachments in one transaction, and moves the thread's activity and urgency. */
    /** `alsoInTx` runs in the same transaction (the audit entry commits with the message, or neither does). */
    async insertMessage(
      m: Omit<StoredMessage, 'attachments' | 'readBy' | 'sentAt'> & { sentAt: number },
      attachments: NewAttachment[],
      alsoInTx?: (tx: Queryable) => Promise<void>,
    ): Promise<void> {
      // Sealed before the transaction: sealing may read or create the patient's key with `db`, which on PGlite
      // would wait behind this very transaction.
      const titleOf = new Map<string, string | null>();
      for (const a of attachments) titleOf.set(a.id, await titles.seal(m.patientId, a.title, a.id));
      await db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO messages (id, thread_id, patient_id, sender_user_id, sender_kind, sender_name, sender_ref, body, urgent, category, sent_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            m.id,
            m.threadId,
            m.patientId,
            m.senderUserId,
            m.senderKind,
            m.senderName,
            m.senderRef,
            m.body,
            m.urgent,
            m.category,
            new Date(m.sentAt).toISOString(),
          ],
        );
        for (const a of attachments) {
          await tx.query(
            `INSERT INTO message_attachments (id, message_id, patient_id, content_type, size, width, height, title, data, thumbnail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
            [a.id, m.id, m.patientId, a.contentType, a.size, a.width, a.height, titleOf.get(a.id) ?? null, a.data, a.thumbnail],
          );
        }
        // A patient's urgent message raises the thread; any answer from the care team settles it.
        const urgent = m.senderKind === 'patient' ? (m.urgent ? 'true' : 'urgent_open') : m.senderKind === 'staff' ? 'false' : 'urgent_open';
        await tx.query(`UPDATE message_threads SET last_message_at = GREATEST(last_message_at, $2), urgent_open = ${urgent} WHERE id = $1`, [
          m.threadId,
          new Date(m.sentAt).toISOString(),
        ]);
        await alsoInTx?.(tx);
      });
    },

    async messages(threadId: string, opts: { limit?: number; before?: number } = {}): Promise<StoredMessage[]> {
      const rows = await db.query<MessageDbRow>(
        `SELECT * FROM (SELECT * FROM messages WHERE thread_id = $1 AND ($2::timestamptz IS NULL OR sent_at < $2) ORDER BY sent_at DESC, id DESC LIMIT $3) x ORDER BY sent_at, id`,
        [threadId, opts.before ? new Date(opts.before).toISOString() : null, opts.limit ?? 200],
      );
      return hydrate(db, rows);
    },

    async message(id: string): Promise<StoredMessage | null> {
      const rows = await db.query<MessageDbRow>('SELECT * FROM messages WHERE id = $1', [id]);
      return (await hydrate(db, rows))[0] ?? null;
    },

    /** Messages by id, in the order given (FHIR search pages). */
    async byIds(ids: string[]): Promise<StoredMessage[]> {
      if (!ids.length) return [];
      const rows = await db.query<MessageDbRow>('SELECT * FROM messages WHERE id = ANY($1)', [ids]);
      const byId = new Map((await hydrate(db, rows)).map((m) => [m.id, m]));
      return ids.map((id) => byId.get(id)).filter((m): m is StoredMessage => !!m);
    },

    /** Marks every message of the thread not sent by this user as read by them; returns the newly read ids. */
    async markRead(threadId: string, userId: string, at: number, q: Queryable = db): Promise<string[]> {
      const rows = await q.query<{ message_id: string }>(
        `INSERT INTO message_reads (message_id, user_id, read_at)
         SELECT m.id, $2, $3 FROM messages m WHERE m.thread_id = $1 AND m.sender_user_id IS DISTINCT FROM $2
         ON CONFLICT DO NOTHING RETURNING message_id`,
        [threadId, userId, new Date(at).toISOString()],
      );
      return rows.map((r) => r.message_id);
    },

    async attachment(id: string): Promise<(AttachmentMeta & { messageId: string; patientId: string; data: Uint8Array; thumbnail: Uint8Array | null }) | null> {
      const [r] = await db.query<{
        id: string;
        message_id: string;
        patient_id: string;
        content_type: string;
        size: number;
        width: number | null;
        height: number | null;
        title: string | null;
        data: unknown;
        thumbnail: unknown;
      }>('SELECT * FROM message_attachments WHERE id = $1', [id]);
      if (!r) return null;
      return {
        id: r.id,
        messageId: r.message_id,
        patientId: r.patient_id,
        contentType: r.content_type,
        size: r.size,
        width: r.width,
        height: r.height,
        title: await titles.open(r.patient_id, r.title, r.id),
        hasThumbnail: r.thumbnail != null,
        data: bytes(r.data),
        thumbnail: r.thumbnail == null ? null : bytes(r.thumbnail),
      };
    },
  };
}

export type MessagesRepository = ReturnType<typeof createMessagesRepository>;
