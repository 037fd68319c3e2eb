/**
 * CGM CSV in and out: `timestamp,glucose_mg_dl` rows, header optional. Pure (text in, readings out).
 * - Timestamps: ISO 8601 (`2026-01-05T08:00:00Z`, `…+01:00`, or with a space), or epoch seconds/ms.
 *   A timestamp without an offset is the patient's wall-clock time, as CGM exports write it; we
 *   store it as if UTC and report `utcOffsetMinutes: 0`, so time-of-day stays what the file says.
 *   With an explicit offset, the offset of the first such row is the patient's local offset.
 * - Units: mg/dL, unless a header names the glucose column in mmol/L (`glucose_mmol_l`, "mmol"), then
 *   × 18 (clinical reference). A headerless file is mg/dL.
 * - `Low`/`LO` and `High`/`HI` (the sensor's out-of-range flags) become 40 and 400 mg/dL, the limits
 *   CGMs report, so they count in <54 and >250 rather than vanish.
 * - Anything else unreadable is an error naming the line: a silently skipped row changes the metrics.
 */
import { MG_DL_PER_MMOL_L, type CgmReading } from './types.ts';

export class CgmCsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export interface ParsedCgmCsv {
  readings: CgmReading[];
  unit: 'mg/dL' | 'mmol/L';
  utcOffsetMinutes: number;
}

const SENSOR_LOW_MGDL = 40; // mg/dL, the lowest value CGMs report
const SENSOR_HIGH_MGDL = 400; // mg/dL, the highest
const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** Epoch ms and the offset written in the string (null when none). */
export function parseTimestamp(text: string): { ts: number; offsetMinutes: number | null } | null {
  const s = text.trim();
  if (/^\d{9,13}(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return { ts: n < 1e11 ? Math.round(n * 1000) : Math.round(n), offsetMinutes: null }; // seconds before ~1973 in ms
  }
  const m = ISO.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, sec = '0', frac = '', zone] = m;
  const wall = Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec, frac ? Math.round(Number(frac) * 1000) : 0);
  if (!Number.isFinite(wall) || +mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +sec > 60) return null;
  if (!zone) return { ts: wall, offsetMinutes: null };
  if (zone.toUpperCase() === 'Z') return { ts: wall, offsetMinutes: 0 };
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  return { ts: wall - offset * 60_000, offsetMinutes: offset };
}

function splitRow(line: string): string[] {
  return line.split(/[,;\t]/).map((f) =>
    f
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .trim(),
  );
}

export function parseCgmCsv(text: string): ParsedCgmCsv {
  const lines = text.split(/\r?\n/);
  let tsCol = 0;
  let glucoseCol = 1;
  let unit: ParsedCgmCsv['unit'] = 'mg/dL';
  let first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new CgmCsvError('the file holds no rows', 1);
  const head = splitRow(lines[first]);
  if (!parseTimestamp(head[0] ?? '')) {
    // A header: find the columns by name.
    const names = head.map((h) => h.toLowerCase());
    tsCol = names.findIndex((n) => /time|date|^ts$/.test(n));
    glucoseCol = names.findIndex((n) => /glucose|mg|mmol|value|sgv/.test(n) && !/time|date/.test(n));
    if (tsCol < 0) throw new CgmCsvError('no timestamp column in the header (expected "timestamp")', first + 1);
    if (glucoseCol < 0) throw new CgmCsvError('no glucose column in the header (expected "glucose_mg_dl")', first + 1);
    if (names[glucoseCol].includes('mmol')) unit = 'mmol/L';
    first++;
  }
  const factor = unit === 'mmol/L' ? MG_DL_PER_MMOL_L : 1;
  const readings: CgmReading[] = [];
  let utcOffsetMinutes: number | null = null;
  const naive = new Map<number, number>(); // local times without an offset → value
  for (let i = first; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const fields = splitRow(lines[i]);
    const t = parseTimestamp(fields[tsCol] ?? '');
    if (!t) throw new CgmCsvError(`bad timestamp "${fields[tsCol] ?? ''}"`, i + 1);
    utcOffsetMinutes ??= t.offsetMinutes;
    const raw = (fields[glucoseCol] ?? '').trim();
    let mgdl: number;
    if (/^(low|lo)$/i.test(raw)) mgdl = SENSOR_LOW_MGDL;
    else if (/^(high|hi)$/i.test(raw)) mgdl = SENSOR_HIGH_MGDL;
    else {
      const v = raw === '' ? Number.NaN : Number(raw);
      if (!Number.isFinite(v) || v <= 0) throw new CgmCsvError(`bad glucose value "${raw}"`, i + 1);
      // Whole mg/dL, the sensors' own resolution: 13.9 mmol/L × 18 = 250.2 fell above 250 (level 2) where the
      // consensus puts 13.9 mmol/L in level 1 (10.1–13.9); rounded it is 250 (found by review).
      mgdl = factor === 1 ? v : Math.round(v * factor);
      if (mgdl > 1000) throw new CgmCsvError(`glucose ${raw} ${unit} is not physiological`, i + 1);
    }
    // A local time without an offset seen twice with another value is the hour the clocks went back: which
    // reading came first cannot be told, and keeping one dropped the other in silence (found by review: the
    // repeated hour's lows vanished from TBR). Refused, saying how to write it.
    if (t.offsetMinutes === null) {
      const before = naive.get(t.ts);
      if (before !== undefined && before !== mgdl)
        throw new CgmCsvError(
          `the time ${fields[tsCol]} appears twice with different values (the hour the clocks went back?): write times with their UTC offset, e.g. 2026-10-25T02:30:00+02:00`,
          i + 1,
        );
      naive.set(t.ts, mgdl);
    }
    readings.push(t.offsetMinutes === null ? { ts: t.ts, mgdl } : { ts: t.ts, mgdl, offsetMinutes: t.offsetMinutes });
  }
  if (readings.length === 0) throw new CgmCsvError('the file holds no readings', first + 1);
  return { readings, unit, utcOffsetMinutes: utcOffsetMinutes ?? 0 };
}

/** `timestamp,glucose_mg_dl` with UTC ISO timestamps, one row per reading. */
export function toCgmCsv(readings: readonly CgmReading[]): string {
  return ['timestamp,glucose_mg_dl', ...readings.map((r) => `${new Date(r.ts).toISOString().replace('.000Z', 'Z')},${r.mgdl}`)].join('\n') + '\n';
}
