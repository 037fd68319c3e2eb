import { parse } from 'csv-parse';
import { BY_CODE, BY_KEY, toCanonical, type CodeInfo } from '../domain/codes.ts';
import { parseTimestamp, type DateOrder } from './timestamps.ts';

/**
 * Reading rows from the CSV files clinics really have (interfaces.md §5: `timestamp,patient,code|key,value
 * [,unit]`): a header row, comma / semicolon / tab, a BOM, quoted fields, decimal commas; long files (one
 * reading a row) or wide ones (a column per measurement, named by shorthand key or LOINC code, or mapped
 * with --map); units converted to the canonical UCUM unit. Parsing is csv-parse's; this file only maps.
 */

export interface CsvOptions {
  /** `target=source column`: targets are timestamp, patient, code, value, unit, device, or a key/LOINC code. */
  map?: Record<string, string>;
  /** Units of wide columns, by key or code (`weight=lb`), when the header does not say (`weight (lb)`). */
  units?: Record<string, string>;
  tz: string;
  dateOrder?: DateOrder;
  delimiter?: string;
  /** Patient for every row when the file has no patient column. */
  patient?: string;
}

/** One reading parsed from a row (shared with FHIR Observation input). */
export type { CandidateReading } from '../api/fhir/resources/observation-input.ts';
import type { CandidateReading } from '../api/fhir/resources/observation-input.ts';

export interface RowRejection {
  line: number;
  reason: string;
  raw: string;
}

export interface CsvLayout {
  format: 'long' | 'wide';
  /** Columns read, by role, e.g. {timestamp: 'Date', 'hr': 'pulse'}. */
  columns: Record<string, string>;
  ignored: string[];
}

const ROLE_NAMES: Record<string, string[]> = {
  timestamp: ['timestamp', 'time', 'datetime', 'date_time', 'date', 'ts', 'effective', 'measured_at', 'when'],
  patient: ['patient', 'patient_id', 'patientid', 'mrn', 'identifier', 'patient_identifier'],
  code: ['code', 'key', 'loinc', 'type', 'measurement'],
  value: ['value', 'reading', 'result'],
  unit: ['unit', 'units', 'uom'],
  device: ['device', 'device_id', 'deviceid'],
};

/** Spellings seen in spreadsheets, to the UCUM units `toCanonical` knows. */
const UNIT_SPELLINGS: Record<string, string> = {
  '°c': 'Cel',
  degc: 'Cel',
  celsius: 'Cel',
  cel: 'Cel',
  c: 'Cel',
  '°f': '[degF]',
  degf: '[degF]',
  fahrenheit: '[degF]',
  '[degf]': '[degF]',
  f: '[degF]',
  lb: '[lb_av]',
  lbs: '[lb_av]',
  '[lb_av]': '[lb_av]',
  pound: '[lb_av]',
  pounds: '[lb_av]',
  kg: 'kg',
  mmhg: 'mm[Hg]',
  'mm[hg]': 'mm[Hg]',
  'mm hg': 'mm[Hg]',
  'mg/dl': 'mg/dL',
  'mmol/l': 'mmol/L',
  bpm: '/min',
  '/min': '/min',
  'beats/min': '/min',
  'breaths/min': '/min',
  rpm: '/min',
  '%': '%',
  percent: '%',
  steps: '{steps}',
  '{steps}': '{steps}',
};
export const normaliseUnit = (u: string) => UNIT_SPELLINGS[u.trim().toLowerCase()] ?? u.trim();

const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, '_');

/** A header like `weight (lb)` or `Temp [°F]`: the name and the unit. */
function splitHeader(h: string): { name: string; unit?: string } {
  const m = /^(.*?)\s*[([]\s*([^)\]]+)\s*[)\]]\s*$/.exec(h.trim());
  return m ? { name: m[1], unit: m[2] } : { name: h.trim() };
}

/** The code a key (`hr`), LOINC code (`8867-4`) or `http://loinc.org|8867-4` names. */
export function codeFor(text: string): CodeInfo | undefined {
  const t = text.trim();
  const bare = t.includes('|') && t.startsWith('http://loinc.org|') ? t.slice(t.indexOf('|') + 1) : t;
  return BY_CODE.get(bare) ?? BY_KEY.get(bare.toLowerCase());
}

/** Counts delimiters outside quotes in the header line: the most frequent of , ; tab wins. */
export function detectDelimiter(headerLine: string): string {
  const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of headerLine.replace(/^\uFEFF/, '')) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch in counts) counts[ch]++;
  }
  return Object.entries(counts).sort((a, b) => b[1] - a[1])[0][1] > 0 ? Object.entries(counts).sort((a, b) => b[1] - a[1])[0][0] : ',';
}

export class CsvLayoutError extends Error {}

