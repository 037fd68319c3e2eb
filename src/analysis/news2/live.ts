/**
 * Live NEWS2 from the latest stored readings: what the platform calls whenever a vital arrives.
 *
 * The rule for missing or stale data (NEWS2 itself has no rule; an absent parameter must never
 * quietly count as normal, because that under-scores exactly the patient whose device stopped):
 *  - Each of the 7 chart parameters needs a value no older than `maxAgeMs` (default 60 min, the
 *    most frequent NEWS2 observation interval for a high-risk patient; earlier values describe a
 *    different patient state). A timestamp more than 2 min in the future (clock skew) is unusable
 *    and reported as stale too.
 *  - If all 7 are present and fresh: `complete: true` with the aggregate `score` and `risk`.
 *  - Otherwise: `complete: false`, `score` and `risk` are null, `missing` and `stale` name the
 *    parameters, and `partialScore` is the sum of the usable components. Since every component is
 *    ≥ 0, the true aggregate can only be ≥ `partialScore`, and `minimumRisk` (the band of the partial
 *    set) is a lower bound on the true band: an alert may fire on it, never be suppressed by it.
 * Oxygen is a standing per-patient setting (prescribed supplemental O2), not a timed reading;
 * consciousness is a timed assessment (ACVPU) and goes stale like a vital sign.
 */
import {
  scoreAirOrOxygen,
  scoreConsciousness,
  scorePulse,
  scoreRespiratoryRate,
  scoreSpo2Scale1,
  scoreSpo2Scale2,
  scoreSystolicBP,
  scoreTemperature,
  type Consciousness,
} from './chart.ts';
import { NEWS2_ALGORITHM, news2Risk, sumComponents, type News2Components, type News2Risk, type Spo2Scale } from './score.ts';

export const DEFAULT_MAX_AGE_MS = 60 * 60_000; // 60 min
export const FUTURE_SKEW_MS = 2 * 60_000; // 2 min of device clock drift tolerated

/** LOINC codes of the timed vital signs (as the ingest layer stores them). */
export const NEWS2_LOINC = {
  respiratoryRate: '9279-1',
  spo2: '59408-5',
  systolicBP: '8480-6',
  pulse: '8867-4',
  temperature: '8310-5', // Cel
} as const;

export type News2VitalParam = keyof typeof NEWS2_LOINC;
export type News2Param = keyof News2Components;

/** A timed value; `ts` in epoch ms (or anything `Date` accepts). */
export interface TimedValue<T = number> {
  value: T;
  ts: number | string | Date;
}

/** Latest value per parameter, keyed by parameter name or its LOINC code (the newer wins if both). */
export type LatestVitals = Partial<Record<News2VitalParam | (typeof NEWS2_LOINC)[News2VitalParam], TimedValue>>;

export interface News2Settings {
  spo2Scale: Spo2Scale;
  /** Prescribed supplemental oxygen; undefined means not recorded, which makes the score incomplete. */
  onOxygen?: boolean;
  /** Latest ACVPU assessment. */
  consciousness?: TimedValue<Consciousness>;
  /** Freshness window for timed values, ms. */
  maxAgeMs?: number;
}

export interface News2LiveResult {
  algorithm: typeof NEWS2_ALGORITHM;
  complete: boolean;
  /** Aggregate 0–20, only when complete. */
  score: number | null;
  risk: News2Risk | null;
  /** Sum of the usable components: the true aggregate is at least this. */
  partialScore: number;
  /** Band of the usable components: the true band is at least this. Equals `risk` when complete. */
  minimumRisk: News2Risk;
  components: Partial<News2Components>;
  missing: News2Param[];
  stale: News2Param[];
  /** Timestamp (epoch ms) of the oldest value used: the score is as old as its oldest input. */
  oldestInputTs: number | null;
  now: number;
  rule: string;
}

