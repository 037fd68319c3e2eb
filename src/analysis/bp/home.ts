/**
 * Home blood pressure: 7-day averages, overall and split into morning and evening, each classified
 * with the ACC/AHA 2017 categories (see category.ts).
 * Home-monitoring protocols (ACC/AHA 2017 §4.2, ESH) ask for duplicate morning and evening readings
 * over ~7 days; we average whatever falls in the window and say how many readings each average holds.
 * Note: ACC/AHA 2017 Table 11 maps office 140/90 to home 135/85; the categories here use the office
 * thresholds as written in the clinical reference, and the clinician interprets home averages.
 */
import { classifyBpReadings, type BpClassification, type BpReading } from './category.ts';

export const HOME_WINDOW_DAYS = 7;
const DAY_MS = 86_400_000;
/** Local-time windows, in hours [from, to): morning readings are taken after waking, before medication. */
export const MORNING_HOURS = [4, 12] as const;
export const EVENING_HOURS = [17, 24] as const;

export interface HomeBpOptions {
  days?: number; // window length, default 7
  utcOffsetMinutes?: number; // patient's local offset for the morning/evening split, default 0
}

export interface HomeBpSummary {
  windowStart: number; // epoch ms, exclusive
  windowEnd: number; // epoch ms (now), inclusive
  overall: BpClassification;
  morning: BpClassification;
  evening: BpClassification;
}

export function homeBpAverages(readings: readonly BpReading[], now: number, opts: HomeBpOptions = {}): HomeBpSummary {
  const days = opts.days ?? HOME_WINDOW_DAYS;
  const offsetMs = (opts.utcOffsetMinutes ?? 0) * 60_000;
  const windowStart = now - days * DAY_MS;
  const inWindow = readings.filter((r) => r.ts > windowStart && r.ts <= now);
  const localHour = (ts: number) => new Date(ts + offsetMs).getUTCHours();
  const between =
    ([from, to]: readonly [number, number]) =>
    (r: BpReading) =>
      localHour(r.ts) >= from && localHour(r.ts) < to;
  return {
    windowStart,
    windowEnd: now,
    overall: classifyBpReadings(inWindow),
    morning: classifyBpReadings(inWindow.filter(between(MORNING_HOURS))),
    evening: classifyBpReadings(inWindow.filter(between(EVENING_HOURS))),
  };
}
