import { BY_CODE } from '../domain/codes.ts';
import type { RuleDefinition, Severity } from './rule-schema.ts';

/**
 * The pure rule engine: `evaluate(state, signal, rule, now) → { state, transition }`. No I/O, no clock:
 * the alert service keeps the state per (patient, rule, subject) and turns transitions into alerts.
 */
export type Signal =
  | { type: 'reading'; patientId: string; deviceId: string | null; code: string; value: number; ts: number }
  | { type: 'news2'; patientId: string; score: number | null; risk: string | null; minimumRisk: string; complete: boolean }
  | { type: 'device'; patientId: string; deviceId: string; online: boolean; battery?: number }
  | { type: 'af'; patientId: string; deviceId?: string | null; state: 'start' | 'end' }
  | { type: 'vf'; patientId: string; deviceId?: string | null; state: 'start' | 'end' }
  /** `quietMs` (threshold rules): how long, by the server's clock, since this state last heard a reading. */
  | { type: 'tick'; quietMs?: number };

export interface RuleState {
  /** An alert is open for this condition. */
  firing: boolean;
  /** When the condition began (pending before firing), ms. */
  since: number | null;
  /** While firing: when the value first crossed back past the clear level, ms. */
  clearSince: number | null;
  /** Time of the last signal that fed this state, ms (gaps reset a pending condition). */
  lastTs: number | null;
  severity: Severity | null;
  value: number | null;
  /** Recent (ts, value) points for trend and rate-of-change rules. */
  points: Array<[number, number]>;
}

export type Transition =
  | { action: 'raise'; severity: Severity; value: number | null; message: string }
  | { action: 'update'; severity: Severity; value: number | null; message: string }
  | { action: 'clear'; note: string };

export interface Evaluation {
  state: RuleState;
  transition: Transition | null;
}

/** A pending condition is forgotten after a gap in the data this long: it cannot be said to have held, ms. */
export const MAX_PENDING_GAP_MS = 10 * 60_000;

export const initialState = (): RuleState => ({ firing: false, since: null, clearSince: null, lastTs: null, severity: null, value: null, points: [] });

// The words a nurse reads in an alert, an email subject and a push (found by review: "TEMP 38.8 Cel", "SPO2").
const SHOWN_LABEL: Record<string, string> = {
  hr: 'Heart rate',
  spo2: 'SpO₂',
  rr: 'Respiratory rate',
  sbp: 'Systolic BP',
  dbp: 'Diastolic BP',
  temp: 'Temperature',
  glucose: 'Glucose',
  weight: 'Weight',
  steps: 'Steps',
};
const SHOWN_UNIT: Record<string, string> = { 'mm[Hg]': 'mmHg', Cel: '°C', '{steps}': 'steps' };
const label = (code: string) => {
  const key = BY_CODE.get(code)?.key;
  return key ? (SHOWN_LABEL[key] ?? key) : code;
};
const unitOf = (code: string) => {
  const unit = BY_CODE.get(code)?.unit ?? '';
  return SHOWN_UNIT[unit] ?? unit;
};
const fmt = (v: number, code: string) => `${Math.round(v * 10) / 10} ${unitOf(code)}`.trim();
const minutes = (ms: number) =>
  ms >= 86_400_000 ? `${Math.round(ms / 86_400_000)} d` : ms >= 3_600_000 ? `${Math.round(ms / 3_600_000)} h` : `${Math.round(ms / 60_000)} min`;

/** Does this signal concern this rule at all? (cheap pre-filter before evaluate). */
export function accepts(rule: RuleDefinition, s: Signal): boolean {
  switch (rule.kind) {
    case 'threshold':
    case 'rate-of-change':
    case 'glucose':
      return s.type === 'reading' && s.code === rule.code;
    case 'news2':
      return s.type === 'news2';
    case 'af':
      return s.type === 'af';
    case 'vf':
      return s.type === 'vf';
    case 'missing-data':
      return (s.type === 'reading' && !!s.deviceId) || s.type === 'tick';
    case 'device-offline':
      return s.type === 'device' || s.type === 'tick';
    case 'battery-low':
      return s.type === 'device' && typeof s.battery === 'number';
  }
}

/** Device-level rules keep one alert per device; the others one per patient. */
export function subjectOf(rule: RuleDefinition, s: Signal): string {
  if (rule.kind === 'missing-data' || rule.kind === 'device-offline' || rule.kind === 'battery-low') {
    return s.type === 'reading' ? (s.deviceId ?? '') : s.type === 'device' ? s.deviceId : '';
  }
  return '';
}

