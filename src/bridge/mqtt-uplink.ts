import mqtt from 'mqtt';
import type { StatusLog } from './status-log.ts';
import { telemetryBody, type CommandChannel, type IncomingCommand, type ReadingsUplink } from './uplink.ts';

const TOPIC_ROOT = 'vigil/v1/devices';
const PUBACK_TIMEOUT_MS = 10_000; // no PUBACK by then: treat Vigil as unreachable and retry (same seq)
const RECONNECT_MS = 2_000;

/**
 * The bridge as its device on Vigil's MQTT broker: username = device id, password = device secret.
 * A persistent session (clean: false) keeps commands sent while the bridge was away; telemetry is QoS 1,
 * so "delivered" means Vigil acknowledged it after storing it.
 */
export function connectMqttUplink(opts: { url: string; deviceId: string; secret: string; status: StatusLog }): ReadingsUplink & CommandChannel {
  const { deviceId } = opts;
  const commandsTopic = `${TOPIC_ROOT}/${deviceId}/commands`;
  const statusTopic = `${TOPIC_ROOT}/${deviceId}/status`;
  const readyListeners: Array<() => void> = [];
  const commandListeners: Array<(c: IncomingCommand) => void> = [];
  let wasConnected = false;
  let lastError = '';

  const client = mqtt.connect(opts.url, {
    clientId: `vigil-bridge-${deviceId}`,
    username: deviceId,
    password: opts.secret,
    clean: false,
    keepalive: 30,
    reconnectPeriod: RECONNECT_MS,
    connectTimeout: 10_000,
    will: { topic: statusTopic, payload: Buffer.from(JSON.stringify({ online: false })), qos: 1, retain: true },
  });

  client.on('connect', (connack) => {
    opts.status(`connected to Vigil at ${opts.url} as device ${deviceId}`);
    wasConnected = true;
    lastError = '';
    void (async () => {
      // A resumed session keeps its subscription; a new one needs it.
      if (!connack.sessionPresent)
        await client.subscribeAsync(commandsTopic, { qos: 1 }).catch((err) => opts.status(`cannot subscribe to commands: ${err.message}`));
      await client.publishAsync(statusTopic, JSON.stringify({ online: true }), { qos: 1, retain: true }).catch(() => undefined);
      readyListeners.forEach((l) => l());
    })();
  });
  client.on('close', () => {
    if (wasConnected) opts.status(`lost the connection to Vigil at ${opts.url}; readings are kept locally until it is back`);
    wasConnected = false;
  });
  client.on('error', (err) => {
    if (err.message !== lastError)
      opts.status(`MQTT: ${err.message}${/auth|password|authori/i.test(err.message) ? ' (check --device and VIGIL_DEVICE_SECRET)' : ''}`);
    lastError = err.message;
  });
  client.on('message', (topic, payload) => {
    if (topic !== commandsTopic) return;
    let cmd: Partial<IncomingCommand>;
    try {
      cmd = JSON.parse(payload.toString('utf8'));
    } catch {
      return opts.status('ignored a command that is not JSON');
    }
    if (typeof cmd.id !== 'string' || typeof cmd.name !== 'string') return opts.status('ignored a command without id or name');
    commandListeners.forEach((l) => l({ id: cmd.id!, name: cmd.name!, args: cmd.args ?? {} }));
  });

  return {
    describe: `MQTT ${opts.url}`,
    ready: () => client.connected,
    async send(msg) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no acknowledgement within ${PUBACK_TIMEOUT_MS / 1000} s`)), PUBACK_TIMEOUT_MS);
      });
      try {
        await Promise.race([client.publishAsync(`${TOPIC_ROOT}/${deviceId}/telemetry`, JSON.stringify(telemetryBody(msg)), { qos: 1 }), timeout]);
      } finally {
        clearTimeout(timer);
      }
      return 'delivered'; // MQTT 3.1.1 has no negative PUBACK: a refused reading is visible to admins in Vigil
    },
    onReady: (l) => void readyListeners.push(l),
    onCommand: (l) => void commandListeners.push(l),
    async answer(commandId, answer) {
      await client.publishAsync(`${TOPIC_ROOT}/${deviceId}/commands/${commandId}/result`, JSON.stringify(answer), { qos: 1 });
    },
    async close() {
      if (client.connected) await client.publishAsync(statusTopic, JSON.stringify({ online: false }), { qos: 1, retain: true }).catch(() => undefined);
      await client.endAsync(true);
    },
  };
}
