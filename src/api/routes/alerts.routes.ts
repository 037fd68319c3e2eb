import type { AlertService } from '../../alerts/alert.service.ts';
import type { RulesService } from '../../alerts/rules.service.ts';
import type { PreferencesService } from '../../alerts/preferences.service.ts';
import type { Api } from '../http-server.ts';
import { AppError } from '../../platform/errors.ts';
import { ALERTS_SERVICE_WORKER } from '../../alerts/delivery/service-worker.ts';
import { requirePrincipal } from '../principal.ts';
import { policy } from '../policy.ts';
import {
  Alert,
  AlertListQuery,
  AlertPreferences,
  AlertRule,
  AssignBody,
  ErrorBody,
  IdParams,
  NoteBody,
  PreferencesBody,
  PushKey,
  PushSubscriptionBody,
  PushUnsubscribeQuery,
  RuleEditBody,
  RuleKeyParams,
  RuleList,
  RulesQuery,
  RuleVersions,
  SnoozeBody,
} from '../contracts/index.ts';

/** Alerts, their actions, rules and notification preferences (src/alerts/README.md): thin adapters over the services. */
export function alertRoutes(
  app: Api,
  deps: { alerts: AlertService; rules: RulesService; preferences: PreferencesService; pushPublicKey: () => string | null },
) {
  const staffAlerts = policy.staff('alerts of the patients they may see (the alert service checks each one)');

  app.get(
    '/api/v1/alerts',
    {
      config: { policy: policy.signedIn('alerts of the patients they may see') },
      schema: { summary: 'Alerts, most severe first, then the longest waiting', querystring: AlertListQuery, response: { 200: Alert.array() } },
    },
    async (req) => deps.alerts.list(requirePrincipal(req), req.query),
  );

  app.get(
    '/api/v1/alerts/:id',
    { config: { policy: staffAlerts }, schema: { summary: 'One alert', params: IdParams, response: { 200: Alert } } },
    async (req) => deps.alerts.get(requirePrincipal(req), req.params.id),
  );

  app.post(
    '/api/v1/alerts/:id/acknowledge',
    {
      config: { policy: staffAlerts },
      schema: { summary: 'Acknowledge (stops escalation)', params: IdParams, body: NoteBody, response: { 200: Alert } },
    },
    async (req) => deps.alerts.acknowledge(requirePrincipal(req), req.params.id, req.body),
  );
  app.post(
    '/api/v1/alerts/:id/resolve',
    {
      config: { policy: staffAlerts },
      schema: { summary: 'Resolve', params: IdParams, body: NoteBody, response: { 200: Alert } },
    },
    async (req) => deps.alerts.resolve(requirePrincipal(req), req.params.id, req.body),
  );
  app.post(
    '/api/v1/alerts/:id/snooze',
    {
      config: { policy: staffAlerts },
      schema: { summary: 'Snooze for minutes or until a time, with a reason', params: IdParams, body: SnoozeBody, response: { 200: Alert } },
    },
    async (req) => deps.alerts.snooze(requirePrincipal(req), req.params.id, req.body),
  );
  app.post(
    '/api/v1/alerts/:id/assign',
    {
      config: { policy: staffAlerts },
      schema: { summary: 'Assign to a user', params: IdParams, body: AssignBody, response: { 200: Alert } },
    },
    async (req) => deps.alerts.assign(requirePrincipal(req), req.params.id, req.body.userId),
  );

  app.get(
    '/api/v1/alert-rules',
    {
      config: { policy: policy.signedIn('rules at the scopes they may see; `effective` for a visible patient') },
      schema: { summary: 'Alert rules (and the effective set of one patient)', querystring: RulesQuery, response: { 200: RuleList } },
    },
    async (req) => deps.rules.list(requirePrincipal(req), { patientId: req.query.patient }),
  );
  app.get(
    '/api/v1/alert-rules/:id/versions',
    {
      config: { policy: policy.signedIn('versions of a rule they may see') },
      schema: { summary: "A rule's versions", params: IdParams, response: { 200: RuleVersions } },
    },
    async (req) => deps.rules.versions(requirePrincipal(req), req.params.id),
  );
  app.put(
    '/api/v1/alert-rules/:key',
    {
      config: { policy: policy.staff('clinic scope: admins; team: that clinician or admins; patient: who may manage the patient') },
      schema: { summary: 'Save a new version of a rule at a scope', params: RuleKeyParams, body: RuleEditBody, response: { 200: AlertRule } },
    },
    async (req) => deps.rules.save(requirePrincipal(req), req.params.key, req.body),
  );

  const own = policy.signedIn('their own preferences');
  app.get(
    '/api/v1/me/alert-preferences',
    { config: { policy: own }, schema: { summary: 'My notification preferences', response: { 200: AlertPreferences } } },
    async (req) => deps.preferences.get(requirePrincipal(req).userId),
  );
  app.put(
    '/api/v1/me/alert-preferences',
    {
      config: { policy: own },
      schema: { summary: 'Replace severities, channels and quiet hours', body: PreferencesBody, response: { 200: AlertPreferences } },
    },
    async (req) => deps.preferences.update(requirePrincipal(req).userId, req.body),
  );

  // Web Push: the VAPID key to subscribe with, this browser's subscription, and the service worker script.
  app.get(
    '/api/v1/alerts/push-key',
    {
      config: { policy: policy.signedIn('the server’s public VAPID key') },
      schema: { summary: 'The VAPID public key (503 when Web Push is not configured)', response: { 200: PushKey, 503: ErrorBody } },
    },
    async () => {
      const publicKey = deps.pushPublicKey();
      if (!publicKey) throw new AppError('UNAVAILABLE', 'Web Push is not configured on this server');
      return { publicKey };
    },
  );
  app.post(
    '/api/v1/me/push-subscriptions',
    {
      config: { policy: own },
      schema: { summary: "Add this browser's push subscription", body: PushSubscriptionBody, response: { 201: AlertPreferences } },
    },
    async (req, reply) => reply.status(201).send(await deps.preferences.subscribe(requirePrincipal(req).userId, req.body)),
  );
  app.delete(
    '/api/v1/me/push-subscriptions',
    {
      config: { policy: own },
      schema: { summary: 'Remove a push subscription', querystring: PushUnsubscribeQuery, response: { 200: AlertPreferences } },
    },
    async (req) => deps.preferences.unsubscribe(requirePrincipal(req).userId, req.query.endpoint),
  );
  app.get(
    '/alerts-sw.js',
    {
      config: { policy: policy.public('the service worker script is static code') },
      schema: { hide: true }, // JavaScript, not JSON: outside the API contract
    },
    async (_req, reply) => reply.type('application/javascript').header('cache-control', 'no-cache').send(ALERTS_SERVICE_WORKER),
  );
}
