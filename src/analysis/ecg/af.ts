/**
 * Streaming atrial-fibrillation detector from beat times (RR intervals only), learned: small gradient-
 * boosted trees (gbt.ts) over the RR-window features of af-features.ts, trained on the Long Term AF
 * Database and afdb by scripts/train-ecg.ts (parameters in model/af-rr-gbt.json; the decision threshold is
 * chosen by the same procedure that the nested cross-validation in scripts/eval/af.ts scores).
 *
 * Each RR interval is decided from the window of AF_WINDOW_HALF intervals either side of it, so a decision
 * arrives AF_WINDOW_HALF beats late and episodes are back-dated to the beat they concern. Intervals under
 * AF_MIN_RR_S are noise detections (the beat is skipped); over AF_MAX_RR_S the window restarts (pause or
 * lost signal) and the AF state is held until the next decision.
 * The earlier rule-based detector (Petrėnas 2015 with an ectopic filter) stays in af-petrenas.ts as the
 * baseline the evaluation reports beside this one.
 */
import { createRequire } from 'node:module';
import { AF_FEATURE_NAMES, AF_WINDOW_HALF, createRrFeatureFeed } from './af-features.ts';

export { createRrFeatureFeed };
import { evalTree, type GbtModel } from './gbt.ts';

/**
 * Candidate smoothing half-widths the choice procedure picks from (scripts/eval/af-choose.ts). At most 20:
 * an episode's end is decided about AF_WINDOW_HALF + smooth beats after the probability falls, and a nurse
 * should see AF end within about a minute. Measured on the simulator's 150 s AF episode followed by 60 s of
 * sinus rhythm at 72/min (the monitoring tests' stream): with ±40 and a hysteresis off threshold, or ±60, the
 * end came after the stream had stopped; with ±20 it was decided 40–50 s after the true end.
 */
export const AF_SMOOTH_GRID = [0, 10, 20] as const;

/**
 * Candidate gaps between the threshold that opens an episode and the lower one that ends it (hysteresis,
 * chosen with them): a dip of the probability inside an episode does not end it, a short rise outside one
 * does not start it, without the delay of a wider smoothing.
 */
export const AF_HYSTERESIS_GRID = [0, 0.1, 0.2] as const;

export interface AfModel extends GbtModel {
  /** Probability of AF above which an interval is called AF (chosen on training records only). */
  threshold: number;
  /**
   * Half-width (decisions) of the centred moving average applied to the probabilities before the threshold
   * (chosen with it). Clinical AF lasts ≥ 30 s; averaging stops single dips from splitting an episode.
   */
  smooth: number;
  /** Probability at or below which an open episode ends (≤ threshold; absent: the threshold itself). */
  offThreshold?: number;
}

/** What every AF detector's decision carries (this one and the Petrėnas baseline in af-petrenas.ts). */
export interface AfDecision {
  /** The beat this decision is about (a past beat: decisions come afDelayBeats() beats late). */
  beat: number;
  inAf: boolean;
  /** 0–1 confidence of the decision: distance of the detector's statistic from its threshold. */
  confidence: number;
  episodeStarted?: number;
  episodeEnded?: number;
}

/** This detector's decision: the end of the decided interval, with the model's AF probability. */
export interface AfUpdate extends AfDecision {
  /** Model probability of AF for that interval (after smoothing). */
  probability: number;
}

export interface AfEpisode {
  start: number;
  end: number;
}

/** A streaming AF detector from beat times, generic over the decision it reports. */
export interface AfDetector<U extends AfDecision = AfUpdate> {
  /** Feeds the next beat (sample index, ascending); returns a decision when one becomes available. */
  push(beat: number): U | null;
  /** Ends the stream; closes an open episode at the last beat. */
  finish(): AfEpisode[];
  readonly inAf: boolean;
  readonly episodes: readonly AfEpisode[];
}

/**
 * The model's AF probability for one feature vector: gbt.ts predictProba's arithmetic for two classes, step
 * for step (so the very same value), without its per-call arrays — the detector's and the evaluation's hot path.
 */
export function afProbability(model: GbtModel, x: ArrayLike<number>): number {
  let z0 = model.base[0],
    z1 = model.base[1];
  for (const round of model.trees) {
    // Class 0's trees are single zero leaves (gbt.ts: two classes fit one logistic tree): adding 0 changes nothing.
    if (round[0].feature[0] >= 0 || round[0].value[0] !== 0) z0 += evalTree(round[0], x);
    z1 += evalTree(round[1], x);
  }
  const m = Math.max(z0, z1);
  const e0 = Math.exp(z0 - m),
    e1 = Math.exp(z1 - m);
  return e1 / (0 + e0 + e1);
}

