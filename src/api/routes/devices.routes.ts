import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeviceService } from '../../devices/device.service.ts';
import type { IngestService, IngestResult } from '../../ingest/ingest.service.ts';
import type { Api } from '../http-server.ts';
import { requirePrincipal } from '../principal.ts';
import { policy } from '../policy.ts';
import { AppError } from '../../platform/errors.ts';
import {
  AdminStats,
  CreateDeviceBody,
  CreatedDevice,
  DeviceListQuery,
  DeviceSummary,
  ErrorBody,
  IdParams,
  IngestAccepted,
  Rejection,
  RejectionsQuery,
} from '../contracts/index.ts';

/** Devices: listing, provisioning, HTTP ingest (device secret), and the admin views of ingest. */
export function deviceRoutes(app: Api, deps: { devices: DeviceService; ingest: IngestService; gatewayStats: () => Record<string, unknown> }) {
  app.get(
    '/api/v1/devices',
    {
      config: { policy: policy.signedIn('devices of the patients they may see') },
      schema: { summary: 'Devices, optionally of one patient', querystring: DeviceListQuery, response: { 200: DeviceSummary.array() } },
    },
    async (req) => deps.devices.listFor(requirePrincipal(req), req.query.patient),
  );

  app.post(
    '/api/v1/devices',
    {
      config: { policy: policy.staff('admins, or clinicians for their own patients (unassigned stock: admins)') },
      schema: { summary: 'Provision a device; the secret is shown once', body: CreateDeviceBody, response: { 201: CreatedDevice } },
    },
    async (req, reply) => {
      const created = await deps.devices.provisionFor(requirePrincipal(req), req.body);
      return reply.status(201).send({ id: created.id, secret: created.secret, topic: created.topic });
    },
  );

  app.get(
    '/api/v1/devices/:id',
    {
      config: { policy: policy.signedIn('a device of a patient they may see (unassigned devices: admins)') },
      schema: { summary: 'One device', params: IdParams, response: { 200: DeviceSummary } },
    },
    async (req) => deps.devices.getFor(requirePrincipal(req), req.params.id),
  );

  // [sec] issue 9: device secrets rotate; the old secret is refused from now on.
  app.post(
    '/api/v1/devices/:id/secret',
    {
      config: { policy: policy.staff("admins, or the patient's clinicians (the device service checks)") },
      schema: { summary: 'Rotate the device secret: a new one, shown once; the old one stops working', params: IdParams, response: { 201: CreatedDevice } },
    },
    async (req, reply) => {
      const d = await deps.devices.rotateSecret(requirePrincipal(req), req.params.id);
      return reply.status(201).send({ id: d.id, secret: d.secret, topic: d.topic });
    },
  );

  // [sec] a lost or returned device: its secret is refused and its open MQTT sessions close at once.
  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/api/v1/devices/:id/${verb}`,
      {
        config: { policy: policy.staff("admins, or the patient's clinicians (the device service checks)") },
        schema: {
          summary: disabled ? 'Disable a device: its secret is refused and its open sessions close at once' : 'Enable a disabled device again',
          params: IdParams,
          response: { 200: DeviceSummary },
        },
      },
      async (req) => deps.devices.setDisabled(requirePrincipal(req), req.params.id, disabled),
    );
  }

  // HTTP ingest (interfaces.md §3): the device's own secret as bearer (checked by the policy); 202 once durable.
  const ingestRoute = (kind: 'telemetry' | 'ecg') => async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const { id } = req.params;
    const raw = typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? null);
    const result: IngestResult = kind === 'telemetry' ? await deps.ingest.acceptTelemetry(id, raw) : await deps.ingest.acceptEcg(id, raw);
    if (!result.ok) throw new AppError('PAYLOAD_REJECTED', result.reason);
    return reply.status(202).send(result);
  };
  // Device bodies stay raw text so that malformed JSON is recorded as a rejection like on MQTT (no body schema).
  void app.register(async (scope) => {
    scope.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string', bodyLimit: 4 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    for (const kind of ['telemetry', 'ecg'] as const) {
      scope.post(
        `/api/v1/devices/:id/${kind}`,
        {
          config: { policy: policy.device('id') },
          schema: {
            summary: `Device ${kind} over HTTP (interfaces.md §3); the body is the MQTT payload`,
            params: IdParams,
            response: { 202: IngestAccepted, 401: ErrorBody, 422: ErrorBody },
          },
        },
        ingestRoute(kind),
      );
    }
  });

  app.get(
    '/api/v1/admin/rejections',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'Recently rejected device payloads', querystring: RejectionsQuery, response: { 200: Rejection.array() } },
    },
    async (req) => deps.devices.rejections(req.query.limit, req.query.device),
  );

  app.get(
    '/api/v1/admin/stats',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'Ingest and gateway counters', response: { 200: AdminStats } },
    },
    async () => ({ ingest: deps.ingest.stats() as unknown as Record<string, unknown>, gateway: deps.gatewayStats() }),
  );
}
