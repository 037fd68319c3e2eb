import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { parseHeader, decodeFormat212, decodeFormat16, toPhysical, pickLead, readRecord, WfdbError } from './wfdb.ts';
import { parseAnnotations, isBeatCode, readAnnotationFile } from './annotations.ts';
import { HAS_DATA, NO_DATA_MESSAGE, SHARED_DATA } from './testdata.ts';

describe('parseHeader', () => {
  it('reads CRLF mitdb-style headers and names each lead', () => {
    const h = parseHeader('114 2 360 650000\r\n114.dat 212 200 11 1024 1015 -11371 0 V5\r\n114.dat 212 200 11 1024 1027 -13230 0 MLII\r\n# 72 F\r\n');
    expect(h).toMatchObject({ record: '114', nSignals: 2, fs: 360, nSamples: 650000 });
    expect(h.signals[1]).toMatchObject({ format: 212, gain: 200, baseline: 1024, description: 'MLII' });
    expect(pickLead(h)).toBe(1); // MLII is channel 1 here, not 0
  });
  it('reads the byte offset of format 16+24 and LF endings', () => {
    const h = parseHeader('A00001 1 300 9000 05:05:15 1/05/2000\nA00001.mat 16+24 1000/mV 16 0 -127 0 0 ECG\n');
    expect(h.signals[0]).toMatchObject({ file: 'A00001.mat', format: 16, byteOffset: 24, gain: 1000, units: 'mV', description: 'ECG' });
  });
  it('takes the baseline from parentheses and defaults a zero gain to 200', () => {
    const h = parseHeader('r 1 250\nr.dat 16 0(5)/uV 16 0\n');
    expect(h.signals[0].gain).toBe(200);
    expect(h.signals[0].baseline).toBe(5);
  });
  it('rejects a header with missing signal lines', () => {
    expect(() => parseHeader('r 2 360 10\nr.dat 212 200 11 1024 0 0 0 MLII\n')).toThrow(WfdbError);
  });
});

describe('signal formats', () => {
  it('decodes format 212 pairs with sign extension', () => {
    // s0 = 0x123 (291), s1 = 0xFFE → −2: b0=0x23, b1 = (0xF<<4)|0x1, b2 = 0xFE
    const [c0, c1] = decodeFormat212(Uint8Array.from([0x23, 0xf1, 0xfe]), 2);
    expect(c0[0]).toBe(291);
    expect(c1[0]).toBe(-2);
  });
  it('decodes format 16 after a byte offset and converts to mV', () => {
    const buf = new Uint8Array(4 + 4);
    new DataView(buf.buffer).setInt16(4, -1000, true);
    new DataView(buf.buffer).setInt16(6, 2500, true);
    const [c] = decodeFormat16(buf, 1, 4);
    expect(Array.from(c)).toEqual([-1000, 2500]);
    expect(Array.from(toPhysical(c, 1000, 0))).toEqual([-1, 2.5]);
  });
});

describe('parseAnnotations', () => {
  const word = (code: number, interval: number) => [((code << 10) | interval) & 0xff, ((code << 10) | interval) >> 8];
  it('handles SKIP, AUX, SUB, CHN and NUM, and ends at word 0', () => {
    const aux = [...Buffer.from('(AFIB')]; // 5 bytes, padded to 6
    const bytes = [
      ...word(1, 100), // N at 100
      ...word(59, 0),
      0x01,
      0x00,
      0x10,
      0x00, // SKIP 65536 + 16 (high word first)
      ...word(28, 4),
      ...word(63, 5),
      ...aux,
      0, // rhythm change with aux text
      ...word(5, 50),
      ...word(61, 2),
      ...word(62, 1),
      ...word(60, 3), // V, subtype 2, chan 1, num 3
      0,
      0,
      ...word(1, 10), // after end: ignored
    ];
    const a = parseAnnotations(Uint8Array.from(bytes));
    expect(a.map((x) => [x.sample, x.symbol])).toEqual([
      [100, 'N'],
      [100 + 65552 + 4, '+'],
      [100 + 65552 + 54, 'V'],
    ]);
    expect(a[1].aux).toBe('(AFIB');
    expect(a[2]).toMatchObject({ subtype: 2, chan: 1, num: 3 });
  });
  it('knows which codes are beats (isqrs)', () => {
    expect([1, 5, 12, 38, 41].every(isBeatCode)).toBe(true);
    expect([14, 16, 28, 31, 32].some(isBeatCode)).toBe(false);
  });
});

describe.skipIf(!HAS_DATA)('shipped mitdb records', () => {
  it('picks MLII in 114 and reads the published beat count of 101', () => {
    const rec = readRecord(path.join(SHARED_DATA, 'mitdb', '114'));
    expect(rec).toMatchObject({ lead: 'MLII', channel: 1, fs: 360 });
    expect(rec.adc.length).toBe(650000);
    const beats = readAnnotationFile(path.join(SHARED_DATA, 'mitdb', '101.atr')).filter((a) => isBeatCode(a.code));
    expect(beats.length).toBe(1865); // mitdb directory: 1860 N + 3 A + 2 Q
  });
});
if (!HAS_DATA) console.warn(NO_DATA_MESSAGE);
