/**
 * Streaming atrial-fibrillation detector from beat times (RR intervals), after Petrėnas et al. 2015
 * ("Low-complexity detection of atrial fibrillation in continuous long-term monitoring"): an 8-beat
 * median of successive RR differences, made robust to ectopic beats, smoothed by a longer median.
 *
 * Ectopic handling: each interval's irregularity is the smallest of |rr − rr₋ₖ| for k = 1…4, relative to
 * the local mean RR. An isolated premature beat, bigeminy (rr ≈ rr₋₂), trigeminy (rr ≈ rr₋₃) and
 * quadrigeminy (rr ≈ rr₋₄) then stay near zero, while AF (no RR pattern repeats) stays high.
 * Before that, ectopic beats are removed as in Petrėnas 2015's ectopic-beat filter: an interval premature
 * relative to the running median (< 0.9 × the median of the last 8 kept intervals) and followed by a
 * compensatory one (> 1.05 × that median) is dropped together with the compensatory interval, so the
 * irregularity is measured on the underlying rhythm. Extended here to runs of up to `AF_ECTOPIC_RUN`
 * consecutive premature intervals (atrial couplets and triplets) before the compensatory one. No sum
 * condition: atrial premature beats reset the sinus node, so their pause is not fully compensatory.
 * In AF, dropping such short-long groups leaves the remaining intervals as irregular as before.
 * The statistic for a beat uses beats on both sides, so decisions come about `AF_DELAY_BEATS` beats late
 * (more where ectopic beats were removed) and
 * episodes are back-dated to the beat the decision is about.
 */

import type { AfDecision, AfDetector, AfEpisode } from './af.ts';

const INNER_BEATS = 8; // Petrėnas 2015: 8-beat window
const OUTER_BEATS = 49; // smoothing median over ≈ 50 beats (odd: one centre beat)
export const AF_THRESHOLD = 0.018; // irregularity (fraction of mean RR); set once on all afdb records, never per record
const ECTOPIC_SHORT = 0.9; // premature: under 90 % of the recent median RR
const ECTOPIC_LONG = 1.05; // compensatory pause: over 105 % of it
const ECTOPIC_MEDIAN_BEATS = 8; // the running median: last 8 kept intervals
/** Longest run of consecutive premature intervals removed before a compensatory one (1 = isolated ectopic beats). */
export const AF_ECTOPIC_RUN = 3; // chosen of 1, 2, 3 on afdb (every leave-one-record-out fold picks 3); threshold kept at 0.018
const MIN_RR_S = 0.2; // s; shorter intervals are not physiological (noise detections)
const MAX_RR_S = 3; // s; longer intervals are pauses or missed beats
export const AF_DELAY_BEATS = AF_ECTOPIC_RUN + INNER_BEATS / 2 + (OUTER_BEATS - 1) / 2;

