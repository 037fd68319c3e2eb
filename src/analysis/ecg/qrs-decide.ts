/**
 * The decision stage of the QRS detector: which MWI peaks are beats.
 * Adaptive threshold between running QRS and noise peak levels (Hamilton & Tompkins 1986, OSEA qrsdet2),
 * T-wave discrimination by slope (Pan & Tompkins 1985), search-back for missed beats, refractory period.
 */

export interface Candidate {
  /** Index of the moving-window-integral peak. */
  mwiIdx: number;
  /** Index of the R peak (largest band-passed deflection before the MWI peak). */
  rIdx: number;
  /** MWI peak height (mV per sample-span units, only compared with itself). */
  height: number;
  /** Largest |derivative| of the band-passed signal around the candidate. */
  slope: number;
  /** True when the candidate looks like a baseline step, not a QRS (OSEA BLSCheck). */
  baselineShift: boolean;
}

export interface Decider {
  candidate(c: Candidate): void;
  /** Called every sample: runs search-back timers and moves accepted beats to `out`. */
  tick(i: number, out: number[]): void;
  finish(i: number, out: number[]): void;
}

const THRESHOLD_FRACTION = 0.3125; // OSEA qrsdet2 TH: threshold = noise + 0.3125·(qrs − noise)
const HISTORY = 8; // peaks and RR intervals averaged (OSEA, Pan & Tompkins)
const INIT_S = 2; // s of signal used to learn the first QRS level
const REFRACTORY_S = 0.2; // s; no two beats closer than 200 ms (Pan & Tompkins)
const TWAVE_S = 0.36; // s; a peak within 360 ms of a beat may be its T wave (Pan & Tompkins)
const TWAVE_SLOPE = 0.5; // a T wave has less than half the QRS's maximum slope (Pan & Tompkins)
const SEARCHBACK_RR = 1.5; // search back after 1.5 mean RR without a beat (OSEA; PT use 1.66)
const SEARCHBACK_FRACTION = 0.5; // a recovered beat must exceed half the threshold (OSEA)
const MIN_SEARCHBACK_S = 0.6; // s
const MAX_SEARCHBACK_S = 2.5; // s; bounds the output delay in bradycardia and pauses
const RELEARN_DECAY = 0.7; // shrink the QRS level when nothing qualifies (lost amplitude, lead change)
const DEFAULT_RR_S = 0.8; // s, until intervals are known

/**
 * Settings of the decision stage that the evaluation may choose among (inside training folds only, see
 * scripts/eval/qrs-cv.ts); QRS_TUNING holds the shipped values, chosen by that same procedure on all
 * shipped mitdb records.
 */
export interface QrsTuning {
  /**
   * A beat recovered by search-back must be at least this steep relative to the running mean slope of
   * accepted QRS complexes (0 = no check). P and T waves are broad and slow; a missed QRS is small but steep.
   */
  searchbackSlope: number;
  /**
   * In a pause the QRS level relaxes (RELEARN_DECAY every 0.5 s) but never below this fraction of its level
   * at the last accepted beat (0 = no floor): a long pause must not lower the threshold to P-wave level.
   */
  decayFloor: number;
}

export const QRS_TUNING: QrsTuning = { searchbackSlope: 0.15, decayFloor: 0.5 }; // every nested-CV fold picks it too
/**
 * The candidate settings the evaluation chooses among. Fixed before any scoring: every entry has a slope
 * check and a decay floor, because without them a pause of 6 s or more lets the threshold fall to P-wave
 * level (synthetic test in qrs.test.ts: dozens of false beats), a physiological argument, not a data fit.
 */
export const QRS_TUNING_GRID: readonly QrsTuning[] = [0.15, 0.25, 0.4].flatMap((searchbackSlope) =>
  [0.25, 0.5].map((decayFloor) => ({ searchbackSlope, decayFloor })),
);
const REPLACE_SLOPE = 1.5; // a later peak this much steeper (and larger) than a just-accepted one replaces it
const REPLACE_S = 0.25; // s; … if within a P–R distance (PR interval ≤ 200 ms, plus the MWI spread)

class Buffer8 {
  private readonly v = new Float64Array(HISTORY);
  private i = 0;
  sum = 0;
  fill(x: number): void {
    this.v.fill(x);
    this.sum = x * HISTORY;
  }
  add(x: number): void {
    this.sum += x - this.v[this.i];
    this.v[this.i] = x;
    this.i = (this.i + 1) % HISTORY;
  }
  scale(k: number): void {
    for (let j = 0; j < HISTORY; j++) this.v[j] *= k;
    this.sum *= k;
  }
  mean(): number {
    return this.sum / HISTORY;
  }
  median(): number {
    const s = Array.from(this.v).sort((a, b) => a - b);
    return (s[HISTORY / 2 - 1] + s[HISTORY / 2]) / 2;
  }
}

