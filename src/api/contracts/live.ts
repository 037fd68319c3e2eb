import { z } from 'zod';
import { Role } from './common.ts';
import { Alert } from './alerts.ts';
import { Command } from './commands.ts';
import { News2Live } from './patients.ts';
import { Message } from './messaging.ts';

/**
 * The dashboard WebSocket (`GET /api/v1/stream`) wire protocol: the one union of messages the server sends
 * (api/live-gateway.ts maps domain events to it) and the messages it accepts. The `hello` message carries the
 * protocol version; a change a client written for the previous version could misread bumps it. Adding a
 * message type or an optional field does not (clients ignore what they do not know).
 *
 * - 2 (3 Dec 2026): `visit.waiting` carries `waiting` (how many) and `kinds` instead of the waiting person's
 *   `name` (names stay off the relay between instances and off screens that only need to know someone waits).
 * - 1: first version.
 */
export const LIVE_PROTOCOL_VERSION = 2;

const Iso = z.string();

export const LiveReadings = z.object({
  type: z.literal('readings'),
  patientId: z.string(),
  readings: z.array(
    z.object({
      code: z.string(),
      value: z.number(),
      unit: z.string(),
      ts: Iso,
      deviceId: z.string().nullable(),
      method: z.object({ name: z.string(), version: z.string() }).optional(),
    }),
  ),
});
export const LiveEcg = z.object({
  type: z.literal('ecg'),
  patientId: z.string(),
  deviceId: z.string(),
  fs: z.number(),
  lead: z.string(),
  unit: z.string(),
  ts: Iso,
  samples: z.array(z.number()),
});
export const LiveDevice = z.object({
  type: z.literal('device'),
  deviceId: z.string(),
  patientId: z.string(),
  online: z.boolean(),
  battery: z.number().nullable(),
  lastSeenAt: Iso,
});
export const LiveNews2 = z.object({
  type: z.literal('news2'),
  patientId: z.string(),
  ...News2Live.pick({ score: true, partialScore: true, risk: true, minimumRisk: true, complete: true, components: true }).shape,
});
export const AlertEvent = z.enum(['opened', 'updated', 'worsened', 'improved', 'acknowledged', 'snoozed', 'assigned', 'escalated', 'resolved']);
export const LiveAlert = z.object({ type: z.literal('alert'), event: AlertEvent, patientId: z.string(), alert: Alert });
export const LiveCommand = z.object({ type: z.literal('command'), patientId: z.string(), command: Command });
export const LiveEcgEpisode = z.object({
  type: z.enum(['ecg.af', 'ecg.vf']),
  patientId: z.string(),
  deviceId: z.string(),
  state: z.enum(['start', 'end']),
  at: Iso,
  /** AF end: when the episode started. */
  start: Iso.optional(),
  confidence: z.number().optional(),
  /** Why an episode ended other than by the rhythm, e.g. 'signal gap'. */
  reason: z.string().optional(),
});
/** Secure messaging and visits (telehealth): the views are the REST API's (docs/api.md → Messages, Visits). */
export const LiveMessageSent = z.object({
  type: z.literal('message'),
  patientId: z.string(),
  threadId: z.string(),
  message: Message,
});
export const LiveMessageRead = z.object({
  type: z.literal('message.read'),
  patientId: z.string(),
  threadId: z.string(),
  userId: z.string(),
  name: z.string(),
  messageIds: z.array(z.string()),
  readAt: Iso,
});
export const LiveAppointment = z.object({ type: z.literal('appointment'), patientId: z.string(), appointment: z.looseObject({ id: z.string() }) });
/** How many wait in a video visit's waiting room (0: nobody any more), and what kinds of people (patient, guest). */
export const LiveVisitWaiting = z.object({
  type: z.literal('visit.waiting'),
  patientId: z.string(),
  appointmentId: z.string(),
  waiting: z.number().int(),
  kinds: z.array(z.string()),
});
export const LiveHello = z.object({ type: z.literal('hello'), protocol: z.literal(LIVE_PROTOCOL_VERSION), user: z.string(), role: Role });
export const LiveError = z.object({ type: z.literal('error'), message: z.string() });
export const LivePong = z.object({ type: z.literal('pong') });

/** Every message the server sends on /api/v1/stream (protocol LIVE_PROTOCOL_VERSION). */
export const LiveServerMessage = z.discriminatedUnion('type', [
  LiveReadings,
  LiveEcg,
  LiveDevice,
  LiveNews2,
  LiveAlert,
  LiveCommand,
  LiveEcgEpisode,
  LiveMessageSent,
  LiveMessageRead,
  LiveAppointment,
  LiveVisitWaiting,
  LiveHello,
  LiveError,
  LivePong,
]);
export type LiveServerMessage = z.infer<typeof LiveServerMessage>;
export type LiveMessageOf<T extends LiveServerMessage['type']> = Extract<LiveServerMessage, { type: T }>;

/** What a client may send. */
export const LiveClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('subscribe-ecg'), patientId: z.string() }),
  z.object({ type: z.literal('unsubscribe-ecg'), patientId: z.string() }),
  z.object({ type: z.literal('ping') }),
]);
export type LiveClientMessage = z.infer<typeof LiveClientMessage>;

export const StreamQuery = z.object({ token: z.string().max(512).optional() });
