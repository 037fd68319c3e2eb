import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DeviceService } from '../../devices/device.service.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { IngestService, IngestResult } from '../../ingest/ingest.service.ts';
import type { RejectionsRepository } from '../../store/rejections.repository.ts';
import { requirePrincipal } from '../principal.ts';
import { AppError, badRequest } from '../../platform/errors.ts';

export function deviceRoutes(app: FastifyInstance, deps: { devices: DeviceService; access: AccessPolicy; ingest: IngestService; rejections: RejectionsRepository; gatewayStats: () => Record<string, unknown> }) {
  app.get('/api/v1/devices', async (req) => {
    const p = requirePrincipal(req);
    const patient = (req.query as { patient?: string }).patient;
    if (patient) {
      await deps.access.assertPatient(p, patient);
      return deps.devices.list([patient]);
    }
    return deps.devices.list(await deps.access.visiblePatientIds(p));
  });

  app.post('/api/v1/devices', async (req, reply) => {
    const p = requirePrincipal(req);
    const body = (req.body ?? {}) as { patientId?: string; type?: string; name?: string };
    if (!body.patientId) {
      deps.access.assertAdmin(p); // unassigned stock devices are an admin matter
    } else {
      await deps.access.assertCanManagePatient(p, body.patientId);
    }
    if (!body.type) throw badRequest('type is required');
    const created = await deps.devices.provision({ patientId: body.patientId ?? null, type: body.type, name: body.name }, p);
    return reply.status(201).send({ id: created.id, secret: created.secret, topic: created.topic });
  });

  app.get('/api/v1/devices/:id', async (req) => {
    const p = requirePrincipal(req);
    const device = await deps.devices.get((req.params as { id: string }).id);
    if (device.patientId) await deps.access.assertPatient(p, device.patientId);
    else deps.access.assertAdmin(p);
    return device;
  });

  // HTTP ingest (interfaces.md §3): the device's own secret as bearer; 202 once durable.
  const ingestRoute = (kind: 'telemetry' | 'ecg') => async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
    const { id } = req.params as { id: string };
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ') || !(await deps.devices.authenticate(id, auth.slice(7).trim()))) {
      throw new AppError('UNAUTHENTICATED', 'send Authorization: Bearer <device secret>');
    }
    const raw = typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? null);
    const result: IngestResult = kind === 'telemetry' ? await deps.ingest.acceptTelemetry(id, raw) : await deps.ingest.acceptEcg(id, raw);
    if (!result.ok) throw new AppError('PAYLOAD_REJECTED', result.reason);
    return reply.status(202).send(result);
  };
  // Device bodies stay raw text so that malformed JSON is recorded as a rejection like on MQTT.
  void app.register(async (scope) => {
    scope.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string', bodyLimit: 4 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    scope.post('/api/v1/devices/:id/telemetry', ingestRoute('telemetry'));
    scope.post('/api/v1/devices/:id/ecg', ingestRoute('ecg'));
  });

  app.get('/api/v1/admin/rejections', async (req) => {
    deps.access.assertAdmin(requirePrincipal(req));
    const q = req.query as { limit?: string; device?: string };
    return deps.rejections.recent(Math.min(1000, Math.max(1, Number(q.limit ?? 100) || 100)), q.device);
  });

  app.get('/api/v1/admin/stats', async (req) => {
    deps.access.assertAdmin(requirePrincipal(req));
    return { ingest: deps.ingest.stats(), gateway: deps.gatewayStats() };
  });
}
