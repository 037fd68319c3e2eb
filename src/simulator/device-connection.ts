/**
 * One simulated device's MQTT session, speaking the device protocol of interfaces.md §3: its own
 * connection (username = device id, password = secret, clientId = device id, persistent session so QoS 1
 * commands queue while it is away), a retained last will `{"online": false}` on its status topic, and the
 * topics under `vigil/v1/devices/{deviceId}/`. Knows nothing of physiology.
 */
import mqtt, { type MqttClient } from 'mqtt';

export const TOPIC_ROOT = 'vigil/v1/devices';
const FIRST_CONNECT_TIMEOUT_MS = 15_000; // 15 s

export function deviceTopic(deviceId: string, leaf: 'telemetry' | 'ecg' | 'status' | 'commands'): string {
  return `${TOPIC_ROOT}/${deviceId}/${leaf}`;
}

export function commandResultTopic(deviceId: string, commandId: string): string {
  return `${TOPIC_ROOT}/${deviceId}/commands/${commandId}/result`;
}

export interface DeviceCommand {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

export interface CommandResult {
  status: 'done' | 'failed';
  message: string;
}

/** Parses a command payload; `id` may be present even when the rest is invalid (so it can be answered). */
export function parseCommand(payload: Buffer | string): { command: DeviceCommand } | { error: string; id?: string } {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString());
  } catch {
    return { error: 'command is not valid JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { error: 'command is not a JSON object' };
  const { id, name, args } = body as Record<string, unknown>;
  if (typeof id !== 'string' || id === '' || id.includes('/') || id.includes('+') || id.includes('#')) {
    return { error: 'command has no usable "id"' };
  }
  if (typeof name !== 'string' || name === '') return { error: 'command has no "name"', id };
  if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
    return { error: '"args" must be an object', id };
  }
  return { command: { id, name, args: (args as Record<string, unknown> | undefined) ?? {} } };
}

export interface SimLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface DeviceConnection {
  readonly deviceId: string;
  connected(): boolean;
  publish(leaf: 'telemetry' | 'ecg', body: object, qos?: 0 | 1): Promise<void>;
  publishStatus(body: { online: boolean; battery?: number }): Promise<void>;
  publishResult(commandId: string, result: CommandResult): Promise<void>;
  /** Publishes `{"online": false}` (a clean disconnect does not fire the will) and disconnects. */
  close(): Promise<void>;
}

export interface ConnectDeviceOptions {
  mqttUrl: string;
  deviceId: string;
  secret: string;
  logger: SimLogger;
  onCommand(command: DeviceCommand): void;
  onBadCommand(error: string, commandId?: string): void;
  /** Called on every (re)connection, e.g. to announce status. */
  onConnect(): void;
}

export async function connectDevice(opts: ConnectDeviceOptions): Promise<DeviceConnection> {
  const { deviceId } = opts;
  const log = { deviceId };
  const commandsTopic = deviceTopic(deviceId, 'commands');
  const client: MqttClient = mqtt.connect(opts.mqttUrl, {
    clientId: deviceId,
    username: deviceId,
    password: opts.secret,
    clean: false, // persistent session: QoS 1 commands sent while offline are delivered on reconnect
    keepalive: 30,
    reconnectPeriod: 2_000,
    connectTimeout: 10_000,
    will: { topic: deviceTopic(deviceId, 'status'), payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true },
  });

  client.on('message', (topic, payload) => {
    if (topic !== commandsTopic) return;
    const parsed = parseCommand(payload);
    if ('command' in parsed) opts.onCommand(parsed.command);
    else opts.onBadCommand(parsed.error, parsed.id);
  });
  client.on('error', (err) => opts.logger.warn({ ...log, err: err.message }, 'device connection error'));
  client.on('offline', () => opts.logger.warn(log, 'device offline, reconnecting'));

  await new Promise<void>((resolve, reject) => {
    const fail = (reason: string): void => {
      clearTimeout(timer);
      client.off('error', onError);
      client.end(true);
      reject(new Error(`device ${deviceId} could not connect to ${opts.mqttUrl}: ${reason}`));
    };
    const onError = (err: Error): void => fail(err.message);
    // An unreachable host retries silently; give up on the first connection after a bound.
    const timer = setTimeout(() => fail(`no CONNACK within ${FIRST_CONNECT_TIMEOUT_MS / 1000} s`), FIRST_CONNECT_TIMEOUT_MS);
    client.once('error', onError);
    client.once('connect', () => {
      clearTimeout(timer);
      client.off('error', onError);
      resolve();
    });
  });

  const subscribe = async (): Promise<void> => {
    try {
      await client.subscribeAsync(commandsTopic, { qos: 1 });
    } catch (err) {
      opts.logger.warn({ ...log, err: (err as Error).message }, 'could not subscribe to commands');
    }
  };
  await subscribe();
  opts.onConnect();
  client.on('connect', (connack) => {
    // A resumed persistent session keeps its subscription; a fresh one needs it again.
    if (!connack.sessionPresent) void subscribe();
    opts.onConnect();
  });

  const publishJson = async (topic: string, body: object, qos: 0 | 1, retain = false): Promise<void> => {
    try {
      await client.publishAsync(topic, JSON.stringify(body), { qos, retain });
    } catch (err) {
      opts.logger.warn({ ...log, topic, err: (err as Error).message }, 'publish failed');
    }
  };

  return {
    deviceId,
    connected: () => client.connected,
    publish: (leaf, body, qos = 0) => publishJson(deviceTopic(deviceId, leaf), body, qos),
    publishStatus: (body) => publishJson(deviceTopic(deviceId, 'status'), body, 1, true),
    publishResult: (commandId, result) => publishJson(commandResultTopic(deviceId, commandId), result, 1),
    async close() {
      if (client.connected) await publishJson(deviceTopic(deviceId, 'status'), { online: false }, 1, true);
      await client.endAsync();
    },
  };
}
