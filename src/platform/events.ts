import type { StoredReading, StoredEcgChunk, DeviceStatus, Rejection } from '../domain/types.ts';
import type { Alert, AlertEvent, Command } from '../api/contracts/index.ts';
import type { z } from 'zod';

export type News2Risk = 'low' | 'low-medium' | 'medium' | 'high';

/**
 * The typed event map that joins modules. Rules (src/platform/README.md):
 * - an event is emitted only after its data is durable ("write first, then emit");
 * - every listener is isolated: a throw or a rejected promise is logged with the event's name and never
 *   reaches the emitter (an ingest batch commit, an alert transition) nor the process;
 * - browsers never see these events directly: api/live-gateway.ts maps them to the versioned wire union
 *   in api/contracts/live.ts.
 */
export interface EventMap {
  'readings.stored': [readings: StoredReading[]];
  'ecg.stored': [chunk: StoredEcgChunk];
  'device.status': [status: DeviceStatus];
  /** [sec] Sessions or API tokens ended (sign-out, revocation, disabled user, password reset): live connections close. */
  'auth.ended': [event: { userId: string; sessionIds?: string[]; tokenIds?: string[]; all?: true }];
  /** [sec] A device's credentials stopped being valid (secret rotated, device disabled): its open sessions close. */
  'device.credentials': [event: { deviceId: string; reason: 'secret rotated' | 'disabled' }];
  'payload.rejected': [rejection: Rejection];
  /** A NEWS2 aggregate was scored from a complete or partial set (stored as a derived observation first). */
  'news2.scored': [event: News2Scored];
  /** An ECG rhythm episode (AF, VF/flutter) started or ended on a device's stream. */
  'ecg.episode': [event: EcgEpisode];
  /** An alert was opened or changed state; `alert` is the stored row after the change. */
  'alert.changed': [event: AlertChanged];
  /** A device command moved to a new status; `command` is the stored row after the change. */
  'command.changed': [event: CommandChanged];
  /** A device answered a command on its result topic (not yet matched to a stored command). */
  'command.result': [event: CommandResultReceived];
  /** A secure message was stored (messaging/). `message` is the API view of it. */
  'message.sent': [event: { patientId: string; threadId: string; message: { id: string } }];
  /** Messages of a thread were marked read by a user. */
  'message.read': [event: { patientId: string; threadId: string; userId: string; name: string; messageIds: string[]; readAt: string }];
  /** [sec] A clinician left a patient's care team: their open visit sockets for that patient are checked at once. */
  'careteam.removed': [event: { patientId: string; practitionerId: string }];
  /** An appointment was created or changed (appointments/). */
  'appointment.changed': [event: { patientId: string; appointment: { id: string } }];
  /**
   * Who waits in a video visit's waiting room changed (visits/): how many wait (0: nobody any more) and the kind
   * of the last to arrive. No names: it is relayed to other instances through PostgreSQL NOTIFY (cluster/relay.ts).
   */
  'visit.waiting': [event: { patientId: string; appointmentId: string; waiting: number; kinds: string[] }];
}

export interface News2Scored {
  patientId: string;
  score: number | null;
  partialScore: number;
  risk: News2Risk | null;
  minimumRisk: News2Risk;
  complete: boolean;
  /** Points per NEWS2 parameter that could be scored. */
  components: Record<string, number>;
  ts: number;
}

export interface EcgEpisode {
  kind: 'af' | 'vf';
  state: 'start' | 'end';
  patientId: string;
  deviceId: string;
  /** When the episode started (state start) or ended (state end), epoch ms. */
  at: number;
  /** For an AF end: when it started. */
  startedAt?: number;
  confidence?: number;
  /** Why an episode ended other than by the rhythm, e.g. 'signal gap'. */
  reason?: string;
}

export type AlertEventKind = z.infer<typeof AlertEvent>;

export interface AlertChanged {
  event: AlertEventKind;
  patientId: string;
  /** The stored alert after the change, as the API returns it (api/contracts/alerts.ts). */
  alert: Alert;
}

export interface CommandChanged {
  patientId: string | null;
  /** The stored command after the change, as the API returns it (api/contracts/commands.ts). */
  command: Command;
}

export interface CommandResultReceived {
  deviceId: string;
  commandId: string;
  payload: string;
  receivedAt: number;
}

export type EventName = keyof EventMap;
export type Listener<K extends EventName> = (...args: EventMap[K]) => unknown;

export interface EventBus {
  on<K extends EventName>(event: K, listener: Listener<K>): () => void;
  emit<K extends EventName>(event: K, ...args: EventMap[K]): void;
}

/**
 * Listeners run in registration order, synchronously for the synchronous part (so ordering between
 * modules stays deterministic), each inside its own try/catch; an async listener's rejection is caught too.
 */
export function createEventBus(deps: { logger?: { error(obj: object, msg: string): void } } = {}): EventBus {
  const listeners = new Map<EventName, Array<(...args: unknown[]) => unknown>>();
  const report = (event: EventName, err: unknown) => {
    if (deps.logger) deps.logger.error({ err, event }, `listener for "${event}" failed; the event's data is stored and other listeners ran`);
    else console.error(`vigil: listener for "${event}" failed`, err);
  };
  return {
    on(event, listener) {
      const list = listeners.get(event) ?? [];
      const fn = listener as (...args: unknown[]) => unknown;
      list.push(fn);
      listeners.set(event, list);
      return () => {
        const current = listeners.get(event);
        if (!current) return;
        const i = current.indexOf(fn);
        if (i >= 0) current.splice(i, 1);
      };
    },
    emit(event, ...args) {
      const list = listeners.get(event);
      if (!list) return;
      for (const fn of [...list]) {
        try {
          const result = fn(...args);
          if (result instanceof Promise) result.catch((err: unknown) => report(event, err));
        } catch (err) {
          report(event, err);
        }
      }
    },
  };
}
