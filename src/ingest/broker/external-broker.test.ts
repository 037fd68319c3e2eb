import { describe, expect, it } from 'vitest';
import { pubackBytes } from './external-broker.ts';

describe('pubackBytes', () => {
  it('is one plain PUBACK per id, back to back: 0x40, remaining length 2, the id big-endian', () => {
    // The bytes mqtt-packet 9 writes for { cmd: 'puback', messageId, reasonCode: 0 } under MQTT 3.1.1 and 5 alike.
    expect([...pubackBytes([1, 256, 4242, 65535])]).toEqual([0x40, 2, 0, 1, 0x40, 2, 1, 0, 0x40, 2, 0x10, 0x92, 0x40, 2, 0xff, 0xff]);
  });

  it('is empty for no ids', () => {
    expect(pubackBytes([]).length).toBe(0);
  });
});
