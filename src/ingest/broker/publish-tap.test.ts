import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { PublishSplitter } from './publish-tap.ts';

// mqtt.js's own packet writer (a dependency of mqtt), so the bytes are what a broker would send.
const mqttPacket = createRequire(import.meta.url)('mqtt-packet') as { generate(packet: object, opts?: object): Buffer };
const v5 = { protocolVersion: 5 };
const gen = (packet: object) => mqttPacket.generate(packet, v5);

const telemetry = (i: number, payload: string) => ({
  cmd: 'publish',
  topic: `vigil/v1/devices/dev_${i}/telemetry`,
  payload,
  qos: 1,
  messageId: 100 + i,
  dup: i % 2 === 1,
  retain: false,
});

// What a broker may send: tapped are QoS 1 publishes without properties; the rest is for mqtt.js.
const packets: Array<{ bytes: Buffer; tapped?: [string, string, number] }> = [
  { bytes: gen({ cmd: 'connack', reasonCode: 0, sessionPresent: true }) },
  { bytes: gen(telemetry(1, '{"hr":72}')), tapped: ['vigil/v1/devices/dev_1/telemetry', '{"hr":72}', 101] },
  { bytes: gen({ ...telemetry(2, '{"a":1}'), properties: { messageExpiryInterval: 60 } }) }, // properties: mqtt.js
  { bytes: gen({ cmd: 'publish', topic: 'vigil/v1/devices/dev_3/status', payload: '{"online":true}', qos: 0 }) },
  { bytes: gen({ cmd: 'publish', topic: 'x', payload: 'q2', qos: 2, messageId: 7 }) },
  { bytes: gen({ cmd: 'suback', messageId: 1, granted: [1], reasonCode: 0 }) },
  // Over 127 bytes (a two-byte remaining length) and not ASCII.
  {
    bytes: gen(telemetry(4, JSON.stringify({ note: 'Ärztin µ'.repeat(40) }))),
    tapped: ['vigil/v1/devices/dev_4/telemetry', JSON.stringify({ note: 'Ärztin µ'.repeat(40) }), 104],
  },
  { bytes: gen({ cmd: 'pingresp' }) },
  { bytes: gen(telemetry(5, '')), tapped: ['vigil/v1/devices/dev_5/telemetry', '', 105] },
];
const all = Buffer.concat(packets.map((p) => p.bytes));
const untapped = Buffer.concat(packets.filter((p) => !p.tapped).map((p) => p.bytes));
const expected = packets.filter((p) => p.tapped).map((p) => p.tapped);

function run(chunks: Buffer[]) {
  const seen: Array<[string, string, number]> = [];
  const other: Buffer[] = [];
  const splitter = new PublishSplitter(
    (topic, payload, id) => seen.push([topic, payload, id]),
    (bytes) => other.push(Buffer.from(bytes)),
  );
  for (const c of chunks) splitter.push(c);
  return { seen, other: Buffer.concat(other) };
}

describe('PublishSplitter', () => {
  it('takes QoS 1 publishes without properties and passes every other byte on, in order, wherever the chunks are cut', () => {
    for (let cut = 0; cut <= all.length; cut++) {
      const { seen, other } = run([all.subarray(0, cut), all.subarray(cut)]);
      expect(seen).toEqual(expected);
      expect(other.equals(untapped)).toBe(true);
    }
    const { seen, other } = run([...all].map((b) => Buffer.from([b]))); // one byte at a time
    expect(seen).toEqual(expected);
    expect(other.equals(untapped)).toBe(true);
  });

  it('passes on, unread, everything from a header that is not MQTT', () => {
    const garbage = Buffer.from([0x32, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 2, 3]);
    const after = gen(telemetry(6, '{}'));
    const { seen, other } = run([gen(telemetry(1, '{"hr":72}')), garbage, after]);
    expect(seen).toEqual([['vigil/v1/devices/dev_1/telemetry', '{"hr":72}', 101]]);
    expect(other.equals(Buffer.concat([garbage, after]))).toBe(true);
  });

  it('hands a large publish that arrives in pieces, and the rest of the connection, to mqtt.js (found by review: each piece recopied what was held back)', () => {
    const small = gen(telemetry(1, '{"hr":72}'));
    const large = gen(telemetry(2, JSON.stringify({ note: 'x'.repeat(1 << 20) }))); // 1 MiB: over MAX_HELD_BACK
    const after = gen(telemetry(3, '{"hr":73}'));
    const stream = Buffer.concat([small, large, after]);
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 64 * 1024) chunks.push(stream.subarray(at, at + 64 * 1024));
    const { seen, other } = run(chunks);
    expect(seen).toEqual([['vigil/v1/devices/dev_1/telemetry', '{"hr":72}', 101]]); // before the large one only
    expect(other.equals(Buffer.concat([large, after]))).toBe(true); // every byte, in order, once
  });
});