/** `latency`: samples between a MWI peak and its candidate reaching the decider (peak + hold time). */
export function createDecider(fs: number, latency: number, tuning: QrsTuning = QRS_TUNING): Decider {
  const qrs = new Buffer8();
  const slopes = new Buffer8();
  let levelAtBeat = 0; // QRS level when the last beat was accepted (floor of the pause decay)
  const noise = new Buffer8();
  const rr = new Buffer8();
  rr.fill(DEFAULT_RR_S * fs);
  const initEnd = Math.round(INIT_S * fs);
  const refractory = REFRACTORY_S * fs;
  const twave = TWAVE_S * fs;
  let initializing = true;
  const initCands: Candidate[] = [];
  let last: Candidate | null = null;
  let sbList: Candidate[] = [];
  let nextCheck = Infinity;
  let queue: number[] = [];
  // The last accepted beat stays provisional for TWAVE_S: a steeper, larger peak in that time (the QRS
  // after a tall P wave) replaces it instead of being refused as too close.
  let provisional: Candidate | null = null;
  const emit = () => {
    if (provisional) queue.push(provisional.rIdx);
    provisional = null;
  };

  const threshold = () => {
    const n = noise.mean();
    return n + THRESHOLD_FRACTION * (qrs.mean() - n);
  };
  const searchbackInterval = () => Math.min(MAX_SEARCHBACK_S * fs, Math.max(MIN_SEARCHBACK_S * fs, SEARCHBACK_RR * rr.median()));

  let lastBefore: Candidate | null = null;
  function accept(c: Candidate): void {
    lastBefore = last;
    if (last) rr.add(c.mwiIdx - last.mwiIdx);
    qrs.add(c.height);
    if (slopes.sum === 0) slopes.fill(c.slope);
    else slopes.add(c.slope);
    levelAtBeat = qrs.mean();
    last = c;
    sbList = sbList.filter((s) => s.mwiIdx > c.mwiIdx);
    nextCheck = c.mwiIdx + searchbackInterval();
    emit();
    provisional = c;
  }

  function classify(c: Candidate): void {
    if (
      provisional &&
      provisional === last &&
      c.mwiIdx - provisional.mwiIdx < REPLACE_S * fs &&
      !c.baselineShift &&
      c.slope > REPLACE_SLOPE * provisional.slope &&
      c.height > provisional.height
    ) {
      provisional = null;
      last = lastBefore;
      accept(c);
      return;
    }
    const since = last ? c.mwiIdx - last.mwiIdx : Infinity;
    if (since < refractory) return;
    const tWave = since < twave && last !== null && c.slope < TWAVE_SLOPE * last.slope;
    if (c.height > threshold() && !c.baselineShift && !tWave) {
      accept(c);
      return;
    }
    noise.add(c.height);
    if (since >= twave && !c.baselineShift) sbList.push(c);
  }

  function searchBack(i: number): void {
    if (i < nextCheck) return;
    let best: Candidate | null = null;
    for (const s of sbList) {
      if (last && s.mwiIdx - last.mwiIdx < twave) continue;
      if (s.slope < tuning.searchbackSlope * slopes.mean()) continue;
      if (!best || s.height > best.height) best = s;
    }
    if (best && best.height > SEARCHBACK_FRACTION * threshold()) {
      accept(best);
      searchBack(i); // beats after the recovered one may also need recovering
      return;
    }
    // Nothing qualifies: the QRS level may be stale (amplitude drop); relax it toward the noise level.
    const n = noise.mean();
    const floor = tuning.decayFloor * levelAtBeat;
    if (qrs.mean() > 2 * n && qrs.mean() * RELEARN_DECAY >= floor) qrs.scale(RELEARN_DECAY);
    nextCheck = i + Math.round(0.5 * fs);
  }

  function finishInit(): void {
    initializing = false;
    // Level from the largest peaks of the learning period (OSEA uses per-second maxima).
    const heights = initCands.map((c) => c.height).sort((a, b) => b - a);
    const top = heights.slice(0, Math.max(1, Math.floor(heights.length / 2)));
    qrs.fill(top.length ? top[top.length - 1] : 0);
    noise.fill(0);
    nextCheck = searchbackInterval();
    for (const c of initCands) {
      searchBack(c.mwiIdx);
      classify(c);
    }
    initCands.length = 0;
  }

  return {
    candidate(c) {
      if (initializing) initCands.push(c);
      else classify(c);
    },
    tick(i, out) {
      if (initializing) {
        if (i >= initEnd) finishInit();
      } else searchBack(i - latency);
      if (provisional && i - latency >= provisional.mwiIdx + twave) emit();
      if (queue.length) {
        for (const b of queue) out.push(b);
        queue = [];
      }
    },
    finish(i, out) {
      if (initializing) finishInit();
      searchBack(i);
      emit();
      for (const b of queue) out.push(b);
      queue = [];
    },
  };
}
