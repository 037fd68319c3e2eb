/**
 * Which connection a PUBACK goes out on (MQTT 5 §4.3.2, §4.4): a message is acknowledged on the connection it came
 * in on, once durable, or not at all. Found by review: a message whose connection dropped before its commit was
 * acknowledged on the next connection, where its packet id may already name another message (acknowledged before
 * it was durable). The broker here is a scripted MQTT peer on loopback (mqtt-packet frames): it drops the first
 * connection mid-commit and records every PUBACK per connection, which a real broker does not expose.
 */
import net from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { connectExternalBroker } from './external-broker.ts';
import type { IngestService } from '../ingest.service.ts';
import type { EventBus } from '../../platform/events.ts';
import { createLogger } from '../../platform/logger.ts';

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
const frame = (p: object) => mp.generate(p, { protocolVersion: 5 });
const publish = (id: number) =>
  frame({ cmd: 'publish', topic: 'vigil/v1/devices/dev-a/telemetry', payload: `{"seq":${id},"hr":${60 + id}}`, qos: 1, messageId: id });
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('external broker: acknowledgements', () => {
  const closers: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('never acknowledges a message on a connection it did not come in on; the redelivered copy is acknowledged once', async () => {
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
          // Second connection (the session is kept: no new subscription): the broker redelivers, after a moment.
          if (n === 2) setTimeout(() => socket.write(Buffer.concat([publish(1), publish(2), publish(3)])), 600);
        } else if (p.cmd === 'subscribe') {
          socket.write(frame({ cmd: 'suback', messageId: p.messageId, granted: (p.subscriptions ?? []).map(() => 1) }));
          // First connection: three messages, then the connection drops while they are being committed.
          if (n === 1) socket.write(Buffer.concat([publish(1), publish(2), publish(3)]), () => setTimeout(() => socket.destroy(), 50));
        } else if (p.cmd === 'puback') acks.push(`connection ${n}: ${p.messageId}`);
        else if (p.cmd === 'pingreq') socket.write(frame({ cmd: 'pingresp' }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const stored: string[] = [];
    const ingest = {
      // A commit that takes a while: the first connection is gone before it ends.
      acceptTelemetry: async (deviceId: string, payload: Buffer | string) => {
        stored.push(`${deviceId} ${String(payload)}`);
        await delay(300);
        return { ok: true };
      },
      acceptStatus: async () => ({ ok: true }),
      acceptEcg: async () => ({ ok: true }),
    } as unknown as IngestService;
    const gateway = await connectExternalBroker({
      url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      instanceId: 'acks',
      consumers: 1,
      ingest,
      events: { emit: () => undefined } as unknown as EventBus,
      clock: { now: () => Date.now() },
      logger: createLogger('silent'),
    });
    closers.push(() => gateway.close());
    await expect.poll(() => acks.length, { timeout: 10_000 }).toBe(3);
    await delay(500); // nothing more comes
    // Before: "connection 2: 1", "connection 2: 2", "connection 2: 3" for the first copies too (six in all).
    expect(acks.sort()).toEqual(['connection 2: 1', 'connection 2: 2', 'connection 2: 3']);
    expect(stored).toHaveLength(6); // each copy reached ingest; (device, seq) de-dup keeps one (ingest.service)
    expect(connections).toBe(2);
  });
});
