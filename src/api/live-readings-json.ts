import type { StoredReading } from '../domain/types.ts';
import type { LiveMessageOf } from './contracts/index.ts';

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
 * `JSON.stringify(readingsMessage(patientId, rows))`, the same text, written without an object per reading:
 * the dashboards' share of an instance's CPU is per stored reading, and most of it was those objects. Each
 * distinct string (device, code, unit) is JSON-quoted once.
 */
export function readingsJson(patientId: string, rows: readonly StoredReading[]): string {
  const quoted = new Map<string, string>();
  const q = (v: string): string => {
    let out = quoted.get(v);
    if (out === undefined) quoted.set(v, (out = JSON.stringify(v)));
    return out;
  };
  let lastTs = NaN;
  let lastIso = '';
  let out = `{"type":"readings","patientId":${JSON.stringify(patientId)},"readings":[`;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (r.ts !== lastTs) lastIso = iso((lastTs = r.ts));
    // JSON.stringify(number) is String(number) for finite numbers and null otherwise (ECMA-262 §25.5.2.3).
    const value = Number.isFinite(r.value) ? String(r.value) : 'null';
    // A key whose value is undefined is left out, as JSON.stringify does.
    const device = r.deviceId === undefined ? '' : `,"deviceId":${r.deviceId === null ? 'null' : q(r.deviceId)}`;
    out += `${i ? ',' : ''}{"code":${q(r.code)},"value":${value},"unit":${q(r.unit)},"ts":"${lastIso}"${device}`;
    out += r.method ? `,"method":${JSON.stringify(r.method)}}` : '}';
  }
  return out + ']}';
}
