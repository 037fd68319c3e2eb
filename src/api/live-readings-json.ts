import type { StoredReading } from '../domain/types.ts';
import type { LiveMessageOf } from './contracts/index.ts';
import { ByteWriter, encodedOnce } from '../platform/byte-writer.ts';
import { isoFormatter } from '../platform/iso-time.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** The live `readings` message of one patient's stored readings (api/contracts/live.ts). */
export function readingsMessage(patientId: string, rows: readonly StoredReading[]): LiveMessageOf<'readings'> {
  // The readings of one message share their time: its ISO text is formatted once per run.
  let lastTs = NaN;
  let lastIso = '';
  return {
    type: 'readings',
    patientId,
    readings: rows.map((r) => {
      if (r.ts !== lastTs) lastIso = iso((lastTs = r.ts));
      return { code: r.code, value: r.value, unit: r.unit, ts: lastIso, deviceId: r.deviceId, ...(r.method ? { method: r.method } : {}) };
    }),
  };
}

/**
 * `JSON.stringify(readingsMessage(patientId, rows))` as UTF-8, the same bytes, written without an object or a
 * string per reading: the dashboards' share of an instance's CPU is per stored reading, and most of it was
 * those objects, then the text. Each distinct device, code and unit is JSON-quoted and encoded once; the
 * readings of one device message share time and device, so that part is written once and copied.
 */
export function readingsJson(patientId: string, rows: readonly StoredReading[]): Buffer {
  const codeOpen = encodedOnce((code) => `{"code":${JSON.stringify(code)},"value":`);
  const unitThenTs = encodedOnce((unit) => `,"unit":${JSON.stringify(unit)},"ts":"`);
  const device = encodedOnce((id) => `","deviceId":${JSON.stringify(id)}`);
  const isoText = isoFormatter();
  const out = new ByteWriter(64 + rows.length * 110);
  out.text(`{"type":"readings","patientId":${JSON.stringify(patientId)},"readings":[`);
  let tailFrom = -1; // the previous reading's time and device (`2026-…Z","deviceId":"dev_1"`)
  let tailTo = -1;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (i) out.byte(COMMA);
    out.bytes(codeOpen(r.code));
    // JSON.stringify(number) is String(number) for finite numbers and null otherwise (ECMA-262 §25.5.2.3).
    if (Number.isFinite(r.value)) out.number(r.value);
    else out.bytes(NULL);
    out.bytes(unitThenTs(r.unit));
    if (tailFrom >= 0 && r.ts === rows[i - 1].ts && r.deviceId === rows[i - 1].deviceId) out.repeat(tailFrom, tailTo);
    else {
      tailFrom = out.length;
      out.ascii(isoText(r.ts));
      // A key whose value is undefined is left out, as JSON.stringify does.
      if (r.deviceId === undefined) out.byte(QUOTE);
      else if (r.deviceId === null) out.bytes(NULL_DEVICE);
      else out.bytes(device(r.deviceId));
      tailTo = out.length;
    }
    if (r.method) out.text(`,"method":${JSON.stringify(r.method)}}`);
    else out.byte(CLOSE);
  }
  out.bytes(END);
  return out.done();
}

const COMMA = 0x2c;
const NULL = Buffer.from('null');
const QUOTE = 0x22;
const NULL_DEVICE = Buffer.from('","deviceId":null');
const CLOSE = 0x7d;
const END = Buffer.from(']}');
