import { policy } from '../policy.ts';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { MessagingService } from '../../messaging/messaging.service.ts';
import { MAX_ATTACHMENT_BYTES } from '../../messaging/attachments.ts';
import { badRequest } from '../../platform/errors.ts';
import { requirePrincipal } from '../principal.ts';

const attachment = z.object({
  name: z.string().max(255).optional(),
  contentType: z.string().max(100).optional(),
  /** base64 of the file's bytes */
  data: z.string().min(1, 'attachment data is empty').max(Math.ceil((MAX_ATTACHMENT_BYTES * 4) / 3) + 8, `an attachment may be at most ${MAX_ATTACHMENT_BYTES / 1048576} MB`),
});
const sendBody = z.object({
  text: z.string().optional(),
  urgent: z.boolean().optional(),
  attachments: z.array(attachment).max(4, 'at most 4 attachments per message').optional(),
});
const threadBody = sendBody.extend({ subject: z.string().max(120, 'subject may be at most 120 characters').optional() });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw badRequest(`${issue.path.length ? issue.path.join('.') + ': ' : ''}${issue.message}`);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
function files(input: z.infer<typeof sendBody>) {
  return input.attachments?.map((a, i) => {
    const data = a.data.replace(/^data:[^,]*,/, '').replace(/\s/g, '');
    if (!BASE64.test(data)) throw badRequest(`attachments.${i}.data must be base64`);
    return { name: a.name, contentType: a.contentType, data: Buffer.from(data, 'base64') };
  });
}

/** Secure messages (docs/api.md → Messages): threads, messages with attachments, read receipts, the inbox. */
export function messageRoutes(app: FastifyInstance, deps: { messaging: MessagingService }) {
  const m = deps.messaging;
  type Id = { Params: { id: string } };

  app.get<{ Querystring: { patient?: string } }>('/api/v1/threads', { config: { policy: policy.signedIn('messages of the patients they may see (the messaging service checks)') } }, async (req) => m.threads(requirePrincipal(req), req.query.patient || undefined));
  app.get('/api/v1/messages/unread', { config: { policy: policy.signedIn('messages of the patients they may see (the messaging service checks)') } }, async (req) => m.unread(requirePrincipal(req)));
  app.post<Id>('/api/v1/patients/:id/threads', { config: { policy: policy.signedIn('messages of the patients they may see (the messaging service checks)') } }, async (req, reply) => {
    const p = requirePrincipal(req);
    const body = parse(threadBody, req.body);
    return reply.status(201).send(await m.createThread(p, req.params.id, { ...body, attachments: files(body) }));
  });
  app.get<Id & { Querystring: { before?: string; limit?: string } }>('/api/v1/threads/:id/messages', { config: { policy: policy.signedIn('messages of the patients they may see (the messaging service checks)') } }, async (req) => {
    const before = req.query.before ? Date.parse(req.query.before) : undefined;
    if (before !== undefined && !Number.isFinite(before)) throw badRequest('before must be an ISO 8601 time');
    const limit = req.query.limit ? Number(req.query.limit) : undefined;
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0 && limit <= 500)) throw badRequest('limit must be 1–500');
    return m.messages(requirePrincipal(req), req.params.id, { before, limit });
  });
  app.post<Id>('/api/v1/threads/:id/messages', { config: { policy: policy.signedIn('messages of the patients they may see (the messaging service checks)') } }, async (req, reply) => {
    const p = requirePrincipal(req);
    const body = parse(sendBody, req.body);
    return reply.status(201).send(await m.send(p, req.params.id, { ...body, attachments: files(body) }));
  });
  app.post<Id>('/api/v1/threads/:id/read', { config: { policy: policy.signedIn('messages of the patients they may see (the messaging service checks)') } }, async (req) => m.markRead(requirePrincipal(req), req.params.id));
  for (const which of ['file', 'thumbnail'] as const) {
    app.get<Id>(`/api/v1/attachments/:id${which === 'thumbnail' ? '/thumbnail' : ''}`, { config: { policy: policy.signedIn('messages of the patients they may see (the messaging service checks)') } }, async (req, reply) => {
      const a = await m.attachment(requirePrincipal(req), req.params.id, which);
      const disposition = a.contentType === 'application/pdf' ? 'attachment' : 'inline';
      return reply
        .type(a.contentType)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', `${disposition}; filename="${(a.title ?? req.params.id).replace(/[^\w.-]/g, '_')}"`)
        .send(a.data);
    });
  }
}
