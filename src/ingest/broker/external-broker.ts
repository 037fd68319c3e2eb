import { AppError } from '../../platform/errors.ts';
import mqtt, { type MqttClient, type IPublishPacket, type Packet } from 'mqtt';
import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/logger.ts';
import type { EventBus } from '../../platform/events.ts';
import type { IngestService } from '../ingest.service.ts';
import { TOPIC_PREFIX } from '../decode.ts';
import { routeDeviceMessage, type DeviceGateway } from './gateway.ts';
import { tapQos1Publishes } from './publish-tap.ts';
import { watchOrphanSessions } from './orphan-sessions.ts';
import type { Db } from '../../platform/db.ts';

// `$share/…` spreads device traffic over every consumer of every Vigil instance (MQTT 5 §4.8.2; Mosquitto
// and EMQX also honour it for 3.1.1 clients), so instances scale out and one dying loses nothing unacked.
const SHARE_GROUP = '$share/vigil-ingest/';
const DEVICE_TOPICS = [`${TOPIC_PREFIX}+/telemetry`, `${TOPIC_PREFIX}+/ecg`, `${TOPIC_PREFIX}+/status`, `${TOPIC_PREFIX}+/commands/+/result`];
// MQTT 5 §3.1.2.11.3: how many unacknowledged messages the broker may push to one consumer. Enough to fill
// large batches (four consumers: 2,000 messages in flight), small enough that a burst waits in the broker
// (which persists it) rather than in our memory. Each message in flight keeps its readings and promises until
// its batch commits, so the garbage collector copies them; 500 per consumer still fills a batch of 2,000.
// (bench:ingest, docs/scaling.md: Vigil's CPU per stored reading median 8.9 µs with 500 against 9.7 with 2,000,
// within the noise of a shared machine.)
const RECEIVE_MAXIMUM = 500;
/** How long the broker keeps a consumer's session while it is away (a restart resumes it). */
const SESSION_EXPIRY_S = 7 * 24 * 3600;

