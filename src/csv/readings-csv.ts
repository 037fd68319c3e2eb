import { parse, type Options as CsvParseOptions } from 'csv-parse';
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
  st: '[stone_av]', // UCUM's st is the stere (a cubic metre): a spreadsheet's st is stone
  stone: '[stone_av]',
  oz: '[oz_av]',
  kpa: 'kPa',
  'g/l': 'g/L',
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
    const mapped = new Set(valueColumns.map((v) => v.info.code));
    headers.forEach((h, i) => {
      if (used.has(i)) return;
      const info = codeFor(h.name);
      if (!info || mapped.has(info.code)) return; // --map chose this reading's column: another one is not imported
      // Two columns for one reading (hr and hr, or hr and 8867-4): which one is the reading is anyone's guess,
      // and the second would be dropped as "already there". Refused before any row is read.
      const twin = valueColumns.find((v) => v.info.code === info.code);
      if (twin)
        throw new CsvLayoutError(`columns "${twin.column}" and "${header[i]}" both hold ${info.display}: keep one, or choose with --map ${info.key}=COLUMN`);
      addValue(i, info);
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
  let t = text.trim();
  if (t.includes('\u00a0')) t = t.replace(/\u00a0/g, '');
  if (DECIMAL_COMMA.test(t)) t = t.replace(',', '.');
  if (!NUMBER.test(t)) return undefined;
  return Number(t);
}
const DECIMAL_COMMA = /^[-+]?\d+,\d+$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * Turns one column's (or one code's) values into canonical readings. What depends only on the code and the
 * unit text (the UCUM spelling, whether the unit converts) is worked out once per distinct unit text, not
 * per row (bench:csv).
 */
function readingMaker(info: CodeInfo) {
  const units = new Map<string, string | null>(); // unit text → UCUM unit it converts from, or null: unknown
  return (valueText: string, unitText: string | undefined): { value: number; unit: string } | string => {
    const v = parseNumber(valueText);
    if (v === undefined) return `${info.key}: value "${valueText}" is not a number`;
    let unit: string | undefined;
    if (unitText) {
      let known = units.get(unitText);
      if (known === undefined) {
        const spelled = unitText.trim() ? normaliseUnit(unitText) : info.unit;
        known = toCanonical(info.code, 1, spelled) === undefined ? null : spelled;
        if (units.size < 1000) units.set(unitText, known);
      }
      if (known === null) return `${info.key}: unit "${unitText}" is not known for ${info.display} (use ${info.unit})`;
      unit = known;
    }
    const value = Math.round(toCanonical(info.code, v, unit)! * 1e6) / 1e6;
    if (value < info.min || value > info.max) return `${info.key}: ${value} ${info.unit} is outside the possible range ${info.min}–${info.max}`;
    return { value, unit: info.unit };
  };
}

export interface ParsedBatch {
  readings: CandidateReading[];
  rejections: RowRejection[];
  /** Bytes of input consumed so far (for a progress bar). */
  bytes: number;
  /** Rows read so far after the header (a row across lines is one; empty rows included). */
  rows: number;
  /** Of them, empty: blank lines, and rows whose every field is blank (`,,,`), skipped without a reason. */
  emptyRows: number;
}

function isBlank(record: string[]): boolean {
  for (let i = 0; i < record.length; i++) if (record[i].trim() !== '') return false;
  return true;
}

