/**
 * Local time of day in an IANA time zone ("Europe/London"), for what clinicians read by the clock: the AGP's
 * hours, home blood pressure's morning and evening, a CGM day from midnight to midnight. The offset is taken
 * at each instant (Intl, the tz database Node ships), so a daylight-saving change inside a period moves
 * nothing after it.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const SLOT_MS = 15 * MINUTE_MS; // tz offsets change on quarter hours at most

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether Intl knows the zone (an IANA name such as "America/New_York", or "UTC"). */
export function isTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The zone this process runs in (TZ), the default for a clinic that sets none. */
export function processTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Minutes to add to UTC to get local time in `timeZone` at instant `ts` (New York in winter: −300). */
export function offsetMinutesAt(timeZone: string, ts: number): number {
  const parts = formatter(timeZone).formatToParts(ts);
  const n = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)!.value);
  const local = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'));
  return Math.round((local - Math.floor(ts / MINUTE_MS) * MINUTE_MS) / MINUTE_MS);
}

/** `offsetMinutesAt` remembered per quarter hour: thousands of readings cost a few dozen Intl calls. */
export function offsetLookup(timeZone: string): (ts: number) => number {
  const bySlot = new Map<number, number>();
  return (ts) => {
    const slot = Math.floor(ts / SLOT_MS);
    let off = bySlot.get(slot);
    if (off === undefined) bySlot.set(slot, (off = offsetMinutesAt(timeZone, slot * SLOT_MS)));
    return off;
  };
}

/** Epoch ms of the local midnight that starts the day holding `ts`. */
export function localDayStart(timeZone: string, ts: number): number {
  const localMidnight = Math.floor((ts + offsetMinutesAt(timeZone, ts) * MINUTE_MS) / DAY_MS) * DAY_MS; // as if UTC
  // The offset at midnight itself can differ from the one at `ts` (a change during the day): take midnight's.
  const guess = localMidnight - offsetMinutesAt(timeZone, ts) * MINUTE_MS;
  return localMidnight - offsetMinutesAt(timeZone, guess) * MINUTE_MS;
}
