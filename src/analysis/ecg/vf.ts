/**
 * Streaming ventricular flutter / fibrillation (VF/VFL) detector. Two published time-domain measures
 * of how "sine-like and everywhere-large" the ECG is, computed every second on a 3-s window centred on
 * that second of the lightly band-passed (1–30 Hz) signal:
 *
 * - TCSC, threshold-crossing sample count (Arafat, Chowdhury & Hasan 2011, "A simple time domain
 *   algorithm for the detection of ventricular fibrillation in electrocardiogram"): the window is scaled
 *   by its largest |x| and the share of samples above V0 = 0.2 is counted. Narrow QRS complexes on a
 *   flat baseline give a small share (≈ 0.05–0.2); flutter and fibrillation waves fill the window (> 0.5).
 * - VF-filter leakage (Kuo & Dillman 1978; as evaluated by Amann, Tratnig & Unterkofler 2005): the mean
 *   half period N = round(π·Σ|x| / Σ|Δx|) is estimated, and the leakage Σ|x_i + x_{i−N}| / Σ(|x_i| + |x_{i−N}|)
 *   measures what a notch at that frequency lets through: small for a near-sinusoid (VF/VFL), large for
 *   QRS complexes, which are not periodic at one frequency.
 *
 * A second enters VF when both are clearly VF-like (TCSC > 0.4, leakage < 0.5) and the dominant frequency
 * fs/(2N) lies in the 2–9 Hz band of fibrillation/flutter waves (120–540 /min); it stays in VF while a
 * looser test holds (TCSC > 0.3, leakage < 0.625), so the episode is not broken by a coarser stretch.
 * Thresholds: V0 = 0.2 is Arafat's; the rest were set once on the shipped MIT-BIH records (the only VF
 * there is record 207), never per record, from at most 4 values each.
 *
 * Decisions about second b are available once the signal up to b + 2 s has been seen. Pure state
 * machine over pushed samples; no I/O.
 */

export const VF_BLOCK_S = 1; // decision granularity
export const VF_WINDOW_S = 3; // analysis window, centred on the block (Arafat 2011: 3 s)
const TCSC_V0 = 0.2; // Arafat 2011: threshold as a fraction of the window's max |x|
const ON_TCSC = 0.4;
const ON_LEAKAGE = 0.45;
const KEEP_TCSC = 0.3;
const KEEP_LEAKAGE = 0.7;
const MIN_VF_HZ = 2; // fibrillation/flutter wave frequency band
const MAX_VF_HZ = 9;
const MIN_RANGE_MV = 0.1; // a window smaller than this (flat line) is never VF

export interface VfEpisode {
  /** Sample interval [start, end) of the episode (block boundaries). */
  start: number;
  end: number;
}

export interface VfBlock {
  /** First sample of the block. */
  start: number;
  inVf: boolean;
  tcsc: number;
  leakage: number;
  /** Dominant frequency estimate fs/(2N), Hz. */
  frequency: number;
}

export interface VfDetectorState {
  readonly inVf: boolean;
  /** Samples before this index have a VF decision. */
  readonly decidedUntil: number;
  readonly episodes: readonly VfEpisode[];
  /** Start of the open episode, or -1. */
  readonly openStart: number;
}

