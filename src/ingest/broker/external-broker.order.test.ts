/**
 * One device's messages reach ingest in the order the broker sent them (MQTT 5 §4.6), whichever path each takes:
 * plain QoS 1 publishes are taken off the socket (publish-tap.ts), the rest (MQTT 5 properties, QoS 0) go through
 * mqtt.js, which hands packets over one per tick. Found by review: a tapped publish overtook publishes before it
 * that mqtt.js had not delivered yet. The broker is a scripted MQTT peer on loopback, so the bytes and their
 * grouping into socket writes are exact.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connectVigilConsumer, frame, startScriptedBroker, telemetryPublish as publish } from '../../../test/support/scripted-mqtt-broker.ts';

const withProperties = (seq: number) => publish(seq, { messageExpiryInterval: 3600, userProperties: { source: 'gateway' } });
const qos0 = (seq: number) => frame({ cmd: 'publish', topic: 'vigil/v1/devices/dev-a/telemetry', payload: `{"seq":${seq},"hr":70}`, qos: 0 });

describe('external broker: message order', () => {
  const closers: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('delivers tapped and mqtt.js-handled publishes of one connection in stream order, within and across socket writes', async () => {
    // 1–12 in one write, every path mixed; 13–16 in a second write while mqtt.js may still be working through the first.
    const first = [withProperties(1), withProperties(2), publish(3), qos0(4), publish(5), withProperties(6), withProperties(7)];
    first.push(withProperties(8), publish(9), publish(10), qos0(11), publish(12));
    const second = [withProperties(13), publish(14), withProperties(15), publish(16)];
    const broker = await startScriptedBroker({
      subscribed: (socket) => socket.write(Buffer.concat(first), () => socket.write(Buffer.concat(second))),
    });
    closers.push(() => broker.close());
    const seen: number[] = [];
    const gateway = await connectVigilConsumer(broker.url, {
      acceptTelemetry: async (_deviceId: string, payload: Buffer | string) => {
        seen.push((JSON.parse(String(payload)) as { seq: number }).seq);
        return { ok: true } as never;
      },
    });
    closers.push(() => gateway.close());
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(16);
    // Before the fix the plain ones (3, 5, 9, 10, 12, 14, 16) overtook those ahead of them that mqtt.js was handling.
    expect(seen).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    // Every QoS 1 message acknowledged, once, on the connection it came in on.
    await expect.poll(() => broker.acks.length, { timeout: 10_000 }).toBe(14);
    expect(new Set(broker.acks).size).toBe(14);
  });
});
