import type { NewReading } from './readings.repository.ts';

/**
 * Readings as the bytes of `COPY readings (patient_id, device_id, system, code, value, unit, ts, seq,
 * command_id, method) FROM … WITH (FORMAT csv)` (PostgreSQL CSV rules: NULL is an empty unquoted field, text
 * is quoted, `"` doubled), for the bulk history path (`insertRows`, the CSV import). Written straight into
 * one buffer: joining a batch's lines into one string and encoding it cost ~4 µs a row, this ~1 µs
 * (bench:csv). Patients, devices, codes and units repeat, so each distinct one is quoted once; times are
 * formatted from the day's prefix (once per UTC day) and the time of day.
 */
/** `lineEnd` closes each line: extra columns after COPY_COLUMNS (the import marks its rows `,t`). */
export function copyText(rows: NewReading[], lineEnd = '\n'): Buffer {
  const q = csvQuoter();
  const iso = isoFormatter();
  const out = bufferWriter(rows.length * 96);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const method = r.method ? q(JSON.stringify(r.method)) : '';
    out.put(
      `${q(r.patientId)},${q(r.deviceId)},${q(r.system ?? 'http://loinc.org')},${q(r.code)},${r.value},${q(r.unit)},${iso(r.ts)},${r.seq ?? ''},${q(r.commandId)},${method}${lineEnd}`,
    );
  }
  return out.bytes();
}

/** The columns of `ingestCopyText`, in its order: a message's envelope first (see there). */
export const INGEST_COPY_COLUMNS = 'patient_id, device_id, system, ts, seq, command_id, code, value, unit, method';

/**
 * Readings as COPY CSV in INGEST_COPY_COLUMNS order (`id,` first when `firstId` is given), for the ingest path.
 * The readings of one device message share patient, device, system, time, seq and command: those columns
 * lead, so their text is built once per message (run of equal envelopes) and written before each of its
 * readings; each distinct code and unit is quoted once. Written straight into one buffer, as `copyText`:
 * no line string per reading kept alive, no joined string to encode again (less garbage on the hottest path).
 */
export function ingestCopyText(rows: readonly NewReading[], firstId?: number): Buffer {
  const q = csvQuoter();
  const iso = isoFormatter();
  // A vital sign's line is ~110 bytes (its envelope ~90): room for all of them at once, as a rule.
  const out = bufferWriter(rows.length * 160);
  const put = out.put;
  let prev: NewReading | null = null;
  let envelope = '';
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (
      prev === null ||
      r.ts !== prev.ts ||
      r.patientId !== prev.patientId ||
      r.deviceId !== prev.deviceId ||
      r.system !== prev.system ||
      r.seq !== prev.seq ||
      (r.commandId ?? null) !== (prev.commandId ?? null)
    )
      envelope = `${q(r.patientId)},${q(r.deviceId)},${q(r.system ?? 'http://loinc.org')},${iso(r.ts)},${r.seq ?? ''},${q(r.commandId)},`;
    prev = r;
    if (firstId !== undefined) put(`${firstId + i},`);
    put(envelope);
    put(`${q(r.code)},${r.value},${q(r.unit)},${r.method ? q(JSON.stringify(r.method)) : ''}\n`);
  }
  return out.bytes();
}

/** A CSV field quoter (PostgreSQL CSV: `"` doubled; null is an empty unquoted field) that quotes each distinct text once. */
function csvQuoter(): (v: string | null | undefined) => string {
  const quoted = new Map<string, string>();
  return (v) => {
    if (v === null || v === undefined) return '';
    let out = quoted.get(v);
    if (out === undefined) quoted.set(v, (out = '"' + v.replaceAll('"', '""') + '"'));
    return out;
  };
}

/** Text written as UTF-8 into one buffer that doubles when a write might not fit (a UTF-16 unit is ≤ 3 bytes). */
function bufferWriter(expectedBytes: number) {
  let buf = Buffer.allocUnsafe(Math.max(4096, expectedBytes));
  let at = 0;
  return {
    put(text: string): void {
      if (at + text.length * 3 > buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, at + text.length * 3));
        buf.copy(bigger, 0, 0, at);
        buf = bigger;
      }
      at += buf.write(text, at, 'utf8');
    },
    bytes: (): Buffer => buf.subarray(0, at),
  };
}

const DAY = 86_400_000;
const two = (n: number) => (n < 10 ? '0' + n : '' + n);
const three = (n: number) => (n < 10 ? '00' + n : n < 100 ? '0' + n : '' + n);

/** epoch ms → the text `Date.prototype.toISOString` gives, at a tenth of its cost (no Date per row). */
export function isoFormatter(): (t: number) => string {
  let day = NaN;
  let prefix = '';
  return (t: number) => {
    if (!Number.isInteger(t)) return new Date(t).toISOString(); // a fraction of a ms: Date's own truncation
    const d = Math.floor(t / DAY);
    if (d !== day) {
      day = d;
      prefix = new Date(d * DAY).toISOString().slice(0, -13); // `2025-01-01T` (or `+275760-09-13T`)
    }
    let rest = t - d * DAY;
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000);
    rest -= m * 60_000;
    const s = Math.floor(rest / 1000);
    return prefix + two(h) + ':' + two(m) + ':' + two(s) + '.' + three(rest - s * 1000) + 'Z';
  };
}
