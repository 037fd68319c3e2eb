import { AppError } from '../../platform/errors.ts';
import mqtt, { type MqttClient, type IPublishPacket, type Packet } from 'mqtt';
import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/logger.ts';
import type { EventBus } from '../../platform/events.ts';
import type { IngestService } from '../ingest.service.ts';
import { TOPIC_PREFIX } from '../decode.ts';
import { routeDeviceMessage, type DeviceGateway } from './gateway.ts';

// `$share/…` spreads device traffic over every consumer of every Vigil instance (MQTT 5 §4.8.2; Mosquitto
// and EMQX also honour it for 3.1.1 clients), so instances scale out and one dying loses nothing unacked.
const SHARE_GROUP = '$share/vigil-ingest/';
const DEVICE_TOPICS = [`${TOPIC_PREFIX}+/telemetry`, `${TOPIC_PREFIX}+/ecg`, `${TOPIC_PREFIX}+/status`, `${TOPIC_PREFIX}+/commands/+/result`];
// MQTT 5 §3.1.2.11.3: how many unacknowledged messages the broker may push to one consumer. Enough to fill
// large batches, small enough that a burst waits in the broker (which persists it) rather than in our memory.
const RECEIVE_MAXIMUM = 2_000;

/**
 * Vigil as a client of an external broker (MQTT_URL). Device credentials and the per-device topic rule are
 * the broker's job there (see README: Mosquitto password file and ACL pattern). Each consumer connection
 * keeps a persistent session and acknowledges a message only after it is durable.
 */
export async function connectExternalBroker(deps: {
  url: string;
  instanceId: string;
  consumers: number;
  ingest: IngestService;
  events: EventBus;
  clock: Clock;
  logger: Logger;
}): Promise<DeviceGateway> {
  const log = deps.logger.child({ module: 'broker', url: redact(deps.url) });
  const clients: MqttClient[] = [];
  for (let i = 0; i < deps.consumers; i++) clients.push(await connectConsumer(i));
  log.info({ consumers: clients.length }, 'connected to external MQTT broker');

  async function connectConsumer(index: number): Promise<MqttClient> {
    const client = mqtt.connect(deps.url, {
      clientId: `vigil-${deps.instanceId}-ingest-${index}`,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 7 * 24 * 3600, receiveMaximum: RECEIVE_MAXIMUM },
      reconnectPeriod: 1000,
      connectTimeout: 5000,
    });
    deferAcksUntilDurable(
      client,
      (packet) => {
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        return routeDeviceMessage(deps.ingest, deps.events, packet.topic, payload, deps.clock.now());
      },
      log,
    );
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        client.end(true);
        reject(new AppError('UNAVAILABLE', `MQTT_URL: cannot connect to ${redact(deps.url)} (${err.message})`));
      };
      client.once('error', onError);
      client.once('connect', () => {
        client.off('error', onError);
        resolve();
      });
    });
    client.on('error', (err) => log.warn({ err: err.message }, 'broker connection error'));
    client.on('reconnect', () => log.warn('reconnecting to broker'));
    await client.subscribeAsync(
      DEVICE_TOPICS.map((t) => SHARE_GROUP + t),
      { qos: 1 },
    );
    return client;
  }

  return {
    kind: 'external',
    async publishToDevice(deviceId, subtopic, payload, qos) {
      await clients[0].publishAsync(`${TOPIC_PREFIX}${deviceId}/${subtopic}`, JSON.stringify(payload), { qos });
    },
    healthy: () => clients.every((c) => c.connected),
    async close() {
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}

/**
 * mqtt.js handles incoming packets one at a time and sends the PUBACK when `handleMessage` calls back, so
 * waiting there for the database would serialise ingest to one message per flush window. Instead every
 * message is handed to ingest at once and only its PUBACK is held back until the write is durable; the
 * packet loop continues. If the connection drops first, the broker redelivers (persistent session) and
 * (device, seq) de-duplication absorbs the repeat.
 */
function deferAcksUntilDurable(client: MqttClient, handle: (packet: IPublishPacket) => Promise<unknown>, log: Logger) {
  const pending = new Map<number, Promise<unknown>>();
  client.handleMessage = (packet, callback) => {
    const work = handle(packet);
    if (packet.qos > 0 && packet.messageId !== undefined) pending.set(packet.messageId, work);
    else work.catch((err) => log.error({ err }, 'ingest failed (QoS 0 message lost)'));
    callback();
  };
  const internal = client as unknown as { _sendPacket(packet: Packet, cb?: () => void, ...rest: unknown[]): void };
  const send = internal._sendPacket.bind(client);
  internal._sendPacket = (packet, cb, ...rest) => {
    const messageId = (packet as { messageId?: number }).messageId;
    const work = packet.cmd === 'puback' && messageId !== undefined ? pending.get(messageId) : undefined;
    if (!work) return send(packet, cb, ...rest);
    pending.delete(messageId!);
    // Let mqtt.js carry on with the next packet, but on a fresh stack: calling back synchronously here
    // recurses through its delivery loop once per queued packet.
    if (cb) process.nextTick(cb);
    work.then(
      () => send(packet),
      (err) => {
        // Not durable: never acknowledge. Reconnecting makes the broker redeliver it.
        log.error({ err }, 'ingest failed; dropping the connection without acknowledging');
        client.stream?.destroy();
      },
    );
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
