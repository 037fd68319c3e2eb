import type { MqttClient } from 'mqtt';

/** A QoS 1 PUBLISH taken off the connection: its topic, payload (UTF-8 text) and packet id. */
export type TappedPublish = (topic: string, payload: string, messageId: number) => void;

/**
 * Splits the bytes a broker sends (MQTT 5) into packets by their fixed header and hands each plain QoS 1
 * PUBLISH (no properties: no topic alias) to `onPublish` at once; every other packet, and the bytes after
 * anything it cannot read, go to `onOther` unchanged, in order. mqtt.js made a packet object, a topic and a
 * payload Buffer, two callbacks, a PUBACK object and two `nextTick`s per device message: that was a tenth
 * of an instance's CPU and a share of its garbage. A packet cut between chunks waits for the rest.
 */
/**
 * A packet longer than this that arrives in pieces turns the splitter off for the connection (everything to mqtt.js,
 * which appends chunks without copying them again): joining each new chunk to the part held back copied a large
 * message over and over (found by review: a 16 MiB publish in 64 KiB chunks cost 2 GiB of copying).
 */
const MAX_HELD_BACK = 256 * 1024;

export class PublishSplitter {
  private rest: Buffer | null = null;
  private broken = false;

  constructor(
    private readonly onPublish: TappedPublish,
    private readonly onOther: (bytes: Buffer) => void,
    /** Called, in stream order, for each PUBLISH left to mqtt.js (with properties, QoS 0 or 2). */
    private readonly onPassedPublish: () => void = () => undefined,
  ) {}

  push(chunk: Buffer): void {
    if (this.broken) return this.onOther(chunk);
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let at = 0; // start of the next packet
    let passFrom = 0; // start of the run of packets for mqtt.js not yet handed over
    while (at < buf.length) {
      // Fixed header: type and flags, then the remaining length (1–4 bytes, 7 bits each, MQTT 5 §1.5.5).
      let length = 0;
      let shift = 0;
      let i = at + 1;
      for (; i < buf.length && i <= at + 4; i++) {
        const b = buf[i];
        length += (b & 0x7f) << shift;
        shift += 7;
        if (b < 0x80) break;
      }
      if (i > at + 4) {
        this.broken = true; // not MQTT: mqtt.js reads it and closes the connection
        break;
      }
      if (i >= buf.length || i + 1 + length > buf.length) {
        if (length > MAX_HELD_BACK) {
          this.broken = true; // a large packet cut between chunks: mqtt.js takes it, and the rest of the connection
          break;
        }
        this.rest = buf.subarray(at); // the rest of this packet comes with the next chunk
        break;
      }
      const body = i + 1;
      const end = body + length;
      if ((buf[at] & 0xf6) === 0x32 && this.publish(buf, body, end, passFrom < at ? buf.subarray(passFrom, at) : null)) passFrom = end;
      else if ((buf[at] & 0xf0) === 0x30) this.onPassedPublish();
      at = end;
    }
    const passTo = this.rest ? at : buf.length;
    if (passFrom < passTo) this.onOther(buf.subarray(passFrom, passTo));
  }

  /**
   * A QoS 1 PUBLISH (type 3, QoS bits 01; DUP and RETAIN ignored) without properties: handled here, true. The packets
   * before it that are mqtt.js's (`before`) are handed over first, so that mqtt.js sees them before it.
   */
  private publish(buf: Buffer, body: number, end: number, before: Buffer | null): boolean {
    if (end - body < 5) return false;
    const topicEnd = body + 2 + buf.readUInt16BE(body);
    if (topicEnd === body + 2 || topicEnd + 3 > end) return false; // empty topic (an alias) or cut short
    if (buf[topicEnd + 2] !== 0) return false; // properties: mqtt.js reads them (topic alias, expiry…)
    const messageId = buf.readUInt16BE(topicEnd);
    if (before) this.onOther(before);
    this.onPublish(buf.toString('utf8', body + 2, topicEnd), buf.toString('utf8', topicEnd + 3, end), messageId);
    return true;
  }
}

/**
 * Puts a PublishSplitter between every connection of `client` (each reconnect builds a new stream) and
 * mqtt.js: mqtt.js pipes the stream into its parser, so its `pipe` is replaced by one that splits. The
 * client must be made with `manualConnect`, its `handleMessage` set before this (it is wrapped here), and connected after.
 * `onPublish` also gets the stream the message came on: a PUBACK belongs on that connection only.
 *
 * Order: mqtt.js hands its packets over one per tick, so a tapped publish could overtake a publish before it
 * that was left to mqtt.js (found by review: a device whose messages sometimes carry properties could have
 * seq 2 stored before seq 1). A tapped publish that has such a publish ahead of it, not yet delivered, waits
 * behind it and goes as soon as mqtt.js delivers it (MQTT 5 §4.6: a subscriber receives one topic's messages in
 * the order they were published).
 */
export function tapQos1Publishes(client: MqttClient, onPublish: (topic: string, payload: string, messageId: number, stream: MqttClient['stream']) => void) {
  // The splitter reads MQTT 5 publishes (a properties length after the packet id); another version is not tapped.
  if (client.options.protocolVersion !== 5) return;
  type Tapped = (topic: string, payload: string, messageId: number) => void;
  /**
   * Per connection: in stream order, the tapped publishes waiting and `null` for each publish mqtt.js has not
   * delivered yet; and how a tapped publish of that connection goes to `onPublish`.
   */
  const connections = new WeakMap<MqttClient['stream'], { queue: Array<Parameters<Tapped> | null>; tapped: Tapped }>();
  const internal = client as unknown as { streamBuilder: (c: MqttClient) => MqttClient['stream'] };
  const build = internal.streamBuilder;
  // mqtt.js delivers every PUBLISH it is handed through handleMessage, in order: the one at the head of the
  // queue is delivered now, and the tapped publishes behind it follow.
  const inner = client.handleMessage.bind(client);
  client.handleMessage = (packet, callback) => {
    inner(packet, callback);
    const connection = connections.get(client.stream);
    if (packet.cmd !== 'publish' || !connection || connection.queue[0] !== null) return;
    const { queue, tapped } = connection;
    queue.shift();
    while (queue.length > 0 && queue[0] !== null) tapped(...queue.shift()!);
  };
  internal.streamBuilder = (c) => {
    const stream = build(c);
    const queue: Array<Parameters<Tapped> | null> = [];
    // Not once mqtt.js has torn the connection down (a protocol error in a packet handed to it destroys the stream
    // at once; found by review: the publishes after it in the same chunk still reached ingest).
    const tapped: Tapped = (topic, payload, messageId) => {
      if (!stream.destroyed) onPublish(topic, payload, messageId, stream);
    };
    connections.set(stream, { queue, tapped });
    stream.pipe = <T extends NodeJS.WritableStream>(dest: T): T => {
      let paused = false;
      const splitter = new PublishSplitter(
        (topic, payload, messageId) => (queue.length === 0 ? tapped(topic, payload, messageId) : queue.push([topic, payload, messageId])),
        (bytes) => {
          // As pipe does: wait for mqtt.js's parser when it says it is full (one drain listener at a time).
          if (!dest.write(bytes) && !paused) {
            paused = true;
            stream.pause();
            dest.once('drain', () => {
              paused = false;
              stream.resume();
            });
          }
        },
        () => queue.push(null),
      );
      stream.on('data', (chunk: Buffer) => splitter.push(chunk));
      stream.once('end', () => dest.end());
      return dest;
    };
    return stream;
  };
}