/** Decides which column plays which role, from the header and --map. */
export function layoutOf(
  header: string[],
  opts: CsvOptions,
): CsvLayout & { index: Record<string, number>; valueColumns: Array<{ index: number; info: CodeInfo; unit?: string; column: string }> } {
  const index: Record<string, number> = {};
  const columns: Record<string, string> = {};
  const used = new Set<number>();
  const headers = header.map(splitHeader);
  const find = (source: string) => headers.findIndex((h, i) => !used.has(i) && (norm(h.name) === norm(source) || norm(header[i]) === norm(source)));
  const valueColumns: Array<{ index: number; info: CodeInfo; unit?: string; column: string }> = [];
  const addValue = (i: number, info: CodeInfo) => {
    used.add(i);
    valueColumns.push({ index: i, info, unit: opts.units?.[info.key] ?? opts.units?.[info.code] ?? headers[i].unit, column: header[i] });
    columns[info.key] = header[i];
  };
  for (const [target, source] of Object.entries(opts.map ?? {})) {
    const i = find(source);
    if (i < 0) throw new CsvLayoutError(`--map ${target}=${source}: the file has no column "${source}" (columns: ${header.join(', ')})`);
    if (ROLE_NAMES[target]) {
      index[target] = i;
      columns[target] = header[i];
      used.add(i);
    } else {
      const info = codeFor(target);
      if (!info)
        throw new CsvLayoutError(
          `--map ${target}=${source}: "${target}" is neither a column role (${Object.keys(ROLE_NAMES).join(', ')}) nor a reading key or LOINC code`,
        );
      addValue(i, info);
    }
  }
  for (const [role, names] of Object.entries(ROLE_NAMES)) {
    if (index[role] !== undefined) continue;
    const i = headers.findIndex((h, j) => !used.has(j) && names.includes(norm(h.name)));
    if (i >= 0) {
      index[role] = i;
      columns[role] = header[i];
      used.add(i);
    }
  }
  const long = index.code !== undefined && index.value !== undefined;
  if (!long) {
    headers.forEach((h, i) => {
      if (used.has(i)) return;
      const info = codeFor(h.name);
      if (info) addValue(i, info);
    });
  }
  if (index.timestamp === undefined)
    throw new CsvLayoutError(`no timestamp column (name one ${ROLE_NAMES.timestamp.join('/')}, or --map timestamp=COLUMN); columns: ${header.join(', ')}`);
  if (index.patient === undefined && !opts.patient)
    throw new CsvLayoutError(`no patient column (name one ${ROLE_NAMES.patient.join('/')}, --map patient=COLUMN, or give --patient ID)`);
  if (!long && !valueColumns.length) {
    throw new CsvLayoutError(
      `no readings found: give code and value columns, or columns named by key or LOINC code (${[...BY_KEY.keys()].join(', ')}), or --map hr=COLUMN; columns: ${header.join(', ')}`,
    );
  }
  const ignored = header.filter((_, i) => !used.has(i));
  return { format: long ? 'long' : 'wide', columns, ignored, index, valueColumns };
}

function parseNumber(text: string): number | undefined {
  let t = text.trim().replace(/\u00a0/g, '');
  if (/^[-+]?\d+,\d+$/.test(t)) t = t.replace(',', '.'); // decimal comma
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return undefined;
  return Number(t);
}

/** One value → a canonical reading, or why not. */
function reading(info: CodeInfo, valueText: string, unitText: string | undefined): { value: number; unit: string } | string {
  const v = parseNumber(valueText);
  if (v === undefined) return `${info.key}: value "${valueText}" is not a number`;
  const unit = unitText && unitText.trim() ? normaliseUnit(unitText) : undefined;
  const canonical = toCanonical(info.code, v, unit);
  if (canonical === undefined) return `${info.key}: unit "${unitText}" is not known for ${info.display} (use ${info.unit})`;
  const value = Math.round(canonical * 1e6) / 1e6;
  if (value < info.min || value > info.max) return `${info.key}: ${value} ${info.unit} is outside the possible range ${info.min}–${info.max}`;
  return { value, unit: info.unit };
}

export interface ParsedBatch {
  readings: CandidateReading[];
  rejections: RowRejection[];
  /** The text of the lines that gave readings (for rows the server rejects later), made only when asked. */
  raw: { get(line: number): string | undefined };
  /** Bytes of input consumed so far (for a progress bar). */
  bytes: number;
  lines: number;
}

