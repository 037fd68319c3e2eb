import { describe, expect, it } from 'vitest';
import type { StoredReading } from '../domain/types.ts';
import { LiveServerMessage } from './contracts/index.ts';
import { readingsJson, readingsMessage } from './live-readings-json.ts';

const reading = (over: Partial<StoredReading>): StoredReading => ({
  id: '1',
  patientId: 'pat_1',
  deviceId: 'dev_1',
  system: 'http://loinc.org',
  code: '8867-4',
  value: 72,
  unit: '/min',
  ts: Date.UTC(2026, 11, 2, 1, 2, 3, 4),
  seq: 1,
  commandId: null,
  method: null,
  ...over,
});

describe('live readings message written as text', () => {
  it('is exactly JSON.stringify of the message object, for every field form', () => {
    const rows = [
      reading({}),
      reading({ code: '59408-5', value: 97.5, unit: '%' }), // same time: one ISO text
      reading({ deviceId: null, code: '1104051000000101', value: 3, unit: '{score}', method: { name: 'news2', version: '1.0' } }),
      reading({ deviceId: 'dev "quoted"\\ \u2028 Ärztin', unit: 'µmol/L', value: -0, ts: 0 }),
      reading({ value: 1e21, ts: Date.UTC(1999, 0, 1) }),
      reading({ value: 0.1 + 0.2, deviceId: undefined as unknown as null }),
    ];
    for (const patientId of ['pat_1', 'p"a\\t\n']) {
      const text = readingsJson(patientId, rows).toString('utf8');
      expect(text).toBe(JSON.stringify(readingsMessage(patientId, rows)));
      // A stored reading always has a deviceId (null for none): the wire contract holds for those.
      const parsed = LiveServerMessage.safeParse(JSON.parse(readingsJson(patientId, rows.slice(0, -1)).toString('utf8')));
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
    expect(readingsJson('pat_1', []).toString('utf8')).toBe(JSON.stringify(readingsMessage('pat_1', [])));
  });

  it('repeats a message time and device only while both are the same, and grows past its first guess', () => {
    const t = Date.UTC(2026, 11, 2);
    const rows = [
      reading({ ts: t, deviceId: 'dev_1' }),
      reading({ ts: t, deviceId: 'dev_1', code: '59408-5', value: 97, unit: '%' }),
      reading({ ts: t, deviceId: 'dev_2' }), // same time, another device
      reading({ ts: t, deviceId: null }),
      reading({ ts: t + 1, deviceId: null, value: 123456789012 }),
      reading({ ts: t + 1, deviceId: null, value: -4, method: { name: 'news2', version: '1.0' } }),
      ...Array.from({ length: 300 }, (_, i) => reading({ ts: t + i * 1000, deviceId: 'Ärztin-' + 'x'.repeat(i), value: i / 7 })),
    ];
    expect(readingsJson('pat_1', rows).toString('utf8')).toBe(JSON.stringify(readingsMessage('pat_1', rows)));
  });
});