/** A parsed row written back as CSV (the rejects file): the same fields, quoted where they need it. */
function rowText(record: string[], delimiter: string): string {
  return record.map((f) => (f.includes(delimiter) || /["\r\n]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f)).join(delimiter);
}

/**
 * A row of a readings file is a few hundred characters; a longer one is a broken quote swallowing the rest of
 * the file, or not a readings file at all. Stopping there keeps the import's memory bounded (a 200 MB line
 * took 2.2 GB before) instead of reading the whole file into one field.
 */
export const MAX_RECORD_CHARS = 1 << 20;

/** The parts of csv-parse's parser used here: its options' parsing core, called without the stream around it. */
export interface CsvParseCore {
  info: { lines: number; bytes: number };
  api: { parse(buf: Buffer | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined };
}

/** csv-parse's parsing core for these options (checked: it is not a documented API, so a release may move it). */
export function csvParseCore(options: CsvParseOptions): CsvParseCore {
  const parser = parse(options) as unknown as CsvParseCore;
  if (typeof parser.api?.parse !== 'function')
    throw new Error('csv-parse no longer exposes its parsing core (parser.api.parse); see csvParseCore in src/csv/readings-csv.ts');
  return parser;
}

/**
 * Line numbers as an editor shows them, counted from the bytes: a record's line is the line it starts on
 * (a quoted field across lines is reported where the row begins), and CR LF, LF or a lone CR each end one
 * line. csv-parse's own count is the line a record ends on, and counts CR LF twice inside quotes.
 * `upTo(end)` takes the bytes of the next record up to byte `end` (after its line break), from where the
 * previous one ended: the line its first character is on, and how many blank lines came before it.
 */
function lineCounter() {
  const held: Buffer[] = []; // the bytes fed and not yet counted, from absolute offset `base`
  let base = 0;
  let at = 0; // bytes counted so far
  let line = 1; // the line of byte `at`
  let afterCr = false; // the byte before `at` was a CR (an LF now ends no further line)
  return {
    feed(chunk: Buffer) {
      held.push(chunk);
    },
    upTo(end: number, record = true): { line: number; blank: number } {
      let first = -1;
      let blank = 0;
      let chunk = held[0];
      let i = at - base;
      while (at < end) {
        while (chunk && i >= chunk.length) {
          base += chunk.length;
          held.shift();
          chunk = held[0];
          i = 0;
        }
        if (!chunk) break;
        const b = chunk[i];
        if (b === 10 || b === 13) {
          if (b === 13 || !afterCr) {
            if (first < 0) blank++; // a line break before this record's first character: a blank line
            line++;
          }
          afterCr = b === 13;
        } else {
          afterCr = false;
          if (first < 0) first = line;
        }
        i++;
        at++;
      }
      // No character but line breaks: csv-parse made a row of a lone CR in an LF file (mixed line ends);
      // that row is the last of those breaks, not a blank line before a row.
      if (record && first < 0 && blank > 0) return { line: line - 1, blank: blank - 1 };
      return { line: first < 0 ? line : first, blank };
    },
  };
}

/**
 * csv-parse's parsing core (`parser.api.parse`, what its stream and sync APIs both run), fed chunks and
 * calling `onRow(record, line)` for each record: no stream push or promise per row, and none of the per-row
 * copy of `info` that its `on_record` hook and `info` option make (that copy cost more than parsing the row,
 * bench:csv); the line is the one the record starts on (lineCounter). Blank lines are skipped and counted
 * (`blankLines()`). `feed` throws the parser's error (a broken quote).
 */
function csvCore(delimiter: string, onRow: (record: string[], line: number) => void) {
  const parser = csvParseCore({
    bom: true,
    delimiter,
    relax_column_count: true,
    // A quote inside an unquoted field (`7"3`, a stray inch mark) is kept as text, so that row is refused with
    // its reason ("not a number") instead of the parser stopping the whole import at it.
    relax_quotes: true,
    skip_empty_lines: true,
    trim: false,
    max_record_size: MAX_RECORD_CHARS,
  });
  const lines = lineCounter();
  let blankLines = 0;
  let fed = 0;
  // The record ends at parser.info.bytes: after its line break, or at the end of the input.
  const push = (record: string[]) => {
    const at = lines.upTo(parser.info.bytes);
    blankLines += at.blank;
    onRow(record, at.line);
  };
  const feed = (chunk: Buffer | undefined, end: boolean) => {
    if (chunk) {
      lines.feed(chunk);
      fed += chunk.length;
    }
    const err = parser.api.parse(chunk, end, push, () => undefined) as (Error & { code?: string }) | undefined;
    if (err?.code === 'CSV_MAX_RECORD_SIZE')
      throw new Error(
        `line ${lines.upTo(parser.info.bytes, false).line}: a row of more than ${MAX_RECORD_CHARS.toLocaleString('en')} characters (a quote never closed, or not a readings file); rows before it are stored, and a re-run after fixing the file imports nothing twice`,
      );
    if (err) throw err;
    if (end) blankLines += lines.upTo(fed, false).blank; // blank lines after the last row
  };
  return { feed, blankLines: () => blankLines };
}

/**
 * The rows at `lines` of `input`, as the rejects file shows them (rowText). For rows the database refuses
 * after parsing (unknown patient, someone else's device): read again at the end of an import rather than
 * every row's fields kept until its batch is stored, which cost more than parsing (bench:csv).
 */
export async function rowsAt(input: AsyncIterable<Buffer | string>, lines: Set<number>, delimiter = ','): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const { feed } = csvCore(delimiter, (record, line) => {
    if (lines.has(line)) out.set(line, rowText(record, delimiter));
  });
  for await (const chunk of input) feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, false);
  feed(undefined, true);
  return out;
}

/** Line breaks inside a record's fields at `columns` (CR LF, LF or a lone CR each one). */
function lineBreaksIn(record: string[], columns: number[]): number {
  let n = 0;
  for (const c of columns) {
    const f = record[c];
    if (f === undefined || (f.indexOf('\n') < 0 && f.indexOf('\r') < 0)) continue;
    for (let i = 0; i < f.length; i++) {
      const c = f.charCodeAt(i);
      if (c === 10 || (c === 13 && f.charCodeAt(i + 1) !== 10)) n++;
    }
  }
  return n;
}

/** A code column's reader: the code text → the code and its reading maker, once per distinct text. */
function codeReader() {
  const known = new Map<string, { info: CodeInfo; make: ReturnType<typeof readingMaker> } | null>();
  return (text: string) => {
    let entry = known.get(text);
    if (entry === undefined) {
      const info = codeFor(text);
      entry = info ? { info, make: readingMaker(info) } : null;
      if (known.size < 1000) known.set(text, entry);
    }
    return entry;
  };
}

/**
 * Streams `input` (bytes or text) and yields batches of candidate readings and rejected rows. The layout is
 * decided on the header (`onLayout`); a bad layout throws CsvLayoutError before any row is read.
 * Speed (bench:csv, CPU per row): records come from `csvCore`; units, codes and zone offsets are worked
 * out once per distinct text (readingMaker, codeReader, timestamps.ts); a row's text is rebuilt from its
 * fields only when the row is rejected, and rows refused later by the database are found again by `rowsAt`.
 */
export async function* parseReadingsCsv(
  input: AsyncIterable<Buffer | string>,
  opts: CsvOptions & { batchSize?: number; onLayout?: (l: CsvLayout) => void },
): AsyncGenerator<ParsedBatch> {
  const batchSize = opts.batchSize ?? 5000;
  const delimiter = opts.delimiter ?? ',';
  const { tz, dateOrder } = opts;
  let layout: ReturnType<typeof layoutOf> | undefined;
  const newBatch = () => ({ readings: [] as CandidateReading[], rejections: [] as RowRejection[] });
  let batch = newBatch();
  const full: Array<ReturnType<typeof newBatch> & { rows: number; emptyRows: number }> = [];
  let records = 0; // data rows after the header, blank lines not included
  let emptyRecords = 0; // of them, every field blank
  let width = 0; // the header's number of columns
  let failure: Error | null = null;
  // Column positions, known once the header is read (-1: the file has no such column).
  let col = { timestamp: -1, patient: -1, device: -1, code: -1, value: -1, unit: -1 };
  const codeOf = codeReader();
  const wideMakers: Array<ReturnType<typeof readingMaker>> = [];
  let used: number[] = []; // the columns read (not ignored ones such as a note)

  // Per-row code makes no closures: tsx (how `vigil` runs) names every function it creates (`__name`).
  function reject(record: string[], line: number, reason: string) {
    batch.rejections.push({ line, reason, raw: rowText(record, delimiter) });
  }

  function onRecord(record: string[], line: number) {
    if (!layout) {
      width = record.length;
      layout = layoutOf(record, opts);
      const at = (role: string) => layout!.index[role] ?? -1;
      col = { timestamp: at('timestamp'), patient: at('patient'), device: at('device'), code: at('code'), value: at('value'), unit: at('unit') };
      for (const c of layout.valueColumns) wideMakers.push(readingMaker(c.info));
      used = [...Object.values(col), ...layout.valueColumns.map((c) => c.index)].filter((i) => i >= 0);
      opts.onLayout?.({ format: layout.format, columns: layout.columns, ignored: layout.ignored });
      return;
    }
    records++;
    // A spreadsheet's empty row (`,,,`) is what a blank line is: nothing to import and nothing wrong.
    if (isBlank(record)) return void emptyRecords++;
    // No column Vigil reads holds a line break (a note column may): one that does is a quote opened and closed lines later, and the lines
    // between were read as this one row (found by review: they vanished into one "not a number"). Reported as
    // the span it swallowed, so the count and the rejects file say what to fix; re-running imports nothing twice.
    const swallowed = lineBreaksIn(record, used);
    if (swallowed > 0) {
      records += swallowed;
      return reject(
        record,
        line,
        `a quote opened on line ${line} closes only on line ${line + swallowed}: the ${swallowed + 1} lines were read as one row and none of them is stored (close or remove the quote)`,
      );
    }
    // More filled fields than the header has columns: the row is shifted (typically an unquoted decimal comma in
    // a comma-separated file, 36,8 read as 36 and 8), so every value after it would land in the wrong column.
    if (record.length > width && record.slice(width).some((f) => f.trim() !== ''))
      return reject(record, line, `the row has ${record.length} fields, the header ${width} (an unquoted decimal comma? quote it, or separate with ;)`);
    const ts = parseTimestamp(record[col.timestamp] ?? '', tz, dateOrder);
    const patient = (col.patient < 0 ? '' : (record[col.patient] ?? '').trim()) || opts.patient || '';
    const device = col.device < 0 ? undefined : record[col.device]?.trim() || undefined;
    if (typeof ts === 'string') reject(record, line, `timestamp: ${ts}`);
    else if (!patient) reject(record, line, 'patient is empty');
    else if (layout.format === 'long') {
      const codeText = record[col.code] ?? '';
      const code = codeOf(codeText);
      if (!code) reject(record, line, `code "${codeText}" is not a reading Vigil knows (keys ${[...BY_KEY.keys()].join(', ')} or their LOINC codes)`);
      else {
        const r = code.make(record[col.value] ?? '', col.unit < 0 ? undefined : record[col.unit]);
        if (typeof r === 'string') reject(record, line, r);
        else batch.readings.push({ line, patient, code: code.info.code, value: r.value, unit: r.unit, ts, device });
      }
    } else {
      const reasons: string[] = [];
      const valueColumns = layout.valueColumns;
      for (let i = 0; i < valueColumns.length; i++) {
        const c = valueColumns[i];
        const text = record[c.index];
        if (text === undefined || text.trim() === '') continue; // no measurement in this column on this row
        const r = wideMakers[i](text, c.unit);
        if (typeof r === 'string') reasons.push(r);
        else batch.readings.push({ line, patient, code: c.info.code, value: r.value, unit: r.unit, ts, device });
      }
      // A row's good cells are kept; its bad ones are reported with the line.
      if (reasons.length) reject(record, line, reasons.join('; '));
    }
    if (batch.readings.length + batch.rejections.length >= batchSize) {
      full.push({ ...batch, ...counts() });
      batch = newBatch();
    }
  }

  const csv = csvCore(delimiter, (record, line) => {
    if (failure) return;
    try {
      onRecord(record, line);
    } catch (err) {
      failure = err as Error; // a bad layout: stop at the header, before any row is read
    }
  });
  // Blank lines are counted as csvCore passes them (before the header too: they are not rows of data either).
  const counts = () => ({ rows: records + csv.blankLines(), emptyRows: emptyRecords + csv.blankLines() });
  const feedChecked = (chunk: Buffer | undefined, end: boolean) => {
    csv.feed(chunk, end);
    if (failure) throw failure;
  };
  let bytes = 0;
  const drainFull = function* () {
    while (full.length) {
      const b = full.shift()!;
      yield { readings: b.readings, rejections: b.rejections, bytes, rows: b.rows, emptyRows: b.emptyRows };
    }
  };
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    bytes += buf.length;
    feedChecked(buf, false);
    yield* drainFull();
  }
  feedChecked(undefined, true);
  yield* drainFull();
  if (!layout) throw new CsvLayoutError('the file is empty (a header row is needed)');
  yield { readings: batch.readings, rejections: batch.rejections, bytes, ...counts() };
}

/**
 * Readings in chunks of about `size`, never splitting one line's readings (a row's systolic and diastolic are
 * stored by one insert, so they make one blood-pressure panel; split at a chunk edge they were two
 * Observations, found by review). A chunk may run past `size` by the readings of its last line.
 */
export function* chunksByLine<T extends { line: number }>(readings: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < readings.length;) {
    let end = Math.min(i + size, readings.length);
    while (end < readings.length && readings[end].line === readings[end - 1].line) end++;
    yield readings.slice(i, end);
    i = end;
  }
}
