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
      second: 'numeric',
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

/** Milliseconds to add to UTC to get local time in `timeZone` at instant `ts`, to the second (old LMT offsets have seconds). */
export function offsetMsAt(timeZone: string, ts: number): number {
  const p = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(ts)
      .map((x) => [x.type, x.value]),
  );
  const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return local - Math.floor(ts / 1000) * 1000;
}

/** Minutes to add to UTC to get local time in `timeZone` at instant `ts` (New York in winter: −300). */
export function offsetMinutesAt(timeZone: string, ts: number): number {
  return Math.round(offsetMsAt(timeZone, ts) / MINUTE_MS);
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
