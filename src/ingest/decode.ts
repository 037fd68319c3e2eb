import { BY_CODE, BY_KEY, type CodeInfo, ECG_UNIT_PER_MV, READING_MAX_FUTURE_MS, READING_MIN_TS, readingTimeProblem, toCanonical } from '../domain/codes.ts';
import type { DeviceMapping } from '../devices/mappings.ts';
import { realDay } from '../domain/calendar.ts';
import type { EcgChunk, Reading } from '../domain/types.ts';

/**
 * Pure payload decoders for the device protocol (interfaces.md §3): bytes in, readings and reasons out.
 * They know nothing of MQTT or HTTP, so both transports and the tests share them.
 */

export interface DecodedTelemetry {
  readings: Reading[];
  seq: number | null;
  commandId: string | null;
  /** One reason per part of the message that was refused; the rest of the message is kept. */
  rejected: string[];
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Metadata keys of the flat form that are not readings. */
const ENVELOPE_KEYS = new Set(['ts', 'seq', 'command', 'readings', 'device', 'deviceId']);
const MAX_ID_CHARS = 128; // command ids and lead names are short identifiers
/**
 * [sec] Readings one telemetry message may carry, on every transport (MQTT, HTTP, external brokers, NATS): a
 * device sends a handful; thousands in one message are a fault or an attack, refused whole with a reason.
 */
export const MAX_READINGS_PER_MESSAGE = 500;

/**
 * PostgreSQL text cannot hold U+0000 (it refuses the whole statement: "invalid byte sequence for encoding
 * UTF8: 0x00"), so a string that reaches the store must not contain it; control characters have no place
 * in an identifier either. Returns a reason, or null when the string is storable.
 */
export function unstorableText(s: string, max = MAX_ID_CHARS): string | null {
  if (s.length > max) return `is longer than ${max} characters`;
  if (/[\u0000-\u001f\u007f]/.test(s)) return 'contains a NUL or control character';
  return null;
}

function parseJson(payload: Buffer | string): Decoded<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `malformed JSON: ${(err as Error).message}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, reason: 'payload must be a JSON object' };
  return { ok: true, value: value as Record<string, unknown> };
}

/** `ts` as ISO 8601 or epoch ms; absent means "when received". */
export function parseTimestamp(ts: unknown, receivedAt: number): Decoded<number> {
  if (ts === undefined || ts === null) return { ok: true, value: receivedAt };
  let ms: number;
  if (typeof ts === 'number') ms = ts;
  else if (typeof ts === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(ts)) {
    // Date.parse rolls a day that is not on the calendar into the next month (2026-02-30 → 2 March): refused.
    if (!realDay(Number(ts.slice(0, 4)), Number(ts.slice(5, 7)), Number(ts.slice(8, 10))))
      return { ok: false, reason: `ts ${JSON.stringify(ts.slice(0, 40))} is not a day on the calendar` };
    ms = Date.parse(ts);
  } else return { ok: false, reason: `ts must be an ISO 8601 time or epoch milliseconds (got ${JSON.stringify(ts)})` };
  if (!Number.isFinite(ms)) return { ok: false, reason: `ts is not a valid time (got ${JSON.stringify(ts)})` };
  const problem = readingTimeProblem(ms, receivedAt);
  if (problem) return { ok: false, reason: `ts${problem.slice('time'.length)}` };
  return { ok: true, value: ms };
}

function parseSeq(seq: unknown): Decoded<number | null> {
  if (seq === undefined || seq === null) return { ok: true, value: null };
  if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) return { ok: true, value: seq };
  return { ok: false, reason: `seq must be a non-negative integer (got ${JSON.stringify(seq)})` };
}

/**
 * A reading's value in its code's canonical unit, or the reason it is refused (a string: no wrapper object per
 * reading on the hot path; the caller makes the one object the reading needs). `info`: BY_CODE's entry for
 * `code`, looked up once by the caller, which also needs its unit.
 */
function checkValue(info: CodeInfo | undefined, code: string, value: unknown, unit: unknown, label: string): number | string {
  if (!info) return `${label}: unknown code ${JSON.stringify(code)}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${label}: value must be a number (got ${JSON.stringify(value)})`;
  if (unit !== undefined && typeof unit !== 'string') return `${label}: unit must be a string`;
  const canonical = toCanonical(code, value, unit as string | undefined);
  if (canonical === undefined) return `${label}: unit ${JSON.stringify(unit)} is not accepted for ${info.display} (use ${info.unit})`;
  if (canonical < info.min || canonical > info.max) {
    return `${label}: ${value}${unit ? ' ' + unit : ''} is outside the physical range ${info.min}–${info.max} ${info.unit}`;
  }
  return canonical;
}

/** The envelope every device message shares: a JSON object with optional `ts` and `seq`. */
function parseEnvelope(payload: Buffer | string, receivedAt: number): Decoded<{ body: Record<string, unknown>; ts: number; seq: number | null }> {
  const json = parseJson(payload);
  if (!json.ok) return json;
  const body = json.value;
  // The usual message (epoch ms `ts` and a `seq`) without a result object per field: this runs for every message.
  const ts =
    typeof body.ts === 'number' && body.ts >= READING_MIN_TS && body.ts <= receivedAt + READING_MAX_FUTURE_MS ? body.ts : parseTimestamp(body.ts, receivedAt);
  if (typeof ts !== 'number' && !ts.ok) return ts;
  const seq = typeof body.seq === 'number' && Number.isSafeInteger(body.seq) && body.seq >= 0 ? body.seq : parseSeq(body.seq);
  if (seq !== null && typeof seq !== 'number' && !seq.ok) return seq;
  return {
    ok: true,
    value: { body, ts: typeof ts === 'number' ? ts : ts.value, seq: seq === null || typeof seq === 'number' ? seq : seq.value },
  };
}

/**
 * Makes one decoded reading (`value` already in the canonical `unit` of `code`). `patientId` and `deviceId` are
 * what the caller passed to `decodeTelemetryAs`, handed through so that a maker needs no closure per message.
 */
export type ReadingMaker<T> = (
  patientId: string,
  deviceId: string,
  code: string,
  value: number,
  unit: string,
  ts: number,
  seq: number | null,
  commandId: string | null,
) => T;

/** The `rejected` of a message with no refusals: one shared empty list (frozen: nobody may add to it). */
const NONE_REJECTED = Object.freeze([]) as unknown as string[];

const asReading: ReadingMaker<Reading> = (_p, _d, code, value, unit, ts) => ({ code, value, unit, ts });

/**
 * Telemetry, full (`readings: [...]`) or shorthand flat form. `mapping`: the device model's own keys and units
 * (devices/mappings.ts), tried before the built-in shorthand keys.
 */
export function decodeTelemetry(payload: Buffer | string, receivedAt: number, mapping?: Pick<DeviceMapping, 'keys'>): Decoded<DecodedTelemetry> {
  return decodeTelemetryAs(payload, receivedAt, mapping, asReading, '', '');
}

/**
 * decodeTelemetry with each accepted reading made by `make` (ingest makes it in its stored shape at once:
 * one object per reading from the payload to the COPY and `readings.stored`). Same rules, same reasons.
 */
export function decodeTelemetryAs<T>(
  payload: Buffer | string,
  receivedAt: number,
  mapping: Pick<DeviceMapping, 'keys'> | undefined,
  make: ReadingMaker<T>,
  patientId: string,
  deviceId: string,
): Decoded<{ readings: T[]; seq: number | null; commandId: string | null; rejected: string[] }> {
  const envelope = parseEnvelope(payload, receivedAt);
  if (!envelope.ok) return envelope;
  const { body, ts, seq } = envelope.value;
  if (body.command !== undefined && typeof body.command !== 'string') return { ok: false, reason: 'command must be a string (the command id)' };
  const badCommand = typeof body.command === 'string' ? unstorableText(body.command) : null;
  if (badCommand) return { ok: false, reason: `command ${badCommand}` };
  const commandId = (body.command as string | undefined) ?? null;

  const readings: T[] = [];
  let rejected: string[] | null = null; // made on the first refusal (most messages have none)
  // Plain loops, no callbacks: this runs for every device message (and tsx names every closure it creates).
  let carried = 0;
  for (const key in body) if (!ENVELOPE_KEYS.has(key)) carried++;
  if (Array.isArray(body.readings)) carried += body.readings.length;
  if (carried > MAX_READINGS_PER_MESSAGE)
    return { ok: false, reason: `a telemetry message carries at most ${MAX_READINGS_PER_MESSAGE} readings (this one ${carried}): send them in several` };
  if (body.readings !== undefined) {
    if (!Array.isArray(body.readings)) return { ok: false, reason: 'readings must be an array' };
    for (let i = 0; i < body.readings.length; i++) {
      const r: unknown = body.readings[i];
      if (r === null || typeof r !== 'object') {
        (rejected ??= []).push(`readings[${i}]: must be an object`);
        continue;
      }
      const item = r as Record<string, unknown>;
      if (typeof item.code !== 'string') {
        (rejected ??= []).push(`readings[${i}]: code must be a LOINC code string`);
        continue;
      }
      const itemTs = item.ts === undefined ? { ok: true as const, value: ts } : parseTimestamp(item.ts, receivedAt);
      if (!itemTs.ok) {
        (rejected ??= []).push(`readings[${i}]: ${itemTs.reason}`);
        continue;
      }
      const info = BY_CODE.get(item.code);
      const v = checkValue(info, item.code, item.value, item.unit, `readings[${i}] (${JSON.stringify(item.code).slice(0, 40)})`);
      if (typeof v === 'string') (rejected ??= []).push(v);
      else readings.push(make(patientId, deviceId, item.code, v, info!.unit, itemTs.value, seq, commandId));
    }
  }
  // for…in, not Object.keys: no array of keys per message (the body is a fresh JSON.parse object: own
  // enumerable string keys only, in the same order).
  for (const key in body) {
    if (ENVELOPE_KEYS.has(key)) continue;
    const value = body[key];
    const mapped = mapping && Object.hasOwn(mapping.keys, key) ? mapping.keys[key] : undefined;
    const code = mapped ? mapped.code : BY_KEY.get(key)?.code;
    if (code === undefined) {
      (rejected ??= []).push(`unknown key ${JSON.stringify(key).slice(0, 80)}`);
      continue;
    }
    const info = BY_CODE.get(code);
    const v = checkValue(info, code, value, mapped ? mapped.unit : undefined, key);
    if (typeof v === 'string') (rejected ??= []).push(v);
    else readings.push(make(patientId, deviceId, code, v, info!.unit, ts, seq, commandId));
  }
  if (readings.length === 0 && rejected === null) return { ok: false, reason: 'no readings in the message' };
  return { ok: true, value: { readings, seq, commandId, rejected: rejected ?? NONE_REJECTED } };
}

const MAX_ECG_SAMPLES = 60 * 1000; // 60 s at 1 kHz
const ECG_UNITS = new Set(Object.keys(ECG_UNIT_PER_MV));

export function decodeEcg(payload: Buffer | string, receivedAt: number): Decoded<EcgChunk> {
  const envelope = parseEnvelope(payload, receivedAt);
  if (!envelope.ok) return envelope;
  const { body, ts, seq } = envelope.value;
  const fs = body.fs;
  if (typeof fs !== 'number' || !(fs >= 50 && fs <= 2000))
    return { ok: false, reason: `fs must be a sampling rate in Hz between 50 and 2000 (got ${JSON.stringify(fs)})` };
  const lead = body.lead ?? 'II';
  if (typeof lead !== 'string' || lead.length > 16 || unstorableText(lead)) return { ok: false, reason: 'lead must be a short string such as "II"' };
  const unit = body.unit ?? 'uV';
  if (typeof unit !== 'string' || !ECG_UNITS.has(unit)) return { ok: false, reason: `unit must be one of ${[...ECG_UNITS].join(', ')}` };
  const samples = body.samples;
  if (!Array.isArray(samples) || samples.length === 0) return { ok: false, reason: 'samples must be a non-empty array of integers' };
  if (samples.length > MAX_ECG_SAMPLES) return { ok: false, reason: `too many samples in one chunk (${samples.length} > ${MAX_ECG_SAMPLES})` };
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    if (typeof s !== 'number' || !Number.isInteger(s) || Math.abs(s) > 2_000_000_000) {
      return { ok: false, reason: `samples[${i}] must be an integer (got ${JSON.stringify(s)})` };
    }
  }
  return { ok: true, value: { ts, seq, fs, lead, unit, samples: samples as number[] } };
}

export interface DecodedStatus {
  online: boolean;
  battery?: number;
}

export function decodeStatus(payload: Buffer | string): Decoded<DecodedStatus> {
  const json = parseJson(payload);
  if (!json.ok) return json;
  const { online, battery } = json.value;
  if (typeof online !== 'boolean') return { ok: false, reason: 'online must be true or false' };
  if (battery !== undefined && (typeof battery !== 'number' || battery < 0 || battery > 100)) {
    return { ok: false, reason: 'battery must be a percentage 0–100' };
  }
  return { ok: true, value: { online, battery: battery === undefined ? undefined : Math.round(battery) } };
}

export type DeviceTopicKind = 'telemetry' | 'ecg' | 'status' | 'command-result';

export interface DeviceTopic {
  deviceId: string;
  kind: DeviceTopicKind;
  commandId?: string;
}

export const TOPIC_PREFIX = 'vigil/v1/devices/';

/** Parses `vigil/v1/devices/{deviceId}/{telemetry|ecg|status|commands/{id}/result}`; null for anything else. */
export function parseDeviceTopic(topic: string): DeviceTopic | null {
  if (!topic.startsWith(TOPIC_PREFIX)) return null;
  const slash = topic.indexOf('/', TOPIC_PREFIX.length);
  if (slash === TOPIC_PREFIX.length) return null; // no device id
  if (slash < 0) return null;
  const deviceId = topic.slice(TOPIC_PREFIX.length, slash);
  // Every device message comes this way: the kind is compared in place (no array of parts, no string for it).
  const at = slash + 1;
  for (const kind of LEAF_KINDS) if (topic.length === at + kind.length && topic.startsWith(kind, at)) return { deviceId, kind };
  const parts = topic.slice(at).split('/');
  if (parts.length === 3 && parts[0] === 'commands' && parts[2] === 'result' && parts[1]) return { deviceId, kind: 'command-result', commandId: parts[1] };
  return null;
}
const LEAF_KINDS = ['telemetry', 'ecg', 'status'] as const;

/**
 * The per-device topic rule: a device may publish and subscribe only under its own subtree
 * (interfaces.md §3). Wildcards are fine after the prefix, since they cannot escape it.
 */
export function topicBelongsTo(topic: string, deviceId: string): boolean {
  return !/[+#/]/.test(deviceId) && topic.startsWith(`${TOPIC_PREFIX}${deviceId}/`);
}
