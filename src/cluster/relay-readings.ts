import type { StoredReading } from '../domain/types.ts';

/**
 * Stored readings carried inside relay notifications (cluster/relay.ts), so that a receiving instance needs
 * no `SELECT … WHERE id IN (…)` per batch (it cost PostgreSQL ~4 µs per relayed reading, and the receiver
 * the parsing of every row). Compact: the strings of a notification (patients, devices, systems, codes,
 * units, command ids) are listed once in `s`, and the readings of one message (same patient, device,
 * system, time, seq and command, consecutive ids) form one group in `g`:
 *
 *   [patient, device, system, ts, seq, command, firstId, code₁, value₁, unit₁, code₂, value₂, unit₂, …]
 *
 * with string fields as indexes into `s` (-1 for null) and ids `firstId`, `firstId + 1`, … Readings with a
 * `method` (derived observations, a few a second) are not inlinable: they go as ids and are loaded.
 */
export interface InlineReadings {
  s: string[];
  g: Array<Array<number | null>>;
}

export const inlinable = (r: StoredReading) => !r.method;

const HEAD = 7; // fields of a group before its (code, value, unit) triples
const MAX_GROUP = 64; // readings per group: a group always fits in a notification of its own

/**
 * Splits readings into inline payloads of at most `maxBytes` bytes each, in order. A group too large for a
 * payload of its own (very long strings) is returned in `byId` instead, to be announced by id.
 */
export function encodeInline(readings: StoredReading[], maxBytes: number): { payloads: string[]; byId: StoredReading[] } {
  const out: string[] = [];
  const byId: StoredReading[] = [];
  let table = new Map<string, number>();
  let strings: string[] = [];
  let groups: string[] = [];
  let bytes = 16; // {"s":[],"g":[]}
  const flush = () => {
    if (groups.length) out.push(`{"s":[${strings.join(',')}],"g":[${groups.join(',')}]}`);
    table = new Map();
    strings = [];
    groups = [];
    bytes = 16;
  };
  for (let i = 0; i < readings.length;) {
    const first = readings[i];
    // One message's readings: same envelope, consecutive ids.
    let j = i + 1;
    while (
      j < readings.length &&
      j - i < MAX_GROUP &&
      readings[j].patientId === first.patientId &&
      readings[j].deviceId === first.deviceId &&
      readings[j].system === first.system &&
      readings[j].ts === first.ts &&
      readings[j].seq === first.seq &&
      (readings[j].commandId ?? null) === (first.commandId ?? null) &&
      Number(readings[j].id) === Number(first.id) + (j - i)
    )
      j++;
    for (;;) {
      // Strings this group adds to the table: committed only if the group fits. Built as text by hand (this
      // runs for every stored reading): numbers print as JSON does, strings are indexes.
      const fresh: string[] = [];
      let freshBytes = 0;
      const ref = (v: string | null | undefined): number => {
        if (v === null || v === undefined) return -1;
        const at = table.get(v);
        if (at !== undefined) return at;
        const k = fresh.indexOf(v);
        if (k >= 0) return table.size + k;
        fresh.push(v);
        freshBytes += Buffer.byteLength(JSON.stringify(v)) + 1;
        return table.size + fresh.length - 1;
      };
      let json = `[${ref(first.patientId)},${ref(first.deviceId)},${ref(first.system ?? 'http://loinc.org')},${first.ts},${first.seq},${ref(first.commandId)},${Number(first.id)}`;
      for (let k = i; k < j; k++) json += `,${ref(readings[k].code)},${readings[k].value},${ref(readings[k].unit)}`;
      json += ']'; // numbers and indexes only: ASCII, one byte a character
      const cost = freshBytes + json.length + 1;
      if (16 + cost > maxBytes) {
        byId.push(...readings.slice(i, j));
        break;
      }
      if (bytes + cost <= maxBytes) {
        for (const v of fresh) {
          table.set(v, table.size);
          strings.push(JSON.stringify(v));
        }
        groups.push(json);
        bytes += cost;
        break;
      }
      flush(); // does not fit: a new notification, with its own table, takes the group
    }
    i = j;
  }
  flush();
  return { payloads: out, byId };
}

/** The readings of the groups whose patient `wanted` says yes to (a payload is never trusted: malformed groups are skipped). */
export function decodeInline(m: InlineReadings, wanted: (patientId: string) => boolean): StoredReading[] {
  const out: StoredReading[] = [];
  const s = Array.isArray(m.s) ? m.s : [];
  const str = (i: unknown): string | null => (typeof i === 'number' && i >= 0 && typeof s[i] === 'string' ? s[i] : null);
  const asked = new Map<string, boolean>();
  for (const g of Array.isArray(m.g) ? m.g : []) {
    if (!Array.isArray(g) || g.length < HEAD + 3 || (g.length - HEAD) % 3 !== 0) continue;
    const patientId = str(g[0]);
    if (patientId === null) continue;
    let want = asked.get(patientId);
    if (want === undefined) asked.set(patientId, (want = wanted(patientId)));
    if (!want) continue;
    const [, , , ts, seq, , firstId] = g;
    if (typeof ts !== 'number' || typeof firstId !== 'number' || (seq !== null && typeof seq !== 'number')) continue;
    const deviceId = str(g[1]);
    const system = str(g[2]) ?? 'http://loinc.org';
    const commandId = str(g[5]);
    for (let k = HEAD, n = 0; k < g.length; k += 3, n++) {
      const code = str(g[k]);
      const value = g[k + 1];
      const unit = str(g[k + 2]);
      if (code === null || typeof value !== 'number' || unit === null) continue;
      out.push({ id: String(firstId + n), patientId, deviceId, system, code, value, unit, ts, seq, commandId, method: null });
    }
  }
  return out;
}