/** The baseline's decision: the common AF decision plus its irregularity statistic. */
export interface PetrenasUpdate extends AfDecision {
  /** Irregularity statistic of that beat (fraction of the mean RR). */
  irregularity: number;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export interface AfOptions {
  /** Irregularity threshold (default AF_THRESHOLD). */
  threshold?: number;
  /** Longest run of premature intervals the ectopic filter removes (default AF_ECTOPIC_RUN; 0 = no filter). */
  ectopicRun?: number;
}

export function createAfDetector(opts: { fs: number } & AfOptions): AfDetector<PetrenasUpdate> {
  const { fs } = opts;
  const THRESHOLD = opts.threshold ?? AF_THRESHOLD;
  const RUN = opts.ectopicRun ?? AF_ECTOPIC_RUN;
  const CENTRE = INNER_BEATS / 2 + (OUTER_BEATS - 1) / 2; // kept intervals between the newest and the one decided
  const beats: number[] = []; // recent beat times, trimmed
  const rr: number[] = []; // recent kept RR (s), after the ectopic filter
  const pending: Array<{ r: number; at: number }> = []; // the newest RUN intervals (and their end beats), which may still turn out to be ectopic
  const irrAt: number[] = []; // end beat of the interval each irregularity value belongs to
  const irr: number[] = []; // per-beat irregularity
  const inner: number[] = []; // 8-beat medians
  let offset = 0; // global index of beats[0]
  let inAf = false;
  let openStart = -1;
  let lastDecided = -1;
  const episodes: AfEpisode[] = [];

  function trim(): void {
    const keep = OUTER_BEATS + INNER_BEATS + 8;
    if (beats.length > 4 * keep) {
      const drop = beats.length - keep;
      beats.splice(0, drop);
      offset += drop;
      rr.splice(0, Math.max(0, rr.length - keep));
      irr.splice(0, Math.max(0, irr.length - keep));
      irrAt.splice(0, Math.max(0, irrAt.length - keep));
      inner.splice(0, Math.max(0, inner.length - keep));
    }
  }

  return {
    get inAf() {
      return inAf;
    },
    episodes,
    push(beat) {
      const prev = beats[beats.length - 1];
      if (prev !== undefined && beat <= prev) return null;
      const r = prev === undefined ? NaN : (beat - prev) / fs;
      if (prev !== undefined && r < MIN_RR_S) return null; // drop a noise detection
      beats.push(beat);
      if (!(r <= MAX_RR_S)) {
        // Start (or a gap): irregularity is undefined across it.
        rr.length = 0;
        pending.length = 0;
        return null;
      }
      // Ectopic filter: premature interval(s) at the end of `pending` followed by a compensatory one are dropped.
      let k = 0;
      if (RUN > 0 && rr.length >= ECTOPIC_MEDIAN_BEATS) {
        const m = median(rr.slice(-ECTOPIC_MEDIAN_BEATS));
        if (r > ECTOPIC_LONG * m) while (k < pending.length && pending[pending.length - 1 - k].r < ECTOPIC_SHORT * m) k++;
      }
      if (k > 0) pending.length -= k;
      else pending.push({ r, at: beat });
      while (pending.length > RUN) {
        const kept = pending.shift()!;
        rr.push(kept.r);
        const j = rr.length - 1;
        // The kept interval's irregularity: the smallest difference to one of the 4 kept before it.
        if (j >= 4) {
          const v = rr[j];
          const loc = (rr[j - 1] + rr[j - 2] + rr[j - 3]) / 3;
          const d = Math.min(Math.abs(v - rr[j - 1]), Math.abs(v - rr[j - 2]), Math.abs(v - rr[j - 3]), Math.abs(v - rr[j - 4]));
          irr.push(d / loc);
          irrAt.push(kept.at);
          if (irr.length >= INNER_BEATS) inner.push(median(irr.slice(-INNER_BEATS)));
        }
      }
      let update: PetrenasUpdate | null = null;
      if (inner.length >= OUTER_BEATS) {
        const stat = median(inner.slice(-OUTER_BEATS));
        // The statistic describes the kept beat at the centre of its windows (about AF_DELAY_BEATS beats back;
        // more when the ectopic filter removed beats in between).
        const at = irrAt[Math.max(0, irrAt.length - 1 - CENTRE)];
        const now = stat > THRESHOLD;
        update = { beat: at, inAf: now, irregularity: stat, confidence: Math.min(1, Math.abs(Math.log(stat / THRESHOLD)) / Math.LN2) };
        if (now && !inAf) {
          openStart = at;
          update.episodeStarted = at;
        } else if (!now && inAf) {
          episodes.push({ start: openStart, end: at });
          update.episodeEnded = at;
        }
        inAf = now;
        lastDecided = at;
      }
      trim();
      void offset;
      return update;
    },
    finish() {
      if (inAf) {
        const end = beats[beats.length - 1] ?? lastDecided;
        episodes.push({ start: openStart, end });
        inAf = false;
      }
      return episodes;
    },
  };
}

/** Whole-record convenience: AF episodes (sample intervals) from ascending beat times. */
export function detectAfEpisodes(beats: readonly number[], fs: number, threshold?: number, opts: AfOptions = {}): AfEpisode[] {
  const det = createAfDetector({ fs, threshold, ...opts });
  for (const b of beats) det.push(b);
  return det.finish();
}
