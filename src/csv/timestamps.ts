/**
 * Timestamps as clinics' spreadsheets write them: ISO 8601 with or without an offset, `2026-11-24 10:00`,
 * `24.11.2026 10:00`, `24/11/2026 10:00` (day first unless --date-order mdy), or epoch milliseconds.
 * A timestamp without an offset is local time in the given IANA zone (DST handled by Intl): one the clocks
 * skipped is refused, one they repeated is the first of the two (zonedToUtc).
 */

import { isTimeZone, offsetMsAt } from '../platform/time-zone.ts';

export type DateOrder = 'dmy' | 'mdy';

/** Validates an IANA time-zone name (throws with a clear message). */
export function checkTimeZone(tz: string): string {
  if (!isTimeZone(tz)) throw new Error(`unknown time zone "${tz}" (use an IANA name such as Europe/Berlin or America/New_York, or UTC)`);
  return tz;
}

/** The zone's offset from UTC at instant `t`, in ms. */
const offsetAt = (t: number, tz: string) => offsetMsAt(tz, t);

const DAY_MS = 86_400_000;

/**
 * Local wall-clock time in `tz` → epoch ms, or null when the zone skipped that time. The instants it can be
 * are the wall time minus the zone's offset a day before and a day after (zones change offset at most once in
 * two days; as Temporal's GetPossibleEpochNanoseconds does); an instant counts when the zone really shows that
 * wall time then.
 * - Clocks going forward (2026-03-29 02:30 in Europe/Berlin never happened): null. Any instant would be a
 *   guess an hour off, so the row is refused with its reason rather than shifted silently.
 * - Clocks going back (2026-10-25 02:30 in Europe/Berlin happened twice, an hour apart): the first of the two,
 *   still on the earlier offset (RFC 5545 §3.3.5 "the first occurrence"; java.time does the same), whichever
 *   side of UTC the zone is on.
 */
export function zonedToUtc(wall: number, tz: string): number | null {
  if (tz === 'UTC') return wall;
  const before = wall - offsetAt(wall - DAY_MS, tz);
  const after = wall - offsetAt(wall + DAY_MS, tz);
  const real = (t: number) => offsetAt(t, tz) === wall - t;
  const a = real(before) ? before : null;
  const b = after !== before && real(after) ? after : null;
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}

/**
 * zonedToUtc at spreadsheet speed: Intl's formatToParts costs ~10 µs and zonedToUtc calls it up to four times,
 * so the shift is kept per wall-clock minute and zone (NaN: a skipped minute). Zones change offset at whole
 * minutes by whole minutes (tzdb, since the 1970s), so every instant of one local minute shifts alike; a shift
 * that is not a whole number of minutes (local mean time before ~1940) is not kept.
 */
const shifts = new Map<string, Map<number, number>>();
function zonedToUtcCached(wall: number, tz: string): number | null {
  if (tz === 'UTC') return wall;
  let byMinute = shifts.get(tz);
  if (!byMinute) shifts.set(tz, (byMinute = new Map()));
  const minute = Math.floor(wall / 60_000);
  const shift = byMinute.get(minute);
  if (shift !== undefined) return Number.isNaN(shift) ? null : wall - shift;
  const utc = zonedToUtc(wall, tz);
  const whole = utc === null || (wall - utc) % 60_000 === 0;
  if (whole) {
    if (byMinute.size >= 100_000) byMinute.clear(); // a bound on memory; a long file refills it as it goes
    byMinute.set(minute, utc === null ? NaN : wall - utc);
  }
  return utc;
}

/** Why a local time is refused: the zone skipped it (clocks went forward). */
const skipped = (text: string, tz: string) =>
  `"${text}" never happened in ${tz} (the clocks skipped it at a DST change, so the instant meant is unknown); give it with its UTC offset, e.g. 2026-03-29T02:30:00+01:00`;

const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;
const DAY_FIRST = /^(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?:[T ,]\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

function wallClock(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number | null {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60) return null;
  if (d > (mo === 2 && leap(y) ? 29 : DAYS_IN_MONTH[mo - 1])) return null; // rejects 31 February
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

/** Digits of `s` from `i` to `j` (exclusive) as a number, or -1 when one is not a digit. */
function digits(s: string, i: number, j: number): number {
  let n = 0;
  for (; i < j; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * `2025-01-01T00:00:00Z` and `2025-01-01T00:00:00.000Z` (what Vigil, FHIR and most systems export) read
 * from the characters: ~20x cheaper than the general expression below (bench:csv). Anything else: undefined.
 */
function utcIsoFast(v: string): number | null | undefined {
  const n = v.length;
  if ((n !== 20 && n !== 24) || v.charCodeAt(n - 1) !== 90 /* Z */ || v[4] !== '-' || v[7] !== '-' || v[10] !== 'T' || v[13] !== ':' || v[16] !== ':')
    return undefined;
  if (n === 24 && v[19] !== '.') return undefined;
  const y = digits(v, 0, 4),
    mo = digits(v, 5, 7),
    d = digits(v, 8, 10),
    h = digits(v, 11, 13),
    mi = digits(v, 14, 16),
    s = digits(v, 17, 19);
  const ms = n === 24 ? digits(v, 20, 23) : 0;
  if ((y | mo | d | h | mi | s | ms) < 0) return undefined;
  return wallClock(y, mo, d, h, mi, s, ms);
}

/** Returns epoch ms, or a reason the text is not a timestamp. */
export function parseTimestamp(text: string, tz: string, order: DateOrder = 'dmy'): number | string {
  const fast = utcIsoFast(text);
  if (fast !== undefined) return fast ?? `"${text}" is not a real date`;
  const v = text.trim();
  if (/^\d{12,14}$/.test(v)) return Number(v); // epoch milliseconds
  const iso = ISO_LOCAL.exec(v);
  if (iso) {
    const ms = iso[7] ? Math.round(Number(`0.${iso[7]}`) * 1000) : 0;
    const wall = wallClock(+iso[1], +iso[2], +iso[3], +(iso[4] ?? 0), +(iso[5] ?? 0), +(iso[6] ?? 0), ms);
    if (wall === null) return `"${text}" is not a real date`;
    const zone = iso[8];
    if (!zone) return zonedToUtcCached(wall, tz) ?? skipped(text, tz);
    if (zone === 'Z') return wall;
    const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    return wall - (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  }
  const dm = DAY_FIRST.exec(v);
  if (dm) {
    const [a, b] = [+dm[1], +dm[3]];
    const [day, month] = order === 'dmy' ? [a, b] : [b, a];
    const wall = wallClock(+dm[4], month, day, +(dm[5] ?? 0), +(dm[6] ?? 0), +(dm[7] ?? 0), 0);
    if (wall === null) return `"${text}" is not a real date (read as ${order === 'dmy' ? 'day/month/year' : 'month/day/year'}; see --date-order)`;
    return zonedToUtcCached(wall, tz) ?? skipped(text, tz);
  }
  return `"${text}" is not a timestamp (use ISO 8601 such as 2026-11-24T10:00:00Z, or 24.11.2026 10:00 with --tz)`;
}
