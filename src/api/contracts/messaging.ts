import { z } from 'zod';
import { IsoTime, TimeParam } from './common.ts';

/** Secure messaging (docs/api.md → Messages): threads, messages with attachments, read receipts, the inbox. */

/** Limits shared by the contract and the messaging service (messaging/attachments.ts checks the bytes). */
export const MESSAGE_LIMITS = { text: 5000, subject: 120, attachments: 4, attachmentBytes: 5 * 1024 * 1024 } as const;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_BASE64 = Math.ceil((MESSAGE_LIMITS.attachmentBytes * 4) / 3) + 8;

/** A file as the web app sends it: base64 (a `data:` URL prefix and line breaks are accepted), decoded here. */
export const AttachmentUpload = z.object({
  name: z.string().max(255, 'name may be at most 255 characters').optional(),
  contentType: z.string().max(100).optional(),
  data: z
    .string({ error: 'data is required: the file as base64' })
    .min(1, 'attachment data is empty')
    .max(MAX_BASE64, `an attachment may be at most ${MESSAGE_LIMITS.attachmentBytes / 1048576} MB`)
    .transform((s, ctx) => {
      const data = s.replace(/^data:[^,]*,/, '').replace(/\s/g, '');
      if (!data || !BASE64.test(data)) {
        ctx.addIssue({ code: 'custom', message: 'must be base64' });
        return z.NEVER;
      }
      return Buffer.from(data, 'base64');
    })
    .describe('the file as base64'),
});

export const SendMessageBody = z.object({
  text: z.string({ error: 'text must be a string' }).max(MESSAGE_LIMITS.text, `text may be at most ${MESSAGE_LIMITS.text} characters`).optional(),
  urgent: z.boolean({ error: 'urgent must be true or false' }).optional(),
  attachments: z.array(AttachmentUpload).max(MESSAGE_LIMITS.attachments, `at most ${MESSAGE_LIMITS.attachments} attachments per message`).optional(),
});

export const CreateThreadBody = SendMessageBody.extend({
  subject: z.string().max(MESSAGE_LIMITS.subject, `subject may be at most ${MESSAGE_LIMITS.subject} characters`).optional(),
});

/** What the web app sends (before the server decodes the base64): the request shapes, for the client. */
export type AttachmentUploadInput = z.input<typeof AttachmentUpload>;
export type SendMessageInput = z.input<typeof SendMessageBody>;
export type CreateThreadInput = z.input<typeof CreateThreadBody>;

export const ThreadsQuery = z.object({ patient: z.string().max(200).optional() });

export const MessagesQuery = z.object({
  before: TimeParam.optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'limit must be a whole number 1–500')
    .transform(Number)
    .pipe(z.number().int().min(1, 'limit must be 1–500').max(500, 'limit must be 1–500'))
    .optional(),
});

export const SenderKind = z.enum(['patient', 'staff', 'guest', 'system']);
export const MessageCategory = z.enum(['message', 'visit-chat', 'visit-summary', 'notification']);

export const MessageAttachment = z.object({
  id: z.string(),
  contentType: z.string(),
  size: z.number(),
  width: z.number().nullable(),
  height: z.number().nullable(),
  title: z.string().nullable(),
  /** Under the same authorisation as the message (GET /api/v1/attachments/{id}). */
  url: z.string(),
  thumbnailUrl: z.string().nullable(),
});
export type MessageAttachment = z.infer<typeof MessageAttachment>;

/** A message as clients see it (REST, the live stream): the body opened, files as URLs. Never edited after sending. */
export const Message = z
  .object({
    id: z.string(),
    threadId: z.string(),
    patientId: z.string(),
    sender: z.object({ kind: SenderKind, name: z.string(), ref: z.string().nullable(), userId: z.string().nullable() }),
    text: z.string(),
    urgent: z.boolean(),
    category: MessageCategory,
    sentAt: IsoTime,
    attachments: z.array(MessageAttachment),
    readBy: z.array(z.object({ userId: z.string(), readAt: IsoTime })),
  })
  .meta({ id: 'Message' });
export type Message = z.infer<typeof Message>;

/** An inbox row: urgent unanswered threads first, with this user's unread count. */
export const Thread = z
  .object({
    id: z.string(),
    patientId: z.string(),
    patientName: z.string(),
    subject: z.string(),
    createdAt: IsoTime,
    lastMessageAt: IsoTime,
    urgentOpen: z.boolean(),
    unread: z.number(),
    messageCount: z.number(),
  })
  .meta({ id: 'Thread' });
export type Thread = z.infer<typeof Thread>;

export const ThreadRef = z.object({ id: z.string(), patientId: z.string(), subject: z.string() });

export const ThreadCreated = ThreadRef.extend({ message: Message });
export const ThreadMessages = z.object({ thread: ThreadRef, messages: z.array(Message) });
export type ThreadMessages = z.infer<typeof ThreadMessages>;
export type ThreadCreated = z.infer<typeof ThreadCreated>;
export const UnreadCount = z.object({ unread: z.number() });
export type UnreadCount = z.infer<typeof UnreadCount>;
export const ReadResult = z.object({ read: z.number() });
export type ReadResult = z.infer<typeof ReadResult>;

/** The stored file or its thumbnail, with its own content type (not JSON). */
export const AttachmentBytes = z.unknown().describe('the file bytes (image/jpeg, image/png, image/webp, image/gif or application/pdf)');