/** Features of one window (pure; exported for tests and the evaluation). */
export function vfFeatures(x: ArrayLike<number>, from: number, to: number, fs: number): { tcsc: number; leakage: number; frequency: number; range: number } {
  let max = 0,
    lo = Infinity,
    hi = -Infinity;
  for (let i = from; i < to; i++) {
    const v = x[i];
    const a = v < 0 ? -v : v;
    if (a > max) max = a;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const th = TCSC_V0 * max;
  let count = 0,
    s1 = 0,
    s2 = 0;
  for (let i = from; i < to; i++) {
    const v = x[i];
    const a = v < 0 ? -v : v;
    if (a > th) count++;
    if (i > from) {
      s1 += a;
      const d = v - x[i - 1];
      s2 += d < 0 ? -d : d;
    }
  }
  const n = to - from;
  const N = s2 > 0 ? Math.max(1, Math.floor((Math.PI * s1) / s2 + 0.5)) : 1;
  let num = 0,
    den = 0;
  for (let i = from + N; i < to; i++) {
    const v = x[i],
      w = x[i - N];
    const s = v + w;
    num += s < 0 ? -s : s;
    den += (v < 0 ? -v : v) + (w < 0 ? -w : w);
  }
  return { tcsc: n > 0 && max > 0 ? count / n : 0, leakage: den > 0 ? num / den : 1, frequency: fs / (2 * N), range: hi - lo };
}

export class VfDetector implements VfDetectorState {
  inVf = false;
  decidedUntil = 0;
  readonly episodes: VfEpisode[] = [];
  openStart = -1;
  /** Decided blocks not yet read by `blockAt` callers are kept for a few seconds. */
  private readonly recent: VfBlock[] = [];
  private readonly buf: Float32Array;
  private readonly block: number;
  private readonly win: number;
  private readonly fs: number;
  private n = 0; // samples pushed
  private nextBlock = 0; // index of the next block to decide

  constructor(fs: number) {
    this.fs = fs;
    this.block = Math.max(1, Math.round(VF_BLOCK_S * fs));
    this.win = 3 * this.block;
    this.buf = new Float32Array(this.win);
  }

  /** One sample of the 1–30 Hz signal (mV). Returns the block decided by this sample, if any. */
  push(v: number): VfBlock | null {
    const buf = this.buf;
    // Shift-free ring: the window is re-linearised when a decision is due (once per second).
    buf[this.n % this.win] = v;
    this.n++;
    // Block b (samples [b·B, (b+1)·B)) is decided on [(b−1)·B, (b+2)·B) once that is complete.
    const due = (this.nextBlock + 2) * this.block;
    if (this.n < due) return null;
    return this.decide(this.nextBlock++);
  }

  /** Decides the remaining blocks on what is available (end of stream). */
  finish(): VfBlock[] {
    const out: VfBlock[] = [];
    while (this.nextBlock * this.block < this.n) out.push(this.decide(this.nextBlock++));
    if (this.inVf) {
      this.episodes.push({ start: this.openStart, end: this.n });
      this.openStart = -1;
      this.inVf = false;
    }
    return out;
  }

  /** State of the block holding sample `i` (must be decided), or undefined if no longer kept. */
  inVfAt(i: number): boolean {
    for (let k = this.recent.length - 1; k >= 0; k--) {
      const b = this.recent[k];
      if (i >= b.start && i < b.start + this.block) return b.inVf;
    }
    return false;
  }

  private decide(b: number): VfBlock {
    const B = this.block;
    const to = Math.min(this.n, (b + 2) * B);
    const from = Math.max(0, (b - 1) * B, to - this.win);
    const len = to - from;
    const w = new Float32Array(len);
    for (let k = 0; k < len; k++) w[k] = this.buf[(from + k) % this.win];
    const f = len >= B ? vfFeatures(w, 0, len, this.fs) : { tcsc: 0, leakage: 1, frequency: 0, range: 0 };
    const big = f.range >= MIN_RANGE_MV;
    const on = big && f.tcsc > ON_TCSC && f.leakage < ON_LEAKAGE && f.frequency >= MIN_VF_HZ && f.frequency <= MAX_VF_HZ;
    const keep = big && f.tcsc > KEEP_TCSC && f.leakage < KEEP_LEAKAGE;
    const now = on || (this.inVf && keep);
    const start = b * B;
    if (now && !this.inVf) this.openStart = start;
    else if (!now && this.inVf) {
      this.episodes.push({ start: this.openStart, end: start });
      this.openStart = -1;
    }
    this.inVf = now;
    this.decidedUntil = start + B;
    const block: VfBlock = { start, inVf: now, tcsc: f.tcsc, leakage: f.leakage, frequency: f.frequency };
    this.recent.push(block);
    if (this.recent.length > 8) this.recent.shift();
    return block;
  }
}
