import type { FastifyInstance } from 'fastify';
import type { AlertService } from '../../alerts/alert.service.ts';
import type { RulesService } from '../../alerts/rules.service.ts';
import type { PreferencesService } from '../../alerts/preferences.service.ts';
import { AppError } from '../../platform/errors.ts';
import { ALERTS_SERVICE_WORKER } from '../../alerts/delivery/service-worker.ts';
import { requirePrincipal } from '../principal.ts';

/** Alerts, their actions, rules and notification preferences (docs/api.md → Alerts): thin adapters over the services. */
export function alertRoutes(app: FastifyInstance, deps: { alerts: AlertService; rules: RulesService; preferences: PreferencesService; pushPublicKey: () => string | null }) {
  type IdParams = { Params: { id: string } };
  const body = (req: { body?: unknown }) => (req.body ?? {}) as Record<string, unknown>;
  const note = (b: Record<string, unknown>) => (typeof b.note === 'string' ? b.note.slice(0, 1000) : undefined);

  app.get<{ Querystring: { patient?: string; status?: string; limit?: string } }>('/api/v1/alerts', async (req) =>
    deps.alerts.list(requirePrincipal(req), { patient: req.query.patient, status: req.query.status, limit: req.query.limit ? Number(req.query.limit) : undefined }),
  );
  app.get<IdParams>('/api/v1/alerts/:id', async (req) => deps.alerts.get(requirePrincipal(req), req.params.id));
  app.post<IdParams>('/api/v1/alerts/:id/acknowledge', async (req) => deps.alerts.acknowledge(requirePrincipal(req), req.params.id, note(body(req))));
  app.post<IdParams>('/api/v1/alerts/:id/resolve', async (req) => deps.alerts.resolve(requirePrincipal(req), req.params.id, note(body(req))));
  app.post<IdParams>('/api/v1/alerts/:id/snooze', async (req) => deps.alerts.snooze(requirePrincipal(req), req.params.id, body(req)));
  app.post<IdParams>('/api/v1/alerts/:id/assign', async (req) => deps.alerts.assign(requirePrincipal(req), req.params.id, String(body(req).userId ?? '')));

  app.get<{ Querystring: { patient?: string } }>('/api/v1/alert-rules', async (req) => deps.rules.list(requirePrincipal(req), { patientId: req.query.patient }));
  app.get<IdParams>('/api/v1/alert-rules/:id/versions', async (req) => deps.rules.versions(requirePrincipal(req), req.params.id));
  app.put<{ Params: { key: string } }>('/api/v1/alert-rules/:key', async (req) => deps.rules.save(requirePrincipal(req), req.params.key, req.body));

  app.get('/api/v1/me/alert-preferences', async (req) => deps.preferences.get(requirePrincipal(req).userId));
  app.put('/api/v1/me/alert-preferences', async (req) => deps.preferences.update(requirePrincipal(req).userId, req.body));

  // Web Push: the VAPID key to subscribe with, this browser's subscription, and the service worker script.
  app.get('/api/v1/alerts/push-key', async (req) => {
    requirePrincipal(req);
    const publicKey = deps.pushPublicKey();
    if (!publicKey) throw new AppError('UNAVAILABLE', 'Web Push is not configured on this server');
    return { publicKey };
  });
  app.post('/api/v1/me/push-subscriptions', async (req, reply) => reply.status(201).send(await deps.preferences.subscribe(requirePrincipal(req).userId, req.body)));
  app.delete<{ Querystring: { endpoint?: string } }>('/api/v1/me/push-subscriptions', async (req) => deps.preferences.unsubscribe(requirePrincipal(req).userId, req.query.endpoint ?? ''));
  app.get('/alerts-sw.js', async (_req, reply) => reply.type('application/javascript').header('cache-control', 'no-cache').send(ALERTS_SERVICE_WORKER));
}