const noLog = () => undefined;

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
  /** Where the instances' broker sessions are registered, and after how long unseen one is drained (orphan-sessions.ts); without it, none is. */
  orphans?: { db: Db; afterS: number };
}): Promise<DeviceGateway> {
  const log = deps.logger.child({ module: 'broker', url: redact(deps.url) });
  const clients: MqttClient[] = [];
  const clientIds = Array.from({ length: deps.consumers }, (_, i) => `vigil-${deps.instanceId}-ingest-${i}`);
  for (const id of clientIds) clients.push(await connectConsumer(id));
  log.info({ consumers: clients.length }, 'connected to external MQTT broker');

  /**
   * One consumer: a persistent session in the `$share` group. Draining (orphan-sessions.ts) connects under a gone
   * instance's client id instead, once (no reconnect: its owner coming back takes the session over), and leaves
   * the group at once (below); `onMessage` hears of each message it is handed.
   */
  async function connectConsumer(clientId: string, drain?: { onMessage(work: Promise<unknown>): void }): Promise<MqttClient> {
    const client = mqtt.connect(deps.url, {
      clientId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_S, receiveMaximum: RECEIVE_MAXIMUM },
      reconnectPeriod: drain ? 0 : 1000,
      connectTimeout: 5000,
      // mqtt.js's debug lines (DEBUG=mqttjs*): about ten calls per received message, each making its argument
      // list even when off. This connection's errors and reconnects are logged below.
      log: noLog,
      manualConnect: true, // the stream is tapped first (below)
    });
    const route = (topic: string, payload: Buffer | string) => {
      const work = routeDeviceMessage(deps.ingest, deps.events, topic, payload, deps.clock.now());
      drain?.onMessage(work);
      return work;
    };
    const acks = deferAcksUntilDurable(
      client,
      (packet) => route(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)),
      log,
    );
    // Device messages (QoS 1, no properties) go from the socket to ingest, past mqtt.js's packet loop.
    tapQos1Publishes(client, (topic, payload, messageId, stream) => acks.whenDurable(route(topic, payload), messageId, stream));
    client.connect();
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
    // A drained session leaves the group at once, so that the live devices' messages go to live consumers and the
    // drain ends when what was queued for it is stored. Mosquitto still delivers what it had queued for the
    // session (MQTT 5 §3.10.4 lets a server do either; checked with Mosquitto 2.0: 100 of 100 queued, 0 new).
    if (drain) {
      await client.unsubscribeAsync(DEVICE_TOPICS.map((t) => SHARE_GROUP + t)).catch(async (err: Error) => {
        await client.endAsync(true);
        throw err;
      });
      return client;
    }
    client.on('reconnect', () => log.warn('reconnecting to broker'));
    await client.subscribeAsync(
      DEVICE_TOPICS.map((t) => SHARE_GROUP + t),
      { qos: 1 },
    );
    return client;
  }

  const orphans = deps.orphans
    ? watchOrphanSessions({
        db: deps.orphans.db,
        clientIds,
        orphanAfterS: deps.orphans.afterS,
        logger: log,
        connect: (clientId, onMessage) => connectConsumer(clientId, { onMessage }),
      })
    : null;

  return {
    kind: 'external',
    async publishToDevice(deviceId, subtopic, payload, qos) {
      await clients[0].publishAsync(`${TOPIC_PREFIX}${deviceId}/${subtopic}`, JSON.stringify(payload), { qos });
    },
    healthy: () => clients.every((c) => c.connected),
    async close() {
      await orphans?.close();
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
 *
 * The PUBACKs of one committed batch (up to 2,000 messages on this connection) leave in one socket write of
 * 4 bytes each (`pubackBytes`), instead of mqtt.js writing each as three small writes (header, length, id) and
 * the socket gathering them: that cost more CPU per message than decoding it. Only a plain acknowledgement on
 * the connection the message came in on is written so; any other (a reason code, properties, or a connection
 * that has changed since) goes through mqtt.js as before.
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
  // Durable message ids waiting for this tick's one write, and the stream they arrived on.
  let acks: number[] = [];
  let acksStream: MqttClient['stream'] | null = null;
  const writeAcks = () => {
    const ids = acks;
    const stream = acksStream;
    if (!stream) return; // written already (the stream changed within the tick)
    acks = [];
    acksStream = null;
    // The connection may have dropped meanwhile: unacknowledged, the broker redelivers on the next one.
    if (client.stream === stream && client.connected && !stream.destroyed && stream.writable) stream.write(pubackBytes(ids));
  };
  /** A plain PUBACK for this message id, once durable (see `pubackBytes`). */
  const ack = (messageId: number, stream: MqttClient['stream']) => {
    // Only on the connection the message came in on (found by review: it went out on the next one, where the id may
    // be another message's, acknowledged before it was durable). Dropped, the broker redelivers; de-dup absorbs it.
    if (client.stream !== stream || !client.connected) return;
    if (acksStream !== stream) {
      if (acksStream) writeAcks();
      acksStream = stream;
      process.nextTick(writeAcks); // after this batch's other resolutions (promise callbacks run first)
    }
    acks.push(messageId);
  };
  internal._sendPacket = (packet, cb, ...rest) => {
    const messageId = (packet as { messageId?: number }).messageId;
    const work = packet.cmd === 'puback' && messageId !== undefined ? pending.get(messageId) : undefined;
    if (!work) return send(packet, cb, ...rest);
    pending.delete(messageId!);
    // Let mqtt.js carry on with the next packet, but on a fresh stack: calling back synchronously here
    // recurses through its delivery loop once per queued packet.
    if (cb) process.nextTick(cb);
    const stream = client.stream;
    // Only the id and the stream are kept while the message waits for its commit (thousands at once).
    const failed = (err: unknown) => notDurable(err, stream);
    if (plainPuback(packet as { reasonCode?: number; properties?: unknown })) work.then(() => ack(messageId!, stream), failed);
    else work.then(() => client.stream === stream && client.connected && send(packet), failed);
  };
  // Not durable: never acknowledge. Dropping the connection it came on makes the broker redeliver it (a newer
  // connection is left alone: it has nothing to do with this message).
  const notDurable = (err: unknown, stream: MqttClient['stream']) => {
    log.error({ err }, 'ingest failed; dropping the connection without acknowledging');
    if (client.stream === stream) stream.destroy();
  };
  return {
    /** A message taken off `stream` before mqtt.js (publish-tap.ts): acknowledged there once `work` is durable. */
    whenDurable(work: Promise<unknown>, messageId: number, stream: MqttClient['stream']) {
      work.then(
        () => ack(messageId, stream),
        (err: unknown) => notDurable(err, stream),
      );
    },
  };
}

/** A PUBACK that is only its packet id: success, no properties (MQTT 5 §3.4.2.1 lets both be left out). */
function plainPuback(packet: { reasonCode?: number; properties?: unknown }): boolean {
  return (packet.reasonCode === undefined || packet.reasonCode === 0) && packet.properties === undefined;
}

/** PUBACK packets for these ids, back to back: 0x40, remaining length 2, the id (MQTT 3.1.1 §3.4, MQTT 5 §3.4). */
export function pubackBytes(ids: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(ids.length * 4);
  for (let i = 0, at = 0; i < ids.length; i++, at += 4) {
    out[at] = 0x40;
    out[at + 1] = 2;
    out.writeUInt16BE(ids[i], at + 2);
  }
  return out;
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