export function evaluate(prev: RuleState | undefined, s: Signal, rule: RuleDefinition, now: number): Evaluation {
  const state = { ...(prev ?? initialState()) };
  switch (rule.kind) {
    case 'threshold':
      return s.type === 'reading' ? threshold(state, s, rule) : s.type === 'tick' ? thresholdQuiet(state, s.quietMs ?? 0, rule) : { state, transition: null };
    case 'news2':
      return s.type === 'news2' ? news2(state, s, rule) : { state, transition: null };
    case 'rate-of-change':
      return s.type === 'reading' ? rateOfChange(state, s, rule) : { state, transition: null };
    case 'glucose':
      return s.type === 'reading' ? glucose(state, s, rule) : { state, transition: null };
    case 'af':
      return s.type === 'af'
        ? rhythmEpisode(state, s.state, rule.severity, 'Atrial fibrillation episode detected on ECG', 'AF episode ended (sinus rhythm on ECG)')
        : { state, transition: null };
    case 'vf':
      return s.type === 'vf'
        ? rhythmEpisode(state, s.state, rule.severity, 'Ventricular fibrillation/flutter detected on ECG', 'VF/flutter ended on ECG')
        : { state, transition: null };
    case 'missing-data':
      return missingData(state, s, rule, now);
    case 'device-offline':
      return deviceOffline(state, s, rule, now);
    case 'battery-low':
      return s.type === 'device' ? battery(state, s, rule) : { state, transition: null };
  }
}

function raiseOrUpdate(state: RuleState, severity: Severity, value: number | null, message: string): Evaluation {
  const action = state.firing ? 'update' : 'raise';
  state.firing = true;
  state.clearSince = null;
  state.severity = severity;
  state.value = value;
  return { state, transition: { action, severity, value, message } };
}

function clear(state: RuleState, note: string): Evaluation {
  Object.assign(state, { firing: false, since: null, clearSince: null, severity: null });
  return { state, transition: { action: 'clear', note } };
}

type Def<K extends RuleDefinition['kind']> = Extract<RuleDefinition, { kind: K }>;
type ReadingSignal = Extract<Signal, { type: 'reading' }>;

/** Built only for a transition: most readings change nothing, and this text per reading was a measurable share of ingest's garbage. */
const thresholdMessage = (r: Def<'threshold'>, value: number) =>
  `${label(r.code)} ${fmt(value, r.code)} (alarm ${r.op} ${fmt(r.value, r.code)}${r.forMs ? ` for ${minutes(r.forMs)}` : ''}; clears ${r.op === 'below' ? 'above' : 'below'} ${fmt(r.clearAt, r.code)})`;

const pastLimit = (r: Def<'threshold'>, v: number) => (r.op === 'below' ? v < r.value : v > r.value);

/** Threshold with hysteresis and minimum duration: the band between value and clearAt holds the state. */
function threshold(state: RuleState, s: ReadingSignal, r: Def<'threshold'>): Evaluation {
  if (state.lastTs !== null && s.ts < state.lastTs) return { state, transition: null }; // late (backfilled) reading: history, not the present
  const breach = pastLimit(r, s.value);
  const cleared = r.op === 'below' ? s.value > r.clearAt : s.value < r.clearAt;
  if (state.lastTs !== null && s.ts - state.lastTs > MAX_PENDING_GAP_MS && !state.firing) state.since = null;
  state.lastTs = Math.max(state.lastTs ?? s.ts, s.ts);
  if (!state.firing) {
    if (breach) {
      state.since ??= s.ts;
      if (s.ts - state.since >= r.forMs) return raiseOrUpdate(state, r.severity, s.value, thresholdMessage(r, s.value));
      // Between the limit and the clear level the wait goes on (a saturation swinging 88–91 for half an hour is
      // a desaturation, not a run of blips); it raises only on a reading past the limit, and restarts only past clearAt.
    } else if (cleared) state.since = null;
    state.value = s.value;
    return { state, transition: null };
  }
  if (cleared) {
    state.clearSince ??= s.ts;
    if (s.ts - state.clearSince >= r.clearForMs) return clear(state, `${label(r.code)} back to ${fmt(s.value, r.code)} (past ${fmt(r.clearAt, r.code)})`);
    state.value = s.value;
    return { state, transition: null };
  }
  state.clearSince = null;
  if (state.value === s.value) return { state, transition: null };
  return raiseOrUpdate(state, state.severity ?? r.severity, s.value, thresholdMessage(r, s.value));
}

