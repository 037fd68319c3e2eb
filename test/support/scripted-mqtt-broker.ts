/**
 * A scripted MQTT 5 peer on loopback for tests of Vigil as a broker's client (src/ingest/broker): it answers
 * CONNECT, SUBSCRIBE and PINGREQ, records every PUBACK per connection, and lets the test write exact frames
 * (mqtt-packet, mqtt.js's own packet writer) where a real broker would not let it choose the bytes or the timing.
 */
import net from 'node:net';
import { createRequire } from 'node:module';
import { connectExternalBroker } from '../../src/ingest/broker/external-broker.ts';
import type { DeviceGateway } from '../../src/ingest/broker/gateway.ts';
import type { IngestService } from '../../src/ingest/ingest.service.ts';
import type { EventBus } from '../../src/platform/events.ts';
import { createLogger } from '../../src/platform/logger.ts';

interface Frame {
  cmd: string;
  messageId?: number;
  subscriptions?: unknown[];
}
interface MqttPacket {
  generate(p: object, o: { protocolVersion: number }): Buffer;
  parser(o: { protocolVersion: number }): { parse(b: Buffer): void; on(e: 'packet', f: (p: Frame) => void): void };
}
const mp = createRequire(import.meta.url)('mqtt-packet') as MqttPacket;

/** One MQTT 5 packet's bytes. */
export const frame = (p: object): Buffer => mp.generate(p, { protocolVersion: 5 });

/** A device's telemetry message as a broker forwards it (QoS 1), with MQTT 5 properties if given. */
export const telemetryPublish = (seq: number, properties?: object): Buffer =>
  frame({
    cmd: 'publish',
    topic: 'vigil/v1/devices/dev-a/telemetry',
    payload: `{"seq":${seq},"hr":${60 + seq}}`,
    qos: 1,
    messageId: seq,
    ...(properties ? { properties } : {}),
  });

export interface ScriptedBroker {
  url: string;
  /** "connection N: id" for every PUBACK received. */
  acks: string[];
  connections(): number;
  close(): Promise<void>;
}

/**
 * `script.connected(socket, n)` runs after the CONNACK of connection n (1, 2, …) and `script.subscribed` after
 * each SUBACK: the test writes its frames there.
 */
export async function startScriptedBroker(script: {
  connected?: (socket: net.Socket, n: number) => void;
  subscribed?: (socket: net.Socket, n: number) => void;
}): Promise<ScriptedBroker> {
  const acks: string[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    const n = ++connections;
    const parser = mp.parser({ protocolVersion: 5 });
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => undefined);
    parser.on('packet', (p) => {
      if (p.cmd === 'connect') {
        socket.write(frame({ cmd: 'connack', sessionPresent: n > 1, reasonCode: 0 }));
        script.connected?.(socket, n);
      } else if (p.cmd === 'subscribe') {
        socket.write(frame({ cmd: 'suback', messageId: p.messageId, granted: (p.subscriptions ?? []).map(() => 1) }));
        script.subscribed?.(socket, n);
      } else if (p.cmd === 'puback') acks.push(`connection ${n}: ${p.messageId}`);
      else if (p.cmd === 'pingreq') socket.write(frame({ cmd: 'pingresp' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    acks,
    connections: () => connections,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Vigil's external-broker client (one consumer) on `url`, with `ingest` standing in for the store. */
export function connectVigilConsumer(url: string, ingest: Partial<IngestService>): Promise<DeviceGateway> {
  return connectExternalBroker({
    url,
    instanceId: 'scripted',
    consumers: 1,
    ingest: { acceptStatus: async () => ({ ok: true }), acceptEcg: async () => ({ ok: true }), ...ingest } as unknown as IngestService,
    events: { emit: () => undefined } as unknown as EventBus,
    clock: { now: () => Date.now() },
    logger: createLogger('silent'),
  });
}