const RULE =
  'all 7 NEWS2 parameters must be present and no older than the freshness window; otherwise complete=false, ' +
  'score=null and partialScore/minimumRisk are lower bounds from the usable parameters (missing never scores 0)';

function toMs(ts: TimedValue['ts']): number {
  return typeof ts === 'number' ? ts : new Date(ts).getTime();
}

const VITAL_SCORERS: Record<Exclude<News2VitalParam, 'spo2'>, (v: number) => number> = {
  respiratoryRate: scoreRespiratoryRate,
  systolicBP: scoreSystolicBP,
  pulse: scorePulse,
  temperature: scoreTemperature,
};

export function scoreNews2FromLatest(latest: LatestVitals, settings: News2Settings, now: number): News2LiveResult {
  const maxAgeMs = settings.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const components: Partial<News2Components> = {};
  const missing: News2Param[] = [];
  const stale: News2Param[] = [];
  const usedTs: number[] = [];

  /** Returns the value if usable, recording why not otherwise. */
  const usable = <T>(param: News2Param, tv: TimedValue<T> | undefined, valid: (v: T) => boolean): T | undefined => {
    if (!tv || !valid(tv.value)) {
      missing.push(param);
      return undefined;
    }
    const ts = toMs(tv.ts);
    if (!Number.isFinite(ts) || now - ts > maxAgeMs || ts - now > FUTURE_SKEW_MS) {
      stale.push(param);
      return undefined;
    }
    usedTs.push(ts);
    return tv.value;
  };
  const pick = (p: News2VitalParam): TimedValue | undefined => {
    const a = latest[p];
    const b = latest[NEWS2_LOINC[p]];
    if (!a || !b) return a ?? b;
    return toMs(b.ts) > toMs(a.ts) ? b : a;
  };
  const isNumber = (v: number) => typeof v === 'number' && Number.isFinite(v);

  // Chart order, so `missing`/`stale` read like the chart.
  const rr = usable('respiratoryRate', pick('respiratoryRate'), isNumber);
  if (rr !== undefined) components.respiratoryRate = VITAL_SCORERS.respiratoryRate(rr);

  const spo2 = usable('spo2', pick('spo2'), isNumber);
  // Scale 2's upper bands depend on oxygen, so scale-2 SpO2 ≥93 is unscorable without the oxygen setting.
  if (spo2 !== undefined) {
    if (settings.spo2Scale !== 2) components.spo2 = scoreSpo2Scale1(spo2);
    else if (settings.onOxygen !== undefined) components.spo2 = scoreSpo2Scale2(spo2, settings.onOxygen);
    else components.spo2 = scoreSpo2Scale2(spo2, false); // the air score is the lower bound (0 for ≥93)
  }

  if (settings.onOxygen === undefined) missing.push('airOrOxygen');
  else components.airOrOxygen = scoreAirOrOxygen(settings.onOxygen);

  for (const p of ['systolicBP', 'pulse'] as const) {
    const v = usable(p, pick(p), isNumber);
    if (v !== undefined) components[p] = VITAL_SCORERS[p](v);
  }

  const acvpu = usable('consciousness', settings.consciousness, (v) => ['A', 'C', 'V', 'P', 'U'].includes(v));
  if (acvpu !== undefined) components.consciousness = scoreConsciousness(acvpu);

  const temp = usable('temperature', pick('temperature'), isNumber);
  if (temp !== undefined) components.temperature = VITAL_SCORERS.temperature(temp);

  const complete = missing.length === 0 && stale.length === 0;
  const partialScore = sumComponents(components);
  const minimumRisk = news2Risk(partialScore, Object.values(components));
  return {
    algorithm: NEWS2_ALGORITHM,
    complete,
    score: complete ? partialScore : null,
    risk: complete ? minimumRisk : null,
    partialScore,
    minimumRisk,
    components,
    missing,
    stale,
    oldestInputTs: usedTs.length ? Math.min(...usedTs) : null,
    now,
    rule: RULE,
  };
}
