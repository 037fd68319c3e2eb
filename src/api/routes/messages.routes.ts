import { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS } from '../../messaging/attachments.ts';
import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { MessagingService } from '../../messaging/messaging.service.ts';
import { requirePrincipal } from '../principal.ts';
import {
  AttachmentBytes,
  CreateThreadBody,
  IdParams,
  Message,
  MessagesQuery,
  ReadResult,
  SendMessageBody,
  Thread,
  ThreadCreated,
  ThreadMessages,
  ThreadsQuery,
  UnreadCount,
} from '../contracts/index.ts';

/**
 * Four attachments of the largest allowed size, base64 in JSON (4/3) and the text: the server's 8 MB default
 * refused two photos each within the 5 MB limit, with "Request body is too large" (found by review).
 */
const MESSAGE_BODY_LIMIT = Math.ceil((MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES * 4) / 3) + 256 * 1024;

const SCOPE = 'messages of the patients they may see (the messaging service checks)';

/** Secure messages (docs/api.md → Messages): threads, messages with attachments, read receipts, the inbox. */
export function messageRoutes(app: Api, deps: { messaging: MessagingService }) {
  const m = deps.messaging;

  app.get(
    '/api/v1/threads',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'The inbox: threads, urgent unanswered first, with unread counts', querystring: ThreadsQuery, response: { 200: Thread.array() } },
    },
    async (req) => m.threads(requirePrincipal(req), req.query.patient || undefined),
  );

  app.get(
    '/api/v1/messages/unread',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'How many messages this user has not read', response: { 200: UnreadCount } },
    },
    async (req) => m.unread(requirePrincipal(req)),
  );

  app.post(
    '/api/v1/patients/:id/threads',
    {
      bodyLimit: MESSAGE_BODY_LIMIT,
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'Start a thread about a patient with its first message', params: IdParams, body: CreateThreadBody, response: { 201: ThreadCreated } },
    },
    async (req, reply) => reply.status(201).send(await m.createThread(requirePrincipal(req), req.params.id, req.body)),
  );

  app.get(
    '/api/v1/threads/:id/messages',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: {
        summary: "A thread's messages, oldest first (page back with before=)",
        params: IdParams,
        querystring: MessagesQuery,
        response: { 200: ThreadMessages },
      },
    },
    async (req) => m.messages(requirePrincipal(req), req.params.id, req.query),
  );

  app.post(
    '/api/v1/threads/:id/messages',
    {
      bodyLimit: MESSAGE_BODY_LIMIT,
      config: { policy: policy.signedIn(SCOPE) },
      schema: {
        summary: 'Send a message (text and up to 4 photos or PDFs, checked by content)',
        params: IdParams,
        body: SendMessageBody,
        response: { 201: Message },
      },
    },
    async (req, reply) => reply.status(201).send(await m.send(requirePrincipal(req), req.params.id, req.body)),
  );

  app.post(
    '/api/v1/threads/:id/read',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'Read receipt: everything in the thread not sent by this user is now read', params: IdParams, response: { 200: ReadResult } },
    },
    async (req) => m.markRead(requirePrincipal(req), req.params.id),
  );

  for (const which of ['file', 'thumbnail'] as const) {
    app.get(
      `/api/v1/attachments/:id${which === 'thumbnail' ? '/thumbnail' : ''}`,
      {
        config: { policy: policy.signedIn(SCOPE) },
        schema: {
          summary: which === 'file' ? 'An attachment (same authorisation as its message)' : "An image attachment's thumbnail (JPEG)",
          params: IdParams,
          response: { 200: AttachmentBytes },
        },
      },
      async (req, reply) => {
        const a = await m.attachment(requirePrincipal(req), req.params.id, which);
        const disposition = a.contentType === 'application/pdf' ? 'attachment' : 'inline';
        return reply
          .type(a.contentType)
          .header('cache-control', 'private, no-store')
          .header('x-content-type-options', 'nosniff')
          .header('content-disposition', `${disposition}; filename="${(a.title ?? req.params.id).replace(/[^\w.-]/g, '_')}"`)
          .send(a.data);
      },
    );
  }
}
