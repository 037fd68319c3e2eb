import { systemClock } from '../../../platform/clock.ts';
import { realDay } from '../../../domain/calendar.ts';
import { badRequest } from '../../../platform/errors.ts';
import type { SqlParams } from './sql.ts';

export { realDay }; // one calendar check for FHIR, ingest and birth dates (domain/calendar.ts)

/**
 * FHIR R4 date search (§3.1.1.4.4 and §3.1.1.4.1): a value is the range of its precision (a day, a
 * month, a year, or an instant), and the prefix compares that range with the target's range.
 */

export const DATE_PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type DatePrefix = (typeof DATE_PREFIXES)[number];

export interface DateValue {
  prefix: DatePrefix;
  /** Inclusive start, epoch ms. */
  start: number;
  /** Exclusive end, epoch ms. */
  end: number;
}

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** 400 Gregorian years, in ms: Date.UTC reads years 0–99 as 1900–1999, so those are computed 400 years later. */
const CYCLE = 146_097 * 86_400_000;
const utc = (y: number, mo: number, d: number) => (y < 100 ? Date.UTC(y + 400, mo, d) - CYCLE : Date.UTC(y, mo, d));
/** The databases' timestamps run from 4713 BC; ISO text past 9999 (`+010000-…`) or before 0001 is not read by them. */
const FIRST = utc(1, 0, 1);
const PAST_LAST = utc(10000, 0, 1);
/** A bound as timestamptz text: beyond years 1–9999 it is ±infinity, which compares as the far bound should (no stored time lies there). */
export const sqlInstant = (t: number) => (t >= PAST_LAST ? 'infinity' : t < FIRST ? '-infinity' : new Date(t).toISOString());

const realDayOf = (iso: string) => realDay(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)), Number(iso.slice(8, 10)));

/** `ge2026-11-01`, `2026-11`, `lt2026-11-24T10:00:00Z` → prefix and half-open range. */
export function parseDateValue(raw: string, param = 'date'): DateValue {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.*)$/.exec(raw)!;
  const prefix = (m[1] ?? 'eq') as DatePrefix;
  const value = m[2];
  const d = DATE_RE.exec(value);
  if (d) {
    const [y, mo, day] = [Number(d[1]), d[2] ? Number(d[2]) - 1 : undefined, d[3] ? Number(d[3]) : undefined];
    if ((mo !== undefined && (mo < 0 || mo > 11)) || (day !== undefined && !realDay(y, mo! + 1, day)))
      throw badRequest(`${param}: "${raw}" is not a FHIR date or dateTime`);
    const start = utc(y, mo ?? 0, day ?? 1);
    const end = day !== undefined ? utc(y, mo!, day + 1) : mo !== undefined ? utc(y, mo + 1, 1) : utc(y + 1, 0, 1);
    return { prefix, start, end };
  }
  if (DATETIME_RE.test(value) && realDayOf(value)) {
    const t = Date.parse(value);
    if (Number.isFinite(t)) {
      // The precision of the value: to the second (or millisecond when given) or the minute.
      const fraction = /\.(\d+)/.exec(value)?.[1];
      const step = fraction ? 1 : /T\d{2}:\d{2}:\d{2}/.test(value) ? 1000 : 60_000;
      return { prefix, start: t, end: t + step };
    }
  }
  throw badRequest(`${param}: "${raw}" is not a FHIR date or dateTime (e.g. 2026-11-24, ge2026-11-24T10:00:00Z; prefixes ${DATE_PREFIXES.join(', ')})`);
}

/**
 * SQL for one date value against a target range [startCol, endCol] (both inclusive timestamptz; an
 * instant has startCol = endCol). `now` widens `ap` by 10 % of the distance to now, as the spec suggests.
 */
export function dateSql(v: DateValue, startCol: string, endCol: string, sql: SqlParams, now = systemClock.now()): string {
  const s = () => sql.p(sqlInstant(v.start));
  const e = () => sql.p(sqlInstant(v.end));
  if (startCol === endCol) {
    // An instant: the same comparisons without ORs, so an index range scan applies.
    const c = startCol;
    switch (v.prefix) {
      case 'eq':
        return `(${c} >= ${s()} AND ${c} < ${e()})`;
      case 'ne':
        return `NOT (${c} >= ${s()} AND ${c} < ${e()})`;
      case 'gt':
      case 'sa':
        return `(${c} >= ${e()})`;
      case 'lt':
      case 'eb':
        return `(${c} < ${s()})`;
      case 'ge':
        return `(${c} >= ${s()})`;
      case 'le':
        return `(${c} < ${e()})`;
      case 'ap':
        break;
    }
  }
  switch (v.prefix) {
    case 'eq':
      return `(${startCol} >= ${s()} AND ${endCol} < ${e()})`;
    case 'ne':
      return `NOT (${startCol} >= ${s()} AND ${endCol} < ${e()})`;
    case 'gt':
      return `(${endCol} >= ${e()})`;
    case 'lt':
      return `(${startCol} < ${s()})`;
    case 'ge':
      return `(${endCol} >= ${e()} OR ${startCol} >= ${s()})`;
    case 'le':
      return `(${startCol} < ${s()} OR ${endCol} < ${e()})`;
    case 'sa':
      return `(${startCol} >= ${e()})`;
    case 'eb':
      return `(${endCol} < ${s()})`;
    case 'ap': {
      const lo = v.start - Math.abs(now - v.start) * 0.1;
      const hi = v.end + Math.abs(now - v.end) * 0.1;
      return `(${startCol} < ${sql.p(sqlInstant(hi))} AND ${endCol} >= ${sql.p(sqlInstant(lo))})`;
    }
  }
}

/** The same comparison in memory (for targets that are not rows), with target range [start, end] inclusive. */
export function dateMatches(v: DateValue, start: number, end: number, now = systemClock.now()): boolean {
  switch (v.prefix) {
    case 'eq':
      return start >= v.start && end < v.end;
    case 'ne':
      return !(start >= v.start && end < v.end);
    case 'gt':
      return end >= v.end;
    case 'lt':
      return start < v.start;
    case 'ge':
      return end >= v.end || start >= v.start;
    case 'le':
      return start < v.start || end < v.end;
    case 'sa':
      return start >= v.end;
    case 'eb':
      return end < v.start;
    case 'ap':
      return start < v.end + Math.abs(now - v.end) * 0.1 && end >= v.start - Math.abs(now - v.start) * 0.1;
  }
}