/**
 * The last reading stands until another says otherwise. A spot reading past the limit (a patient's one
 * SpO2 of 80 %, readings 15 min apart) has no next reading within forMs to complete the wait, and never
 * raised (found by review); a lone reading back in range never cleared. The periodic tick completes both:
 * the time the condition held up to the last reading (device clock) plus the quiet since it arrived (server
 * clock, so a device clock that is off does not shorten the wait).
 */
function thresholdQuiet(state: RuleState, quietMs: number, r: Def<'threshold'>): Evaluation {
  if (state.lastTs === null || state.value === null) return { state, transition: null };
  if (!state.firing && pastLimit(r, state.value) && state.since !== null && state.lastTs - state.since + quietMs >= r.forMs)
    return raiseOrUpdate(state, r.severity, state.value, thresholdMessage(r, state.value));
  if (state.firing && state.clearSince !== null && state.lastTs - state.clearSince + quietMs >= r.clearForMs)
    return clear(state, `${label(r.code)} back to ${fmt(state.value, r.code)} (past ${fmt(r.clearAt, r.code)})`);
  return { state, transition: null };
}

const BAND_ORDER = ['low', 'low-medium', 'medium', 'high'];

/** NEWS2 band: uses the lower bound when incomplete (it may raise, never suppress); clears only on a complete score. */
function news2(state: RuleState, s: Extract<Signal, { type: 'news2' }>, r: Def<'news2'>): Evaluation {
  const band = s.risk ?? s.minimumRisk;
  const severity = (r.bands as Record<string, Severity | undefined>)[band];
  const value = s.score;
  const msg = `NEWS2 ${s.complete ? s.score : `≥ ${band} (incomplete)`} — ${band} risk`;
  if (severity) {
    if (state.firing && state.severity === severity && state.value === value) return { state, transition: null };
    // An incomplete score is a lower bound: never let it downgrade an alert raised on better information.
    const firedBand = state.points[0]?.[1] ?? -1; // the band index the alert stands at
    if (state.firing && !s.complete && BAND_ORDER.indexOf(band) < firedBand) return { state, transition: null };
    state.points = [[0, BAND_ORDER.indexOf(band)]];
    return raiseOrUpdate(state, severity, value, msg);
  }
  if (state.firing && s.complete) return clear(state, `NEWS2 now ${s.score} (${band} risk)`);
  return { state, transition: null };
}

function rateOfChange(state: RuleState, s: ReadingSignal, r: Def<'rate-of-change'>): Evaluation {
  state.points = [...state.points, [s.ts, s.value] as [number, number]].filter(([t]) => s.ts - t <= r.windowMs && t <= s.ts).sort((a, b) => a[0] - b[0]);
  const values = state.points.map(([, v]) => v);
  const change = r.delta > 0 ? s.value - Math.min(...values) : s.value - Math.max(...values);
  const fires = r.delta > 0 ? change >= r.delta : change <= r.delta;
  if (fires) {
    if (state.firing && state.value === s.value) return { state, transition: null };
    return raiseOrUpdate(
      state,
      r.severity,
      s.value,
      `${label(r.code)} ${change > 0 ? '+' : ''}${fmt(change, r.code)} within ${minutes(r.windowMs)} (now ${fmt(s.value, r.code)})`,
    );
  }
  if (state.firing) return clear(state, `${label(r.code)} change within ${minutes(r.windowMs)} now ${fmt(change, r.code)}`);
  return { state, transition: null };
}

/** Least-squares slope of (ts, value) points, per ms; null with fewer than 3 points or < 5 min span. */
export function trendSlope(points: Array<[number, number]>): number | null {
  if (points.length < 3 || points[points.length - 1]![0] - points[0]![0] < 5 * 60_000) return null;
  const n = points.length;
  const mt = points.reduce((a, [t]) => a + t, 0) / n;
  const mv = points.reduce((a, [, v]) => a + v, 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of points) {
    num += (t - mt) * (v - mv);
    den += (t - mt) ** 2;
  }
  return den === 0 ? null : num / den;
}

