/**
 * WFDB reader: header (.hea), signal formats 212 and 16, MIT annotations (.atr).
 * Parsing functions are pure on strings/Buffers; `readRecord` / `readAnnotationFile` are the I/O edge.
 * Format reference: PhysioNet WFDB "header(5)", "signal(5)", "annot(5)" man pages.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface WfdbSignalSpec {
  file: string;
  format: number;
  /** Byte offset of the first sample in the file (the `+N` suffix of the format field). */
  byteOffset: number;
  /** ADC units per physical unit; WFDB default 200 when absent or 0. */
  gain: number;
  /** ADC value that corresponds to 0 physical units; defaults to adcZero. */
  baseline: number;
  units: string;
  adcResolution: number;
  adcZero: number;
  initialValue: number;
  description: string;
}

export interface WfdbHeader {
  record: string;
  nSignals: number;
  /** Samples per second per signal (Hz). */
  fs: number;
  nSamples: number;
  signals: WfdbSignalSpec[];
}

export class WfdbError extends Error {
  readonly userMessage: string;
  constructor(message: string) {
    super(message);
    this.userMessage = message;
  }
}

const DEFAULT_GAIN = 200; // adu per mV, header(5)
const DEFAULT_FS = 250; // Hz, header(5)

/** Parses a WFDB header; accepts CRLF or LF line endings and `#` comment lines. */
export function parseHeader(text: string): WfdbHeader {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new WfdbError('empty header');
  const rec = lines[0].split(/\s+/);
  const record = rec[0].split('/')[0];
  const nSignals = Number(rec[1] ?? 0);
  if (!record || !Number.isInteger(nSignals) || nSignals < 0) throw new WfdbError(`bad record line "${lines[0]}"`);
  // Sampling field may be `360`, `360/1.0` (counter freq) or `360(0)`.
  const fs = rec[2] !== undefined ? parseFloat(rec[2]) : DEFAULT_FS;
  const nSamples = rec[3] !== undefined ? Number(rec[3]) : 0;
  if (!(fs > 0)) throw new WfdbError(`bad sampling frequency in "${lines[0]}"`);
  if (lines.length < 1 + nSignals) throw new WfdbError(`header names ${nSignals} signals but has ${lines.length - 1} signal lines`);
  const signals: WfdbSignalSpec[] = [];
  for (let i = 0; i < nSignals; i++) signals.push(parseSignalLine(lines[1 + i]));
  return { record, nSignals, fs, nSamples, signals };
}

function parseSignalLine(line: string): WfdbSignalSpec {
  const f = line.split(/\s+/);
  if (f.length < 2) throw new WfdbError(`bad signal line "${line}"`);
  const fmt = /^(\d+)(?:x\d+)?(?::\d+)?(?:\+(\d+))?$/.exec(f[1]);
  if (!fmt) throw new WfdbError(`bad format field "${f[1]}"`);
  // Gain field: `200`, `200/mV`, `200(0)/mV` (baseline in parentheses).
  const g = /^([-+0-9.eE]+)?(?:\((-?\d+)\))?(?:\/(\S+))?$/.exec(f[2] ?? '');
  let gain = g?.[1] !== undefined ? parseFloat(g[1]) : DEFAULT_GAIN;
  if (!(gain !== 0 && Number.isFinite(gain))) gain = DEFAULT_GAIN;
  const adcResolution = f[3] !== undefined ? Number(f[3]) : 12;
  const adcZero = f[4] !== undefined ? Number(f[4]) : 0;
  const baseline = g?.[2] !== undefined ? Number(g[2]) : adcZero;
  return {
    file: f[0],
    format: Number(fmt[1]),
    byteOffset: fmt[2] !== undefined ? Number(fmt[2]) : 0,
    gain,
    baseline,
    units: g?.[3] ?? 'mV',
    adcResolution,
    adcZero,
    initialValue: f[5] !== undefined ? Number(f[5]) : adcZero,
    description: f.slice(8).join(' '),
  };
}

/**
 * Format 212: pairs of 12-bit two's-complement samples in 3 bytes, samples interleaved by channel
 * (signal(5)). Returns one Int16Array per channel.
 */
