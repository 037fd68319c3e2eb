/**
 * MIT-format annotation files (WFDB annot(5)): 16-bit little-endian words, code = word >> 10,
 * interval = word & 0x3FF. Pure parser plus a thin file reader.
 */
import { readFileSync } from 'node:fs';
import { WfdbError } from './wfdb.ts';

export interface Annotation {
  /** Sample index (global, at the record's sampling frequency). */
  sample: number;
  code: number;
  symbol: string;
  subtype: number;
  chan: number;
  num: number;
  aux?: string;
}

// annot(5) pseudo-codes.
const SKIP = 59;
const NUM = 60;
const SUB = 61;
const CHN = 62;
const AUX = 63;

/** WFDB annotation mnemonics by code (ecgcodes.h). */
const SYMBOLS: Record<number, string> = {
  1: 'N',
  2: 'L',
  3: 'R',
  4: 'a',
  5: 'V',
  6: 'F',
  7: 'J',
  8: 'A',
  9: 'S',
  10: 'E',
  11: 'j',
  12: '/',
  13: 'Q',
  14: '~',
  16: '|',
  18: 's',
  19: 'T',
  20: '*',
  21: 'D',
  22: '"',
  23: '=',
  24: 'p',
  25: 'B',
  26: '^',
  27: 't',
  28: '+',
  29: 'u',
  30: '?',
  31: '!',
  32: '[',
  33: ']',
  34: 'e',
  35: 'n',
  36: '@',
  37: 'x',
  38: 'f',
  39: '(',
  40: ')',
  41: 'r',
};

/** WFDB isqrs(): codes that denote a beat (QRS complex). */
const BEAT_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 34, 35, 38, 41]);

export function isBeatCode(code: number): boolean {
  return BEAT_CODES.has(code);
}

/** Ventricular flutter/fibrillation onset and end marks (`[` and `]`), used by EC57 to suspend scoring. */
export const VF_ON = 32;
export const VF_OFF = 33;

export function parseAnnotations(buf: Uint8Array): Annotation[] {
  const out: Annotation[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let t = 0;
  let chan = 0;
  let num = 0;
  let p = 0;
  let last: Annotation | undefined;
  while (p + 1 < buf.length) {
    const word = view.getUint16(p, true);
    p += 2;
    if (word === 0) break; // end of file
    const code = word >> 10;
    const interval = word & 0x3ff;
    if (code === SKIP) {
      if (p + 4 > buf.length) break;
      // 32-bit interval, high 16-bit word first, each word little-endian (annot(5)).
      const hi = view.getInt16(p, true);
      const lo = view.getUint16(p + 2, true);
      p += 4;
      t += hi * 65536 + lo;
    } else if (code === AUX) {
      const text = Buffer.from(buf.subarray(p, p + interval))
        .toString('latin1')
        .replace(/\0+$/, '');
      if (last) last.aux = text;
      p += interval + (interval & 1); // padded to an even length
    } else if (code === NUM) {
      num = interval;
      if (last) last.num = num;
    } else if (code === SUB) {
      if (last) last.subtype = interval;
    } else if (code === CHN) {
      chan = interval;
      if (last) last.chan = chan;
    } else if (code >= 1 && code <= 49) {
      t += interval;
      last = { sample: t, code, symbol: SYMBOLS[code] ?? `#${code}`, subtype: 0, chan, num };
      out.push(last);
    } else {
      // Codes 50–58 are reserved; keep time moving so later annotations stay aligned.
      t += interval;
    }
  }
  return out;
}

export function readAnnotationFile(file: string): Annotation[] {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    throw new WfdbError(`cannot read annotation file ${file}`);
  }
  return parseAnnotations(buf);
}
