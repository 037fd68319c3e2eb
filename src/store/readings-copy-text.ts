import type { NewReading } from './readings.repository.ts';
import { ByteWriter, encodedOnce } from '../platform/byte-writer.ts';
import { isoFormatter } from '../platform/iso-time.ts';

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
  const out = new ByteWriter(rows.length * 96);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const method = r.method ? q(JSON.stringify(r.method)) : '';
    out.text(
      `${q(r.patientId)},${q(r.deviceId)},${q(r.system ?? 'http://loinc.org')},${q(r.code)},${r.value},${q(r.unit)},${iso(r.ts)},${r.seq ?? ''},${q(r.commandId)},${method}${lineEnd}`,
    );
  }
  return out.done();
}

/** The columns of `ingestCopyText`, in its order: a message's envelope first (see there). */
export const INGEST_COPY_COLUMNS = 'patient_id, device_id, system, ts, seq, command_id, code, value, unit, method';

/**
 * Readings as COPY CSV in INGEST_COPY_COLUMNS order (`id,` first when `firstId` is given), for the ingest path.
 * The readings of one device message share patient, device, system, time, seq and command: those columns
 * lead, so they are written once per message (run of equal envelopes) and their bytes copied before each of
 * its other readings; each distinct text is quoted and encoded once, and numbers are written as digits. No
 * string per reading: this runs for every stored reading, and its garbage was a tenth of an instance's.
 */
export function ingestCopyText(rows: readonly NewReading[], firstId?: number): Buffer {
  const cell = encodedOnce((v) => csvQuote(v) + ','); // `"text",`
  const unitCell = encodedOnce((v) => ',' + csvQuote(v) + ','); // after the value: `,"unit",`
  const iso = isoFormatter();
  // A vital sign's line is ~110 bytes (its envelope ~90): room for all of them at once, as a rule.
  const out = new ByteWriter(rows.length * 160);
  let prev: NewReading | null = null;
  let envelopeFrom = 0;
  let envelopeTo = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (firstId !== undefined) {
      out.number(firstId + i);
      out.byte(COMMA);
    }
    if (
      prev === null ||
      r.ts !== prev.ts ||
      r.patientId !== prev.patientId ||
      r.deviceId !== prev.deviceId ||
      r.system !== prev.system ||
      r.seq !== prev.seq ||
      (r.commandId ?? null) !== (prev.commandId ?? null)
    ) {
      envelopeFrom = out.length;
      out.bytes(cell(r.patientId));
      if (r.deviceId == null) out.byte(COMMA);
      else out.bytes(cell(r.deviceId));
      out.bytes(cell(r.system ?? 'http://loinc.org'));
      out.ascii(iso(r.ts));
      out.byte(COMMA);
      if (r.seq != null) out.number(r.seq);
      out.byte(COMMA);
      if (r.commandId == null) out.byte(COMMA);
      else out.bytes(cell(r.commandId));
      envelopeTo = out.length;
    } else out.repeat(envelopeFrom, envelopeTo);
    prev = r;
    out.bytes(cell(r.code));
    out.number(r.value);
    out.bytes(unitCell(r.unit));
    if (r.method) out.text(csvQuote(JSON.stringify(r.method)));
    out.byte(NEWLINE);
  }
  return out.done();
}

const COMMA = 0x2c;
const NEWLINE = 0x0a;
/** PostgreSQL CSV quoting: the text in quotes, `"` doubled. */
const csvQuote = (v: string) => '"' + v.replaceAll('"', '""') + '"';

/** A CSV field quoter (PostgreSQL CSV: `"` doubled; null is an empty unquoted field) that quotes each distinct text once. */
function csvQuoter(): (v: string | null | undefined) => string {
  const quoted = new Map<string, string>();
  return (v) => {
    if (v === null || v === undefined) return '';
    let out = quoted.get(v);
    if (out === undefined) quoted.set(v, (out = csvQuote(v)));
    return out;
  };
}
