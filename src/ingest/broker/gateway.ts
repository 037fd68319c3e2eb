import type { IngestService, IngestResult } from '../ingest.service.ts';
import { parseDeviceTopic } from '../decode.ts';
import type { EventBus } from '../../platform/events.ts';

/**
 * The device side of Vigil over MQTT, whichever broker carries it: the embedded aedes broker or an
 * external one (Mosquitto, EMQX…). Other modules (device commands) talk to devices only through this.
 */
export interface DeviceGateway {
  readonly kind: 'embedded' | 'external';
  /** Publishes to `vigil/v1/devices/{deviceId}/{subtopic}`; resolves once the broker has it. */
  publishToDevice(deviceId: string, subtopic: string, payload: unknown, qos: 0 | 1): Promise<void>;
  healthy(): boolean;
  close(): Promise<void>;
}

export interface CommandResultMessage {
  deviceId: string;
  commandId: string;
  payload: Buffer;
  receivedAt: number;
}

/**
 * Routes one device message to ingest by its topic; resolves when durable (callers ack after this). Not an
 * async function: the ingest promise is handed back as it is, with no second promise around it per message.
 */
export function routeDeviceMessage(
  ingest: IngestService,
  events: EventBus,
  topic: string,
  /** The bytes as sent, or their UTF-8 text (the external broker's tap hands text: JSON.parse needs it anyway). */
  payload: Buffer | string,
  /** When the broker received it (the app's Clock): device last-seen and command results. */
  receivedAt: number,
): Promise<IngestResult | null> {
  const parsed = parseDeviceTopic(topic);
  if (!parsed) return Promise.resolve(null);
  switch (parsed.kind) {
    case 'telemetry':
      return ingest.acceptTelemetry(parsed.deviceId, payload, receivedAt);
    case 'ecg':
      return ingest.acceptEcg(parsed.deviceId, payload, receivedAt);
    case 'status':
      return ingest.acceptStatus(parsed.deviceId, payload, receivedAt);
    case 'command-result':
      try {
        events.emit('command.result', {
          deviceId: parsed.deviceId,
          commandId: parsed.commandId ?? '',
          payload: typeof payload === 'string' ? payload : payload.toString('utf8'),
          receivedAt,
        });
      } catch (err) {
        return Promise.reject(err);
      }
      return Promise.resolve(null);
  }
}