let cached: AfModel | undefined;

/** The bundled model (loaded once). */
export function defaultAfModel(): AfModel {
  if (!cached) {
    const m = createRequire(import.meta.url)('./model/af-rr-gbt.json') as AfModel;
    if (m.features.join() !== AF_FEATURE_NAMES.join()) throw new Error('AF model does not match the RR feature set: retrain with scripts/train-ecg.ts --af');
    cached = m;
  }
  return cached;
}

/**
 * Turns per-interval AF probabilities (in order) into decisions and episodes: centred moving average over
 * ±`smooth` decisions, then the thresholds (an episode opens above `threshold` and closes at or below
 * `offThreshold`). Shared by the detector and the evaluation, so both decide alike.
 */
export class AfDecisions {
  private readonly p: number[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private sum = 0;
  inAf = false;
  private openStart = -1;
  lastDecided = -1;
  readonly episodes: AfEpisode[] = [];

  constructor(
    private readonly threshold: number,
    private readonly smooth: number,
    private readonly offThreshold: number = threshold,
  ) {
    if (!(offThreshold <= threshold)) throw new RangeError(`AF off threshold ${offThreshold} is above the on threshold ${threshold}`);
  }

  /** Adds the probability of the interval [start, end); returns the decision about the interval `smooth` places back. */
  push(prob: number, start: number, end: number): AfUpdate | null {
    this.p.push(prob);
    this.starts.push(start);
    this.ends.push(end);
    this.sum += prob;
    const w = 2 * this.smooth + 1;
    if (this.p.length > w) {
      this.sum -= this.p.shift()!;
      this.starts.shift();
      this.ends.shift();
    }
    if (this.p.length < Math.min(w, this.smooth + 1)) return null;
    // Centre of the window (at the start, before the window fills, the earliest decisions use a shorter one).
    const c = Math.max(0, this.p.length - 1 - this.smooth);
    return this.decide(this.sum / this.p.length, this.starts[c], this.ends[c]);
  }

  private decide(p: number, start: number, end: number): AfUpdate {
    const t = this.inAf ? this.offThreshold : this.threshold; // the threshold that would change the state
    const now = p > t;
    const update: AfUpdate = {
      beat: end,
      inAf: now,
      probability: p,
      confidence: Math.min(1, Math.abs(p - t) / Math.max(t, 1 - t)),
    };
    if (now && !this.inAf) {
      this.openStart = start;
      update.episodeStarted = start;
    } else if (!now && this.inAf) {
      this.episodes.push({ start: this.openStart, end: start });
      update.episodeEnded = start;
    }
    this.inAf = now;
    this.lastDecided = end;
    return update;
  }

  /** Closes an open episode at `lastBeat`. */
  finish(lastBeat: number): AfEpisode[] {
    if (this.inAf) {
      this.episodes.push({ start: this.openStart, end: Math.max(lastBeat, this.lastDecided) });
      this.inAf = false;
    }
    return this.episodes;
  }
}

/** Beats of delay of a decision: the feature window's half plus the smoothing half-width. */
export const afDelayBeats = (model: AfModel = defaultAfModel()): number => AF_WINDOW_HALF + model.smooth;

export function createAfDetector(opts: { fs: number; model?: AfModel; threshold?: number }): AfDetector {
  const model = opts.model ?? defaultAfModel();
  // An explicit threshold replaces both (no hysteresis); otherwise the model's pair.
  const on = opts.threshold ?? model.threshold;
  const decisions = new AfDecisions(on, model.smooth ?? 0, opts.threshold === undefined ? (model.offThreshold ?? on) : on);
  let lastBeat = -1;
  let update: AfUpdate | null = null;
  const feed = createRrFeatureFeed(opts.fs, (features, start, end) => {
    const u = decisions.push(afProbability(model, features), start, end);
    if (u) update = u;
  });
  return {
    get inAf() {
      return decisions.inAf;
    },
    episodes: decisions.episodes,
    push(beat) {
      update = null;
      if (beat > lastBeat) lastBeat = beat;
      feed(beat);
      return update;
    },
    finish() {
      return decisions.finish(lastBeat);
    },
  };
}

/** Whole-record convenience: AF episodes (sample intervals) from ascending beat times. */
export function detectAfEpisodes(beats: readonly number[], fs: number, opts: { model?: AfModel; threshold?: number } = {}): AfEpisode[] {
  const det = createAfDetector({ fs, ...opts });
  for (const b of beats) det.push(b);
  return det.finish();
}
