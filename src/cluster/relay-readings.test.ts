import { describe, expect, it } from 'vitest';
import type { StoredReading } from '../domain/types.ts';
import { decodeInline, encodeInline, type InlineReadings } from './relay-readings.ts';

/** Readings as ingest stores them: messages of six readings, ids from one sequence. */
function batch(messages: number, firstId = 1_000_000, patients = 3): StoredReading[] {
  const out: StoredReading[] = [];
  let id = firstId;
  const codes: Array<[string, number, string]> = [
    ['8867-4', 72.5, '/min'],
    ['59408-5', 97, '%'],
    ['9279-1', 14, '/min'],
    ['8310-5', 36.81, 'Cel'],
    ['8480-6', 121, 'mm[Hg]'],
    ['8462-4', 79, 'mm[Hg]'],
  ];
  for (let m = 0; m < messages; m++) {
    const ts = 1_764_547_200_000 + m * 7;
    for (const [code, value, unit] of codes)
      out.push({
        id: String(id++),
        patientId: `pat_${m % patients}`,
        deviceId: m % 5 === 0 ? null : `dev_${m % 7}`,
        system: 'http://loinc.org',
        code,
        value: value + m / 1000,
        unit,
        ts,
        seq: m % 4 === 0 ? null : m,
        commandId: m % 9 === 0 ? `cmd_${m}` : null,
        method: null,
      });
  }
  return out;
}

const decodeAll = (payloads: string[], wanted = (_: string) => true) => payloads.flatMap((p) => decodeInline(JSON.parse(p) as InlineReadings, wanted));

describe('readings inline in relay notifications', () => {
  it('carries every reading of a large batch, exactly, in order, in payloads under the byte limit', () => {
    const readings = batch(2_000);
    const { payloads, byId } = encodeInline(readings, 7_800);
    expect(byId).toEqual([]);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(7_800);
    expect(decodeAll(payloads)).toEqual(readings);
  });

  it('starts a new group where ids are not consecutive (another batch took ids in between)', () => {
    const readings = batch(3).map((r, i) => (i >= 3 ? { ...r, id: String(Number(r.id) + 50) } : r));
    expect(decodeAll(encodeInline(readings, 7_800).payloads)).toEqual(readings);
  });

  it('measures bytes, not characters (non-ASCII strings)', () => {
    const readings = batch(400).map((r) => ({ ...r, patientId: `patient-é-${r.patientId}-${'ü'.repeat(40)}`, unit: r.unit === 'Cel' ? '°C' : r.unit }));
    const { payloads } = encodeInline(readings, 2_000);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(2_000);
    expect(decodeAll(payloads)).toEqual(readings);
  });

  it('hands back for announcement by id what cannot fit a notification of its own', () => {
    const readings = batch(4);
    readings[6] = { ...readings[6], patientId: 'p'.repeat(3_000) }; // the second message's first reading starts a group of its own
    const { payloads, byId } = encodeInline(readings, 2_000);
    expect(byId.map((r) => r.id)).toEqual([readings[6].id]);
    expect(decodeAll(payloads)).toEqual(readings.filter((_, i) => i !== 6));
  });

  it('turns into readings only the patients wanted', () => {
    const readings = batch(30);
    const asked: string[] = [];
    const got = decodeAll(encodeInline(readings, 7_800).payloads, (p) => (asked.push(p), p === 'pat_1'));
    expect(got).toEqual(readings.filter((r) => r.patientId === 'pat_1'));
    expect(new Set(asked)).toEqual(new Set(['pat_0', 'pat_1', 'pat_2']));
    expect(asked.length).toBe(3); // asked once per patient, not once per group
  });

  it('skips malformed groups instead of trusting a payload', () => {
    const m = {
      s: ['pat_1', 'dev_1', 'http://loinc.org', '8867-4', '/min'],
      g: [
        [0, 1, 2, 1000, 5, -1, 10, 3, 70, 4], // good
        [0, 1, 2, 'x', 5, -1, 11, 3, 70, 4], // ts not a number
        [9, 1, 2, 1000, 5, -1, 12, 3, 70, 4], // no such patient string
        [0, 1, 2, 1000, 5, -1, 13, 3, 70], // not whole triples
        [0, 1, 2, 1000, 5, -1, 14, 3, 'high', 4], // value not a number
        'nonsense',
      ],
    } as unknown as InlineReadings;
    expect(decodeInline(m, () => true)).toEqual([
      {
        id: '10',
        patientId: 'pat_1',
        deviceId: 'dev_1',
        system: 'http://loinc.org',
        code: '8867-4',
        value: 70,
        unit: '/min',
        ts: 1000,
        seq: 5,
        commandId: null,
        method: null,
      },
    ]);
    expect(decodeInline({} as InlineReadings, () => true)).toEqual([]);
  });
});