export function decodeFormat212(buf: Uint8Array, nChannels: number, byteOffset = 0, maxFrames = Infinity): Int16Array[] {
  const totalSamples = Math.floor(((buf.length - byteOffset) * 2) / 3);
  const nFrames = Math.min(Math.floor(totalSamples / nChannels), maxFrames);
  const out = Array.from({ length: nChannels }, () => new Int16Array(nFrames));
  const n = nFrames * nChannels;
  let p = byteOffset;
  for (let k = 0; k < n; k += 2) {
    const b0 = buf[p],
      b1 = buf[p + 1],
      b2 = buf[p + 2];
    p += 3;
    let s0 = b0 | ((b1 & 0x0f) << 8);
    if (s0 & 0x800) s0 -= 0x1000; // sign-extend 12 bits
    out[k % nChannels][(k / nChannels) | 0] = s0;
    if (k + 1 < n) {
      let s1 = b2 | ((b1 & 0xf0) << 4);
      if (s1 & 0x800) s1 -= 0x1000;
      out[(k + 1) % nChannels][((k + 1) / nChannels) | 0] = s1;
    }
  }
  return out;
}

/** Format 16: 16-bit little-endian two's-complement samples, interleaved by channel. */
export function decodeFormat16(buf: Uint8Array, nChannels: number, byteOffset = 0, maxFrames = Infinity): Int16Array[] {
  const nFrames = Math.min(Math.floor((buf.length - byteOffset) / (2 * nChannels)), maxFrames);
  const out = Array.from({ length: nChannels }, () => new Int16Array(nFrames));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = byteOffset;
  for (let i = 0; i < nFrames; i++) {
    for (let c = 0; c < nChannels; c++, p += 2) out[c][i] = view.getInt16(p, true);
  }
  return out;
}

/** ADC units → physical units (mV for ECG): (adc − baseline) / gain. */
export function toPhysical(adc: ArrayLike<number>, gain: number, baseline: number): Float32Array {
  const out = new Float32Array(adc.length);
  const inv = 1 / gain;
  for (let i = 0; i < adc.length; i++) out[i] = (adc[i] - baseline) * inv;
  return out;
}

/**
 * Chooses the channel to analyse: the first whose description equals one of `preferred` (case-insensitive),
 * else channel 0. MLII is not channel 0 in every mitdb record (102, 104, 114).
 */
export function pickLead(header: WfdbHeader, preferred: readonly string[] = ['MLII', 'ECG', 'II']): number {
  for (const name of preferred) {
    const i = header.signals.findIndex((s) => s.description.toUpperCase() === name.toUpperCase());
    if (i >= 0) return i;
  }
  return 0;
}

export interface EcgRecord {
  record: string;
  fs: number;
  lead: string;
  channel: number;
  /** Raw ADC samples of the chosen channel. */
  adc: Int16Array;
  gain: number;
  baseline: number;
}

/** Decodes the chosen channel from a header and its signal file bytes (pure). */
export function decodeRecord(header: WfdbHeader, dat: Uint8Array, channel: number): EcgRecord {
  const spec = header.signals[channel];
  if (!spec) throw new WfdbError(`record ${header.record} has no channel ${channel}`);
  // Every channel that shares this file is interleaved in it.
  const group = header.signals.filter((s) => s.file === spec.file);
  const index = group.indexOf(spec);
  const maxFrames = header.nSamples > 0 ? header.nSamples : Infinity;
  let chans: Int16Array[];
  if (spec.format === 212) chans = decodeFormat212(dat, group.length, spec.byteOffset, maxFrames);
  else if (spec.format === 16) chans = decodeFormat16(dat, group.length, spec.byteOffset, maxFrames);
  else throw new WfdbError(`signal format ${spec.format} is not supported (212 and 16 are)`);
  return {
    record: header.record,
    fs: header.fs,
    lead: spec.description,
    channel,
    adc: chans[index],
    gain: spec.gain,
    baseline: spec.baseline,
  };
}

/** Reads `<recordPath>.hea` and its signal file; `recordPath` is the WFDB path without extension. */
export function readRecord(recordPath: string, preferredLeads?: readonly string[]): EcgRecord {
  const header = parseHeader(readTextOrFail(`${recordPath}.hea`));
  if (header.nSignals === 0) throw new WfdbError(`${recordPath}.hea has no signals`);
  const channel = pickLead(header, preferredLeads);
  const datPath = path.join(path.dirname(recordPath), header.signals[channel].file);
  let dat: Buffer;
  try {
    dat = readFileSync(datPath);
  } catch {
    throw new WfdbError(`cannot read signal file ${datPath}`);
  }
  return decodeRecord(header, dat, channel);
}

export function readTextOrFail(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    throw new WfdbError(`cannot read ${file}`);
  }
}
