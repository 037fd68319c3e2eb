import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TlsMaterial } from '../auth/tls.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import { AppError } from '../platform/errors.ts';
import { startEmbeddedBroker } from '../ingest/broker/embedded-broker.ts';
import { connectExternalBroker } from '../ingest/broker/external-broker.ts';
import { connectNatsJetStream } from '../ingest/broker/nats-jetstream.ts';
import { checkExternalBroker } from '../ingest/broker/mosquitto-check.ts';
import type { DeviceGateway } from '../ingest/broker/gateway.ts';
import type { Services } from './services.ts';

/** This data dir's instance id (kept in `<data dir>/instance-id`): names it to brokers and to other instances. */
export async function instanceId(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'instance-id');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const id = randomBytes(4).toString('hex');
    await writeFile(file, id + '\n');
    return id;
  }
}

export type Gateway = DeviceGateway & { port?: number; mqttsPort?: number | null; clientCount?: () => number; configWarnings?: () => string[] };

/** The device side: an external broker (MQTT_URL), the embedded one, or none (VIGIL_MQTT_PORT=0). */
export async function startDeviceGateway(config: Config, services: Services, logger: Logger, tls?: TlsMaterial): Promise<Gateway | null> {
  if (config.nats) {
    return connectNatsJetStream({
      ...config.nats,
      instanceId: await instanceId(config.dataDir),
      ingest: services.ingest,
      events: services.events,
      clock: services.clock,
      logger,
    });
  }
  if (config.mqttUrl) {
    const gateway = await connectExternalBroker({
      url: config.mqttUrl,
      instanceId: await instanceId(config.dataDir),
      consumers: 4,
      orphans: { db: services.db, afterS: config.brokerOrphanAfterS },
      ingest: services.ingest,
      events: services.events,
      clock: services.clock,
      logger,
    });
    // Where the broker's acknowledgement is the device's only guarantee: say what in its setup loses readings.
    const warnings = await checkExternalBroker({ url: config.mqttUrl, confPath: config.mosquittoConf, logger });
    return Object.assign(gateway, { configWarnings: () => warnings });
  }
  if (config.mqttPort === 0) return null;
  // [sec] (d)(9): with a certificate the embedded broker also listens for MQTT over TLS (VIGIL_MQTTS_PORT).
  const brokerDeps = {
    host: config.mqttHost,
    deviceService: services.deviceService,
    ingest: services.ingest,
    events: services.events,
    clock: services.clock,
    logger,
    tls,
  };
  try {
    return await startEmbeddedBroker({ port: config.mqttPort, ...brokerDeps });
  } catch (err) {
    // The default port is often held by a broker already on the machine (Mosquitto): when the port was not
    // chosen explicitly, take the next free one and say so, rather than failing a first `npm start`.
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || config.mqttPortExplicit) throw portError('VIGIL_MQTT_PORT', config.mqttPort, err);
    const embedded = await startEmbeddedBrokerOnNextFreePort(config.mqttPort, brokerDeps);
    logger.warn(
      `port ${config.mqttPort} is in use (another MQTT broker?); the embedded broker listens on ${embedded.port} instead. Set VIGIL_MQTT_PORT to choose.`,
    );
    return embedded;
  }
}

async function startEmbeddedBrokerOnNextFreePort(from: number, deps: Omit<Parameters<typeof startEmbeddedBroker>[0], 'port'>) {
  const TRIES = 10;
  for (let port = from + 1; port <= from + TRIES; port++) {
    try {
      return await startEmbeddedBroker({ port, ...deps });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new AppError('UNAVAILABLE', `VIGIL_MQTT_PORT: ports ${from}–${from + TRIES} are all in use (set VIGIL_MQTT_PORT to a free port)`);
}

export function portError(setting: string, port: number, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return new AppError('UNAVAILABLE', `${setting}: port ${port} is already in use (set ${setting} to a free port)`);
  if (code === 'EACCES') return new AppError('UNAVAILABLE', `${setting}: no permission to listen on port ${port}`);
  return err as Error;
}