/** A parsed row written back as CSV (the rejects file): the same fields, quoted where they need it. */
function rowText(record: string[], delimiter: string): string {
  return record.map((f) => (f.includes(delimiter) || /["\r\n]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f)).join(delimiter);
}

/**
 * Streams `input` (bytes or text) and yields batches of candidate readings and rejected rows. The layout is
 * decided on the header (`onLayout`); a bad layout throws CsvLayoutError before any row is read.
 * Speed (bench:csv): rows are mapped inside csv-parse's `on_record` hook as the parser produces them and
 * never pushed through the stream (a promise per row cost more than parsing it); the line number comes from
 * the hook's context (csv-parse's `info` option clones it per row); the raw text of a row is rebuilt from its
 * fields only when the row is rejected.
 */
export async function* parseReadingsCsv(
  input: AsyncIterable<Buffer | string>,
  opts: CsvOptions & { batchSize?: number; onLayout?: (l: CsvLayout) => void },
): AsyncGenerator<ParsedBatch> {
  const batchSize = opts.batchSize ?? 5000;
  const delimiter = opts.delimiter ?? ',';
  let layout: ReturnType<typeof layoutOf> | undefined;
  const newBatch = () => {
    const records = new Map<number, string[]>();
    return {
      readings: [] as CandidateReading[],
      rejections: [] as RowRejection[],
      records,
      raw: { get: (line: number) => (records.has(line) ? rowText(records.get(line)!, delimiter) : undefined) },
    };
  };
  let batch = newBatch();
  const full: Array<ReturnType<typeof newBatch> & { lines: number }> = [];
  let lines = 0;
  let failure: Error | null = null;

  function onRecord(record: string[], line: number) {
    lines = line;
    if (!layout) {
      layout = layoutOf(record, opts);
      opts.onLayout?.({ format: layout.format, columns: layout.columns, ignored: layout.ignored });
      return;
    }
    const l = layout;
    const reject = (reason: string) => batch.rejections.push({ line, reason, raw: rowText(record, delimiter) });
    const cell = (role: string) => (l.index[role] === undefined ? undefined : record[l.index[role]]);
    const ts = parseTimestamp(cell('timestamp') ?? '', opts.tz, opts.dateOrder);
    const patient = (cell('patient') ?? '').trim() || opts.patient || '';
    const device = cell('device')?.trim() || undefined;
    const before = batch.readings.length;
    if (typeof ts === 'string') reject(`timestamp: ${ts}`);
    else if (!patient) reject('patient is empty');
    else if (l.format === 'long') {
      const info = codeFor(cell('code') ?? '');
      if (!info) reject(`code "${cell('code') ?? ''}" is not a reading Vigil knows (keys ${[...BY_KEY.keys()].join(', ')} or their LOINC codes)`);
      else {
        const r = reading(info, cell('value') ?? '', cell('unit'));
        if (typeof r === 'string') reject(r);
        else batch.readings.push({ line, patient, code: info.code, value: r.value, unit: r.unit, ts, device });
      }
    } else {
      const reasons: string[] = [];
      for (const col of l.valueColumns) {
        const text = record[col.index];
        if (text === undefined || text.trim() === '') continue; // no measurement in this column on this row
        const r = reading(col.info, text, col.unit);
        if (typeof r === 'string') reasons.push(r);
        else batch.readings.push({ line, patient, code: col.info.code, value: r.value, unit: r.unit, ts, device });
      }
      // A row's good cells are kept; its bad ones are reported with the line.
      if (reasons.length) reject(reasons.join('; '));
    }
    if (batch.readings.length > before) batch.records.set(line, record);
    if (batch.readings.length + batch.rejections.length >= batchSize) {
      full.push({ ...batch, lines });
      batch = newBatch();
    }
  }

  const parser = parse({
    bom: true,
    delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    trim: false,
    on_record: (record: string[], context: { lines: number }) => {
      if (failure) return null;
      try {
        onRecord(record, context.lines);
      } catch (err) {
        failure = err as Error; // a bad layout: stop at the header, before any row is read
      }
      return null; // handled here: nothing is pushed down the stream
    },
  });
  let parseError: Error | null = null;
  parser.on('error', (err) => (parseError = err));
  parser.resume(); // no records are pushed, but the stream must flow to finish
  let bytes = 0;
  const write = (chunk: Buffer | string) =>
    new Promise<void>((resolve, reject) => {
      parser.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  const drainFull = function* () {
    while (full.length) {
      const b = full.shift()!;
      yield { readings: b.readings, rejections: b.rejections, raw: b.raw, bytes, lines: b.lines };
    }
  };
  for await (const chunk of input) {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    await write(chunk).catch((err) => (parseError ??= err));
    if (failure) throw failure;
    if (parseError) throw parseError;
    yield* drainFull();
  }
  await new Promise<void>((resolve) => {
    parser.once('error', () => resolve()); // recorded above; thrown below
    parser.end(() => resolve());
  });
  if (failure) throw failure;
  if (parseError) throw parseError;
  yield* drainFull();
  if (!layout) throw new CsvLayoutError('the file is empty (a header row is needed)');
  yield { readings: batch.readings, rejections: batch.rejections, raw: batch.raw, bytes, lines };
}
