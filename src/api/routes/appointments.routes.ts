import { policy } from '../policy.ts';
import type { FastifyInstance } from 'fastify';
import type { AppointmentsService } from '../../appointments/appointments.service.ts';
import { badRequest } from '../../platform/errors.ts';
import { requirePrincipal } from '../principal.ts';

const time = (v: unknown, name: string, required = true): number | undefined => {
  if (v === undefined || v === null || v === '') {
    if (required) throw badRequest(`${name} is required (ISO 8601 date-time)`);
    return undefined;
  }
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw badRequest(`${name} must be an ISO 8601 date-time (got ${JSON.stringify(v)})`);
  return t;
};
const mode = (v: unknown) => {
  if (v === undefined) return undefined;
  if (v !== 'video' && v !== 'audio') throw badRequest('mode must be "video" or "audio"');
  return v;
};
const str = (v: unknown, name: string) => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be a string`);
  return v;
};

/** Appointments, availability and slots (docs/api.md → Appointments). */
export function appointmentRoutes(app: FastifyInstance, deps: { appointments: AppointmentsService }) {
  const a = deps.appointments;
  type Id = { Params: { id: string } };
  type Body = Record<string, unknown>;
  const body = (req: { body?: unknown }) => ((req.body && typeof req.body === 'object' ? req.body : {}) as Body);

  app.get<{ Querystring: { patient?: string; from?: string; to?: string; status?: string } }>('/api/v1/appointments', { config: { policy: policy.signedIn('appointments of the patients they may see (the appointments service checks)') } }, async (req) => {
    const { rows } = await a.list(requirePrincipal(req), {
      patientId: req.query.patient || undefined, from: time(req.query.from, 'from', false), to: time(req.query.to, 'to', false), statuses: req.query.status ? req.query.status.split(',') : undefined,
    });
    return rows;
  });
  app.get<Id>('/api/v1/appointments/:id', { config: { policy: policy.signedIn('appointments of the patients they may see (the appointments service checks)') } }, async (req) => a.get(requirePrincipal(req), req.params.id));
  app.post('/api/v1/appointments', { config: { policy: policy.signedIn('appointments of the patients they may see (the appointments service checks)') } }, async (req, reply) => {
    const b = body(req);
    const start = b.start === 'now' ? Date.now() : time(b.start, 'start')!;
    const created = await a.create(requirePrincipal(req), {
      patientId: str(b.patientId, 'patientId') ?? '', practitionerId: str(b.practitionerId, 'practitionerId'), start, end: time(b.end, 'end', false), mode: mode(b.mode), description: str(b.description, 'description'),
    });
    return reply.status(201).send(created);
  });
  app.post('/api/v1/appointments/book', { config: { policy: policy.signedIn('appointments of the patients they may see (the appointments service checks)') } }, async (req, reply) => {
    const b = body(req);
    return reply.status(201).send(await a.book(requirePrincipal(req), { slotId: str(b.slotId, 'slotId') ?? '', patientId: str(b.patientId, 'patientId'), mode: mode(b.mode), description: str(b.description, 'description') }));
  });
  app.post<Id>('/api/v1/appointments/:id/cancel', { config: { policy: policy.signedIn('appointments of the patients they may see (the appointments service checks)') } }, async (req) => a.cancel(requirePrincipal(req), req.params.id, str(body(req).reason, 'reason')));
  app.post<Id>('/api/v1/appointments/:id/reschedule', { config: { policy: policy.signedIn('appointments of the patients they may see (the appointments service checks)') } }, async (req) => {
    const b = body(req);
    return a.reschedule(requirePrincipal(req), req.params.id, time(b.start, 'start')!, time(b.end, 'end', false));
  });
  app.get<{ Querystring: { from?: string; to?: string; practitioner?: string; patient?: string } }>('/api/v1/slots', { config: { policy: policy.signedIn('appointments of the patients they may see (the appointments service checks)') } }, async (req) => {
    const from = time(req.query.from, 'from', false) ?? Date.now();
    const to = time(req.query.to, 'to', false) ?? from + 14 * 86_400_000;
    return a.slots(requirePrincipal(req), { from, to, practitionerId: req.query.practitioner || undefined, patientId: req.query.patient || undefined });
  });
  app.post('/api/v1/availability', { config: { policy: policy.signedIn('appointments of the patients they may see (the appointments service checks)') } }, async (req, reply) => {
    const b = body(req);
    const slotMinutes = b.slotMinutes === undefined ? undefined : Number(b.slotMinutes);
    return reply.status(201).send(await a.addAvailability(requirePrincipal(req), { practitionerId: str(b.practitionerId, 'practitionerId'), start: time(b.start, 'start')!, end: time(b.end, 'end')!, slotMinutes }));
  });
}