/** Glucose low (< 70 warning, < 54 critical), high (> 250), and predicted low from the linear trend. */
function glucose(state: RuleState, s: ReadingSignal, r: Def<'glucose'>): Evaluation {
  const late = state.lastTs !== null && s.ts < state.lastTs;
  const latest = Math.max(state.lastTs ?? s.ts, s.ts);
  state.lastTs = latest;
  state.points = [...state.points, [s.ts, s.value] as [number, number]].filter(([t]) => latest - t <= r.trendWindowMs).sort((a, b) => a[0] - b[0]);
  if (late) return { state, transition: null }; // a backfilled reading refines the trend but is not the present value
  const v = s.value;
  const slope = trendSlope(state.points);
  const projected = slope === null ? null : v + slope * r.predictHorizonMs;
  const g = (x: number) => fmt(x, r.code);
  let finding: { severity: Severity; message: string } | null = null;
  if (v < r.urgentLow) finding = { severity: 'critical', message: `Urgent low glucose ${g(v)} (< ${g(r.urgentLow)})` };
  else if (v < r.low) finding = { severity: 'warning', message: `Low glucose ${g(v)} (< ${g(r.low)})` };
  else if (v > r.high) finding = { severity: 'warning', message: `High glucose ${g(v)} (> ${g(r.high)})` };
  else if (projected !== null && slope! < 0 && projected < r.low) {
    finding = {
      severity: 'warning',
      // When it reaches the low limit at this rate, not where the line ends (it printed "-168 mg/dL in 30 min").
      message: `Predicted low: glucose ${g(v)} falling ${g(-slope! * 60_000)}/min, below ${g(r.low)} in about ${minutes(Math.max(60_000, (v - r.low) / -slope!))}`,
    };
  }
  if (finding) {
    if (state.firing && state.severity === finding.severity && state.value === v) return { state, transition: null };
    return raiseOrUpdate(state, finding.severity, v, finding.message);
  }
  // Hysteresis: in range by clearMargin, no projected low within the margin either, held for clearForMs.
  const inRange = v > r.low + r.clearMargin && v < r.high - r.clearMargin && (projected === null || projected >= r.low + r.clearMargin);
  if (!state.firing || !inRange) {
    state.clearSince = null;
    return { state, transition: null };
  }
  state.clearSince ??= s.ts;
  if (s.ts - state.clearSince >= r.clearForMs) return clear(state, `Glucose back in range: ${g(v)}`);
  return { state, transition: null };
}

/** A rhythm episode reported by the ECG analysis (AF, VF): open on start, resolve on end. */
function rhythmEpisode(state: RuleState, edge: 'start' | 'end', severity: Severity, started: string, ended: string): Evaluation {
  if (edge === 'start') return state.firing ? { state, transition: null } : raiseOrUpdate(state, severity, null, started);
  return state.firing ? clear(state, ended) : { state, transition: null };
}

/** Missing data: `lastTs` is when the device last delivered (server time); the tick raises after afterMs of silence. */
function missingData(state: RuleState, s: Signal, r: Def<'missing-data'>, now: number): Evaluation {
  if (s.type === 'reading') {
    state.lastTs = now;
    return state.firing ? clear(state, 'Data arriving again') : { state, transition: null };
  }
  if (s.type !== 'tick' || state.firing || state.lastTs === null) return { state, transition: null };
  const silent = now - state.lastTs;
  if (silent >= r.afterMs && silent < r.activeWithinMs)
    return raiseOrUpdate(state, r.severity, null, `No data for ${minutes(silent)} from a device that should be sending`);
  return { state, transition: null };
}

function deviceOffline(state: RuleState, s: Signal, r: Def<'device-offline'>, now: number): Evaluation {
  if (s.type === 'device') {
    if (s.online) {
      state.since = null;
      return state.firing ? clear(state, 'Device back online') : { state, transition: null };
    }
    state.since ??= now;
  }
  if (!state.firing && state.since !== null && now - state.since >= r.forMs)
    return raiseOrUpdate(state, r.severity, null, `Device offline for ${minutes(now - state.since)}`);
  return { state, transition: null };
}

function battery(state: RuleState, s: Extract<Signal, { type: 'device' }>, r: Def<'battery-low'>): Evaluation {
  const b = s.battery!;
  if (b < r.below && !state.firing) return raiseOrUpdate(state, r.severity, b, `Battery low: ${b} %`);
  if (b > r.clearAt && state.firing) return clear(state, `Battery at ${b} %`);
  return { state, transition: null };
}
