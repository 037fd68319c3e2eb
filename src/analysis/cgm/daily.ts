/**
 * Summaries the platform calls: the rolling consensus window ending now, and one summary per local day
 * (the AGP's daily profiles and the dashboard's "today").
 */
import { detectAllEvents, type CgmEvent } from './events.ts';
import { computeCgmMetrics, SUFFICIENT_DAYS, type CgmMetrics } from './metrics.ts';
import { evaluateTargets, type TargetEvaluation, type TargetSetId } from './targets.ts';
import { DAY_MS, DEFAULT_INTERVAL_MIN, MINUTE_MS, type CgmReading } from './types.ts';

export interface CgmSummaryOptions {
  days?: number; // window length, default 14 (Battelino 2019)
  intervalMin?: number; // device interval, default 5 min
  targetSet?: TargetSetId; // default 'standard'
}

export interface CgmWindowSummary {
  metrics: CgmMetrics | null; // null when the window holds no readings
  targets: TargetEvaluation | null;
  events: CgmEvent[];
}

/** Metrics, targets and events over the `days` ending at `now` (a reading stamped `now` is included). */
export function cgmWindowSummary(readings: readonly CgmReading[], now: number, opts: CgmSummaryOptions = {}): CgmWindowSummary {
  const intervalMin = opts.intervalMin ?? DEFAULT_INTERVAL_MIN;
  // End one interval after `now` so a reading stamped exactly now is inside, and the slot count is whole.
  const end = now + intervalMin * MINUTE_MS;
  const start = end - (opts.days ?? SUFFICIENT_DAYS) * DAY_MS;
  const metrics = computeCgmMetrics(readings, { start, end, intervalMin });
  const inWindow = readings.filter((r) => r.ts >= start && r.ts < end);
  return {
    metrics,
    targets: metrics ? evaluateTargets(metrics, opts.targetSet) : null,
    events: detectAllEvents(inWindow, intervalMin),
  };
}

export interface CgmDaySummary {
  date: string; // local calendar date, YYYY-MM-DD
  start: number; // epoch ms of local midnight
  metrics: CgmMetrics;
}

/**
 * One summary per local calendar day that holds readings, midnight to midnight in the patient's
 * offset; activePercent is against a whole day of expected readings (288 at 5 min).
 */
export function cgmDailySummaries(readings: readonly CgmReading[], opts: { utcOffsetMinutes?: number; intervalMin?: number } = {}): CgmDaySummary[] {
  const offsetMs = (opts.utcOffsetMinutes ?? 0) * MINUTE_MS;
  const byDay = new Map<number, CgmReading[]>();
  for (const r of readings) {
    const dayStart = Math.floor((r.ts + offsetMs) / DAY_MS) * DAY_MS - offsetMs;
    const list = byDay.get(dayStart) ?? byDay.set(dayStart, []).get(dayStart)!;
    list.push(r);
  }
  return [...byDay.keys()]
    .sort((a, b) => a - b)
    .flatMap((start) => {
      const metrics = computeCgmMetrics(byDay.get(start)!, { start, end: start + DAY_MS, intervalMin: opts.intervalMin });
      const date = new Date(start + offsetMs).toISOString().slice(0, 10);
      return metrics ? [{ date, start, metrics }] : [];
    });
}
