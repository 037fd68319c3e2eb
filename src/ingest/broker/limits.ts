import type net from 'node:net';

/**
 * Hostile-device limits for the embedded broker (issue 9, F13–F18): a packet-size ceiling enforced on the raw
 * byte stream (so a 64 MB PUBLISH is refused from its fixed header, before it is buffered), at most a few
 * live sessions per device credential, client ids bound to their device (namespaced), and a ceiling on readings per message.
 */
export const MQTT_LIMITS = {
  /** MQTT remaining length ceiling: an ECG chunk of 60,000 samples as JSON fits well under this. */
  maxPacketBytes: 1024 * 1024,
  /** Concurrent connections per device id (a device, its bridge, a reconnect overlapping the old socket). */
  maxSessionsPerDevice: 3,
} as const;

/**
 * Scans MQTT fixed headers (type byte + variable-length "remaining length", MQTT 3.1.1 §2.2.3) as aedes reads
 * the socket, and destroys the socket at the first packet announcing more than `maxBytes`.
 */
export function limitPacketSize(socket: net.Socket, maxBytes: number, onTooBig: (announced: number) => void): void {
  let state: 'type' | 'length' | 'body' = 'type';
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let remaining = 0;
  const scan = (buf: Buffer): boolean => {
    let i = 0;
    while (i < buf.length) {
      if (state === 'type') {
        i++;
        state = 'length';
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
      } else if (state === 'length') {
        const b = buf[i++];
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        lengthBytes++;
        if (length > maxBytes || lengthBytes > 4) {
          onTooBig(length);
          return false;
        }
        if ((b & 0x80) === 0) {
          remaining = length;
          state = remaining === 0 ? 'type' : 'body';
        }
      } else {
        const take = Math.min(remaining, buf.length - i);
        i += take;
        remaining -= take;
        if (remaining === 0) state = 'type';
      }
    }
    return true;
  };
  const read = socket.read.bind(socket);
  socket.read = ((n?: number) => {
    const buf = read(n) as Buffer | null;
    if (buf && !scan(buf)) {
      socket.destroy();
      return null;
    }
    return buf;
  }) as typeof socket.read;
}

/**
 * The broker-side client id: the device's own id space. Devices may choose any client id (the protocol does not
 * fix one), but two devices never share a session, so one cannot take over another's.
 */
export function namespacedClientId(username: string, clientId: string): string {
  return `${username}/${clientId}`;
}
