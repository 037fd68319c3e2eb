import net from 'node:net';
import tls from 'node:tls';
import { Aedes, type Client, type AuthenticateError } from 'aedes';
import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/logger.ts';
import type { EventBus } from '../../platform/events.ts';
import type { DeviceService } from '../../devices/device.service.ts';
import type { IngestService } from '../ingest.service.ts';
import { parseDeviceTopic, TOPIC_PREFIX, topicBelongsTo } from '../decode.ts';
import { routeDeviceMessage, type DeviceGateway } from './gateway.ts';
import { AppError } from '../../platform/errors.ts';
import { MQTT_LIMITS, limitPacketSize, namespacedClientId } from './limits.ts';

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
const BAD_USERNAME_OR_PASSWORD = 4;

/**
 * The embedded broker (aedes) on VIGIL_MQTT_PORT. Authentication and topic authorisation are aedes hooks;
 * a QoS 1 PUBLISH is acknowledged only after ingest has committed it, because aedes writes the PUBACK
 * after `authorizePublish` calls back, and we call back after the batch is durable.
 */
export async function startEmbeddedBroker(deps: {
  port: number;
  host?: string;
  deviceService: DeviceService;
  ingest: IngestService;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  /** [sec] ONC §170.315(d)(9): also serve MQTT over TLS (MQTTS) on tls.mqttsPort with this certificate. */
  tls?: { cert: Buffer; key: Buffer; mqttsPort: number };
}): Promise<DeviceGateway & { port: number; mqttsPort: number | null; clientCount(): number }> {
  const log = deps.logger.child({ module: 'broker' });
  const broker = await Aedes.createBroker({ id: 'vigil-embedded' });
  const sessions = new Map<string, Set<string>>(); // device id → connected client ids
  let ready = true;

  // Refusals are logged once a minute per user name, with how many were not (a device looping on a wrong secret,
  // or someone guessing, wrote a line per attempt: hundreds a second).
  const refusalsLogged = new Map<string, { at: number; quiet: number }>();
  const logRefusal = (clientId: string, username: string | undefined, why: string) => {
    const key = (username ?? '').slice(0, 128);
    const now = deps.clock.now();
    const seen = refusalsLogged.get(key);
    if (seen && now - seen.at < 60_000) return void seen.quiet++;
    if (refusalsLogged.size > 10_000) refusalsLogged.clear();
    refusalsLogged.set(key, { at: now, quiet: 0 });
    log.warn({ clientId, username: key, why, refusedSinceLastLine: seen?.quiet ?? 0 }, 'device connection refused');
  };

  broker.authenticate = (client, username, password, done) => {
    const refuse = (why: string) => {
      logRefusal(client.id, username, why);
      const err = new Error(why) as AuthenticateError;
      err.returnCode = BAD_USERNAME_OR_PASSWORD as AuthenticateError['returnCode'];
      done(err, false);
    };
    if (!username || !password) return refuse('username and password required');
    // [sec] a device cannot open unbounded sessions (its client ids are namespaced in preConnect).
    const live = sessions.get(username);
    if (live && live.size >= MQTT_LIMITS.maxSessionsPerDevice && !live.has(client.id))
      return refuse(`at most ${MQTT_LIMITS.maxSessionsPerDevice} sessions per device`);
    deps.deviceService.authenticate(username, password.toString('utf8')).then(
      (ok) => (ok ? done(null, true) : refuse('bad device id or secret')),
      (err) => {
        log.error({ err }, 'device authentication failed');
        refuse('authentication unavailable');
      },
    );
  };

  // The device id is the MQTT username; keep it on the client for the topic rule.
  const deviceOf = (client: Client | null) => (client ? ((client as unknown as { _user?: string })._user ?? null) : null);
  const preConnect = broker.preConnect;
  broker.preConnect = (client, packet, done) => {
    (client as unknown as { _user?: string })._user = packet.username;
    // [sec] client ids are bound to the device: namespaced by username before aedes reads them, so a device
    // reusing another device's client id gets its own session instead of kicking the other one off.
    if (packet.username && packet.clientId) packet.clientId = namespacedClientId(packet.username, packet.clientId);
    preConnect.call(broker, client, packet, done);
  };

  broker.authorizePublish = (client, packet, done) => {
    const deviceId = deviceOf(client);
    if (!client || !deviceId) return done(null); // broker-internal publishes (last wills are checked below)
    if (!topicBelongsTo(packet.topic, deviceId)) {
      log.warn({ deviceId, topic: packet.topic }, 'publish outside the device subtree refused');
      return done(new Error(`device ${deviceId} may publish only under ${TOPIC_PREFIX}${deviceId}/`));
    }
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    // [sec] Retained messages would be kept in the broker's memory for ever (a device could fill it with
    // megabytes under its own subtree): the device protocol has no use for them, so the flag is dropped and
    // the message is handled as any other.
    if (packet.retain) packet.retain = false;
    // Too many readings in one message, an unknown subtopic: refused by ingest with a reason, counted and
    // shown to an admin, and acknowledged (a QoS 1 device would otherwise resend it for ever).
    const work = parseDeviceTopic(packet.topic)
      ? routeDeviceMessage(deps.ingest, deps.events, packet.topic, payload, deps.clock.now())
      : deps.ingest.refuseTopic(deviceId, packet.topic, payload, deps.clock.now());
    if (packet.qos === 0) {
      work.catch((err) => log.error({ err, deviceId }, 'ingest failed (QoS 0 message lost)'));
      return done(null);
    }
    // QoS 1/2: no PUBACK until durable; if the database fails, drop the connection without acking so the
    // device re-sends on reconnect (MQTT 3.1.1 has no negative PUBACK).
    work.then(
      () => done(null),
      (err) => {
        log.error({ err, deviceId }, 'ingest failed; not acknowledging');
        done(new Error('storage unavailable'));
      },
    );
  };

  broker.authorizeSubscribe = (client, sub, done) => {
    const deviceId = deviceOf(client);
    if (deviceId && topicBelongsTo(sub.topic, deviceId)) return done(null, sub);
    log.warn({ deviceId, topic: sub.topic }, 'subscription outside the device subtree refused');
    done(null, null); // SUBACK 0x80 for this topic
  };

  broker.on('client', (client: Client) => {
    const deviceId = deviceOf(client);
    if (deviceId) sessions.set(deviceId, (sessions.get(deviceId) ?? new Set()).add(client.id));
    if (deviceId) void deps.ingest.setOnline(deviceId, true, undefined).catch(() => undefined);
  });
  broker.on('clientDisconnect', (client: Client) => {
    const deviceId = deviceOf(client);
    const set = deviceId ? sessions.get(deviceId) : undefined;
    if (set) {
      set.delete(client.id);
      if (set.size === 0) sessions.delete(deviceId!);
    }
    if (deviceId) void deps.ingest.setOnline(deviceId, false, undefined).catch(() => undefined);
  });
  // [sec] A rotated secret or a disabled device ends its open sessions at once (on every instance: the event
  // is relayed), instead of letting them run until they reconnect. A client that reconnects with the old
  // secret is refused by `authenticate` above.
  const offCredentials = deps.events.on('device.credentials', ({ deviceId, reason }) => {
    const ids = [...(sessions.get(deviceId) ?? [])];
    for (const id of ids) (broker as unknown as { clients: Record<string, Client | undefined> }).clients[id]?.close();
    if (ids.length) log.warn({ deviceId, sessions: ids.length, reason }, 'device sessions closed: credentials changed');
  });
  broker.on('clientError', (client: Client, err: Error) => log.debug({ clientId: client?.id, err: err.message }, 'client error'));

  const accept = (socket: net.Socket) => {
    // [sec] a packet announcing more than maxPacketBytes closes the connection before it is buffered.
    limitPacketSize(socket, MQTT_LIMITS.maxPacketBytes, (n) =>
      log.warn({ remote: socket.remoteAddress, bytes: n }, 'MQTT packet too large; connection closed'),
    );
    (broker.handle as (socket: net.Socket) => void)(socket);
  };
  const server = net.createServer(accept);
  const secure = deps.tls ? tls.createServer({ cert: deps.tls.cert, key: deps.tls.key, minVersion: 'TLSv1.2' }, accept) : null;
  secure?.on('tlsClientError', (err) => log.debug({ err: err.message }, 'MQTTS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  let mqttsPort: number | null = null;
  if (secure && deps.tls) {
    await new Promise<void>((resolve, reject) => {
      secure.once('error', reject);
      secure.listen(deps.tls!.mqttsPort, deps.host, () => {
        secure.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      server.close();
      const code = (err as NodeJS.ErrnoException).code;
      throw new AppError(
        'UNAVAILABLE',
        `VIGIL_MQTTS_PORT: ${code === 'EADDRINUSE' ? `port ${deps.tls!.mqttsPort} is already in use` : `cannot listen on port ${deps.tls!.mqttsPort} (${code ?? (err as Error).message})`}`,
      );
    });
    mqttsPort = (secure.address() as net.AddressInfo).port;
  }
  log.info({ port, mqttsPort }, 'embedded MQTT broker listening');

  return {
    kind: 'embedded',
    port,
    mqttsPort,
    clientCount: () => broker.connectedClients,
    publishToDevice(deviceId, subtopic, payload, qos) {
      return new Promise((resolve, reject) =>
        broker.publish(
          { cmd: 'publish', topic: `${TOPIC_PREFIX}${deviceId}/${subtopic}`, payload: Buffer.from(JSON.stringify(payload)), qos, retain: false, dup: false },
          (err?: Error) => (err ? reject(err) : resolve()),
        ),
      );
    },
    healthy: () => ready,
    async close() {
      ready = false;
      offCredentials();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (secure) await new Promise<void>((resolve) => secure.close(() => resolve()));
    },
  };
}
