/**
 * Hypo- and hyperglycaemic events, consensus definition (Battelino 2019, "CGM-based event"; Danne
 * 2017): an event begins when readings stay beyond the threshold for ≥15 consecutive minutes and ends
 * when they stay back on the safe side for ≥15 consecutive minutes. A shorter return does not end the
 * event, so one episode with a brief recovery is one event.
 * Duration of a run of readings = last − first + one interval (each reading stands for its interval),
 * so three 5-min readings are 15 min. A data gap longer than 15 min breaks a run: we do not assume what
 * glucose did while the sensor was silent. An event still open at a gap or at the end of the data ends
 * one interval after its last reading beyond the threshold (`ongoing` marks one open at the end).
 */
import { DEFAULT_INTERVAL_MIN, GLUCOSE, MINUTE_MS, normalizeReadings, type CgmReading } from './types.ts';

export const EVENT_MIN_DURATION_MIN = 15; // min, both to start and to end an event
export const EVENT_MAX_GAP_MIN = 15; // min, a longer gap in data breaks continuity

export type CgmEventKind = 'hypo-level1' | 'hypo-level2' | 'hyper-level1' | 'hyper-level2';

export interface CgmEvent {
  kind: CgmEventKind;
  threshold: number; // mg/dL
  start: number; // epoch ms, first reading beyond the threshold
  end: number; // epoch ms, first reading of the recovery (or last beyond + one interval)
  durationMin: number;
  extreme: number; // mg/dL: nadir for hypo, peak for hyper
  extremeAt: number; // epoch ms
  ongoing: boolean;
}

const KINDS: Record<CgmEventKind, { threshold: number; beyond: (v: number) => boolean; worse: (a: number, b: number) => boolean }> = {
  'hypo-level1': { threshold: GLUCOSE.low, beyond: (v) => v < GLUCOSE.low, worse: (a, b) => a < b },
  'hypo-level2': { threshold: GLUCOSE.veryLow, beyond: (v) => v < GLUCOSE.veryLow, worse: (a, b) => a < b },
  'hyper-level1': { threshold: GLUCOSE.high, beyond: (v) => v > GLUCOSE.high, worse: (a, b) => a > b },
  'hyper-level2': { threshold: GLUCOSE.veryHigh, beyond: (v) => v > GLUCOSE.veryHigh, worse: (a, b) => a > b },
};

export function detectEvents(readings: readonly CgmReading[], kind: CgmEventKind, intervalMin = DEFAULT_INTERVAL_MIN): CgmEvent[] {
  const { threshold, beyond, worse } = KINDS[kind];
  const intervalMs = intervalMin * MINUTE_MS;
  const minMs = EVENT_MIN_DURATION_MIN * MINUTE_MS;
  const maxGapMs = EVENT_MAX_GAP_MIN * MINUTE_MS;
  const rs = normalizeReadings(readings);
  const events: CgmEvent[] = [];

  let runStart: number | null = null; // first reading of the current run beyond the threshold (not yet an event)
  let open: { start: number; lastBeyond: number; extreme: number; extremeAt: number } | null = null;
  let recoveryStart: number | null = null; // inside an event: first reading of the current return run
  let runExtreme = { v: 0, at: 0 };
  let prevTs: number | null = null;

  const close = (end: number, ongoing: boolean) => {
    if (!open) return;
    events.push({
      kind,
      threshold,
      start: open.start,
      end,
      durationMin: (end - open.start) / MINUTE_MS,
      extreme: open.extreme,
      extremeAt: open.extremeAt,
      ongoing,
    });
    open = null;
    recoveryStart = null;
  };

  for (const r of rs) {
    if (prevTs !== null && r.ts - prevTs > maxGapMs) {
      if (open) close(open.lastBeyond + intervalMs, false);
      runStart = null;
      recoveryStart = null;
    }
    prevTs = r.ts;
    if (beyond(r.mgdl)) {
      if (open) {
        recoveryStart = null;
        open.lastBeyond = r.ts;
        if (worse(r.mgdl, open.extreme)) {
          open.extreme = r.mgdl;
          open.extremeAt = r.ts;
        }
        continue;
      }
      if (runStart === null || worse(r.mgdl, runExtreme.v)) runExtreme = { v: r.mgdl, at: r.ts };
      runStart ??= r.ts;
      if (r.ts - runStart + intervalMs >= minMs) {
        open = { start: runStart, lastBeyond: r.ts, extreme: runExtreme.v, extremeAt: runExtreme.at };
        runStart = null;
      }
    } else {
      runStart = null;
      if (!open) continue;
      if (recoveryStart === null) recoveryStart = r.ts;
      if (r.ts - recoveryStart + intervalMs >= minMs) close(recoveryStart, false);
    }
  }
  if (open) close((open as { lastBeyond: number }).lastBeyond + intervalMs, true);
  return events;
}

/** All four event kinds, in time order. */
export function detectAllEvents(readings: readonly CgmReading[], intervalMin = DEFAULT_INTERVAL_MIN): CgmEvent[] {
  return (Object.keys(KINDS) as CgmEventKind[]).flatMap((k) => detectEvents(readings, k, intervalMin)).sort((a, b) => a.start - b.start);
}
