/**
 * Timestamps as clinics' spreadsheets write them: ISO 8601 with or without an offset, `2026-11-24 10:00`,
 * `24.11.2026 10:00`, `24/11/2026 10:00` (day first unless --date-order mdy), or epoch milliseconds.
 * A timestamp without an offset is local time in the given IANA zone (DST handled by Intl).
 */

export type DateOrder = 'dmy' | 'mdy';

/** Validates an IANA time-zone name (throws with a clear message). */
export function checkTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    throw new Error(`unknown time zone "${tz}" (use an IANA name such as Europe/Berlin or America/New_York, or UTC)`);
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The zone's offset from UTC at instant `t`, in ms. */
function offsetAt(t: number, tz: string): number {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** Local wall-clock time in `tz` → epoch ms (the earlier instant when a DST change repeats the hour). */
export function zonedToUtc(wall: number, tz: string): number {
  if (tz === 'UTC') return wall;
  let t = wall - offsetAt(wall, tz);
  t = wall - offsetAt(t, tz);
  return t;
}

const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;
const DAY_FIRST = /^(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?:[T ,]\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

function wallClock(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number | null {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  return back.getUTCDate() === d && back.getUTCMonth() === mo - 1 ? t : null; // rejects 31 February
}

/** Returns epoch ms, or a reason the text is not a timestamp. */
export function parseTimestamp(text: string, tz: string, order: DateOrder = 'dmy'): number | string {
  const v = text.trim();
  if (/^\d{12,14}$/.test(v)) return Number(v); // epoch milliseconds
  const iso = ISO_LOCAL.exec(v);
  if (iso) {
    const ms = iso[7] ? Math.round(Number(`0.${iso[7]}`) * 1000) : 0;
    const wall = wallClock(+iso[1], +iso[2], +iso[3], +(iso[4] ?? 0), +(iso[5] ?? 0), +(iso[6] ?? 0), ms);
    if (wall === null) return `"${text}" is not a real date`;
    const zone = iso[8];
    if (!zone) return zonedToUtc(wall, tz);
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
    return zonedToUtc(wall, tz);
  }
  return `"${text}" is not a timestamp (use ISO 8601 such as 2026-11-24T10:00:00Z, or 24.11.2026 10:00 with --tz)`;
}
