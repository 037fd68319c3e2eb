/**
 * Home blood pressure: 7-day averages, overall and split into morning and evening, each classified
 * with the ACC/AHA 2017 categories at their home thresholds (Table 11: 135/85 at home corresponds to
 * 140/90 in the office; see category.ts).
 * Home-monitoring protocols (ACC/AHA 2017 §4.2, ESH) ask for duplicate morning and evening readings
 * over ~7 days; we average whatever falls in the window and say how many readings each average holds.
 */
import { classifyBpReadings, OCCASION_GAP_MS, type BpClassification, type BpReading } from './category.ts';

export const HOME_WINDOW_DAYS = 7;
const DAY_MS = 86_400_000;
/** Local-time windows, in hours [from, to): morning readings are taken after waking, before medication. */
export const MORNING_HOURS = [4, 12] as const;
export const EVENING_HOURS = [17, 24] as const;

export interface HomeBpOptions {
  days?: number; // window length, default 7
  utcOffsetMinutes?: number; // local offset for the morning/evening split of readings without their own, default 0
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
  const offsetMs = (r: BpReading) => (r.offsetMinutes ?? opts.utcOffsetMinutes ?? 0) * 60_000;
  const windowStart = now - days * DAY_MS;
  const inWindow = readings.filter((r) => r.ts > windowStart && r.ts <= now);
  const localHour = (r: BpReading) => new Date(r.ts + offsetMs(r)).getUTCHours();
  const between =
    ([from, to]: readonly [number, number]) =>
    (r: BpReading) =>
      localHour(r) >= from && localHour(r) < to;
  return {
    windowStart,
    windowEnd: now,
    overall: classifyBpReadings(inWindow, OCCASION_GAP_MS, 'home'),
    morning: classifyBpReadings(inWindow.filter(between(MORNING_HOURS)), OCCASION_GAP_MS, 'home'),
    evening: classifyBpReadings(inWindow.filter(between(EVENING_HOURS)), OCCASION_GAP_MS, 'home'),
  };
}
