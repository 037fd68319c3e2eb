/**
 * Which connection a PUBACK goes out on (MQTT 5 §4.3.2, §4.4): a message is acknowledged on the connection it came
 * in on, once durable, or not at all. Found by review: a message whose connection dropped before its commit was
 * acknowledged on the next connection, where its packet id may already name another message (acknowledged before
 * it was durable). The broker here is a scripted MQTT peer on loopback: it drops the first connection mid-commit
 * and records every PUBACK per connection, which a real broker does not expose.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connectVigilConsumer, startScriptedBroker, telemetryPublish as publish } from '../../../test/support/scripted-mqtt-broker.ts';

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('external broker: acknowledgements', () => {
  const closers: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('never acknowledges a message on a connection it did not come in on; the redelivered copy is acknowledged once', async () => {
    const broker = await startScriptedBroker({
      // Second connection (the session is kept: no new subscription): the broker redelivers, after a moment.
      connected: (socket, n) => n === 2 && setTimeout(() => socket.write(Buffer.concat([publish(1), publish(2), publish(3)])), 600),
      // First connection: three messages, then the connection drops while they are being committed.
      subscribed: (socket, n) => n === 1 && socket.write(Buffer.concat([publish(1), publish(2), publish(3)]), () => setTimeout(() => socket.destroy(), 50)),
    });
    closers.push(() => broker.close());
    const stored: string[] = [];
    const gateway = await connectVigilConsumer(broker.url, {
      // A commit that takes a while: the first connection is gone before it ends.
      acceptTelemetry: async (deviceId: string, payload: Buffer | string) => {
        stored.push(`${deviceId} ${String(payload)}`);
        await delay(300);
        return { ok: true } as never;
      },
    });
    closers.push(() => gateway.close());
    await expect.poll(() => broker.acks.length, { timeout: 10_000 }).toBe(3);
    await delay(500); // nothing more comes
    // Before: "connection 2: 1", "connection 2: 2", "connection 2: 3" for the first copies too (six in all).
    expect(broker.acks.sort()).toEqual(['connection 2: 1', 'connection 2: 2', 'connection 2: 3']);
    expect(stored).toHaveLength(6); // each copy reached ingest; (device, seq) de-dup keeps one (ingest.service)
    expect(broker.connections()).toBe(2);
  });
});
