import { AppError } from '../../platform/errors.ts';
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, connect, nanos, type JsMsg, type NatsConnection } from 'nats';
import type { Logger } from '../../platform/logger.ts';
import type { Clock } from '../../platform/clock.ts';
import type { EventBus } from '../../platform/events.ts';
import type { IngestService } from '../ingest.service.ts';
import { routeDeviceMessage, type DeviceGateway } from './gateway.ts';

/** The replicated stream devices' messages land in, and the one durable consumer every instance pulls from. */
export const NATS_STREAM = 'VIGIL_DEVICES';
export const NATS_CONSUMER = 'vigil-ingest';
// MQTT topic `vigil/v1/devices/{id}/telemetry` is NATS subject `vigil.v1.devices.{id}.telemetry` (the
// gateway maps `/` to `.`). Only what devices send: commands to devices are not captured.
const SUBJECTS = ['vigil.v1.devices.*.telemetry', 'vigil.v1.devices.*.ecg', 'vigil.v1.devices.*.status', 'vigil.v1.devices.*.commands.*.result'];
/** Messages pulled ahead per instance; acknowledged one by one once durable. */
const PULL_BATCH = 2_000;
/** Acknowledgements the consumer waits for across all instances before it stops handing out more. */
const MAX_ACK_PENDING = 20_000;

/**
 * Vigil on a NATS cluster (NATS_URL). Devices publish MQTT QoS 1 to any node's MQTT gateway; the stream
 * VIGIL_DEVICES (file storage, replicated to `replicas` nodes, work-queue retention) keeps every message until
 * Vigil acknowledges it; every Vigil instance pulls from the same durable consumer, so each message goes to
 * one instance, at the pace that instance stores (consumer-paced: nothing is dropped when Vigil is slower
 * than the devices, the stream grows instead). A message is acknowledged only after it is committed; one
 * not acknowledged within `ackWaitS` (an instance died) is delivered again, and (device, seq)
 * de-duplication absorbs the repeat. Why NATS for the cluster test: it runs three nodes from one small
 * binary in milliseconds, and JetStream's replicated stream is exactly a durable, consumer-paced queue.
 */
export async function connectNatsJetStream(deps: {
  servers: string[];
  replicas: number;
  ackWaitS: number;
  instanceId: string;
  ingest: IngestService;
  events: EventBus;
  clock: Clock;
  logger: Logger;
}): Promise<DeviceGateway> {
  const log = deps.logger.child({ module: 'broker', kind: 'nats' });
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: deps.servers, name: `vigil-${deps.instanceId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 });
  } catch (err) {
    throw new AppError('UNAVAILABLE', `NATS_URL: cannot connect to ${deps.servers.join(',')} (${(err as Error).message})`);
  }
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') connected = false;
      if (s.type === 'reconnect') connected = true;
      if (s.type === 'disconnect' || s.type === 'reconnect') log.warn({ status: s.type, server: s.data }, 'NATS connection');
    }
  })().catch(() => undefined);

  const jsm = await nc.jetstreamManager({ checkAPI: false });
  // A cluster that has just started has no JetStream leader for some seconds: keep asking until it has.
  for (let i = 0; ; i++) {
    const ok = await jsm.getAccountInfo().then(
      () => true,
      (err) => (i < 60 ? false : Promise.reject(err)),
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  // Several instances start together: creating what exists already is fine.
  await jsm.streams
    .add({ name: NATS_STREAM, subjects: SUBJECTS, storage: StorageType.File, num_replicas: deps.replicas, retention: RetentionPolicy.Workqueue })
    .catch(async (err) => {
      if (!(await jsm.streams.info(NATS_STREAM).catch(() => null))) throw err;
    });
  await jsm.consumers
    .add(NATS_STREAM, {
      durable_name: NATS_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(deps.ackWaitS * 1000),
      max_ack_pending: MAX_ACK_PENDING,
      deliver_policy: DeliverPolicy.All,
    })
    .catch(async (err) => {
      if (!(await jsm.consumers.info(NATS_STREAM, NATS_CONSUMER).catch(() => null))) throw err;
    });
  // Short pulls with heartbeats: when the consumer's leader moves (a node died) a pull in flight is lost
  // silently; a missed heartbeat makes the client pull again within seconds instead of 30 s.
  const consume = async () =>
    (await nc.jetstream().consumers.get(NATS_STREAM, NATS_CONSUMER)).consume({ max_messages: PULL_BATCH, expires: 4_000, idle_heartbeat: 1_000 });
  let messages = await consume();
  let closing = false;
  let inFlight = 0;
  const handle = (m: JsMsg) => {
    inFlight++;
    routeDeviceMessage(deps.ingest, deps.events, m.subject.replaceAll('.', '/'), Buffer.from(m.data), deps.clock.now())
      .then(
        () => m.ack(),
        (err) => {
          // Not durable (database down): ask for it again shortly instead of waiting for the ack deadline.
          log.error({ err }, 'ingest failed; the message will be delivered again');
          m.nak(1_000);
        },
      )
      .finally(() => inFlight--);
  };
  // The iterator can end or throw while the cluster fails over (a node killed, the consumer's leader moving):
  // consume again rather than stop for good, which left every later message in the stream unread.
  const loop = (async () => {
    for (;;) {
      try {
        for await (const m of messages) handle(m);
        if (closing) return;
        log.warn('NATS consumer ended; consuming again');
      } catch (err) {
        if (closing) return;
        log.error({ err }, 'NATS consumer failed; consuming again in 1 s');
      }
      await new Promise((r) => setTimeout(r, 1_000));
      if (closing) return;
      messages = await consume().catch((err: unknown) => {
        log.error({ err }, 'NATS consumer cannot resume yet; trying again');
        return messages; // an ended iterator: the loop comes round again after a second
      });
    }
  })();
  log.info({ servers: deps.servers.length, stream: NATS_STREAM, replicas: deps.replicas }, 'consuming from NATS JetStream');

  return {
    kind: 'external',
    async publishToDevice(deviceId, subtopic, payload) {
      // Devices subscribe over MQTT; the gateway delivers this subject to `vigil/v1/devices/{id}/{subtopic}`.
      nc.publish(`vigil.v1.devices.${deviceId}.${subtopic.replaceAll('/', '.')}`, JSON.stringify(payload));
      await nc.flush();
    },
    healthy: () => connected && !nc.isClosed(),
    async close() {
      closing = true;
      await messages.close();
      await loop;
      // What was handed to ingest is drained by the caller (ingest.drain) before the database closes;
      // wait for those acknowledgements to go out before the connection does.
      for (let i = 0; i < 200 && inFlight > 0; i++) await new Promise((r) => setTimeout(r, 25));
      await nc.drain().catch(() => undefined);
    },
  };
}
