/**
 * Streaming QRS detector, Hamilton–Tompkins family (Hamilton & Tompkins 1986; Hamilton's open-source
 * OSEA detector, "qrsdet2"), with Pan & Tompkins 1985 T-wave discrimination and search-back.
 *
 *   band-pass → derivative → |·| → moving-window integral (MWI) → peak picking → adaptive thresholds
 *
 * Works at any sampling rate (all constants are in seconds), keeps its state between chunks and emits
 * the global sample index of each R peak with a bounded delay (≈ 0.5 s, or the search-back interval,
 * at most `MAX_SEARCHBACK_S`, when a beat is recovered by search-back).
 */
import { highpass, lowpass, step, Ring, type Biquad } from './filters.ts';
import { createDecider, type Candidate, type Decider, type QrsTuning } from './qrs-decide.ts';
import { VfDetector, type VfDetectorState } from './vf.ts';

const BANDPASS_LOW_HZ = 5; // Pan & Tompkins 1985: QRS energy lies in 5–15 Hz
const BANDPASS_HIGH_HZ = 15;
const DERIV_S = 0.01; // derivative span, 10 ms (OSEA)
const MWI_S = 0.08; // integration window, 80 ms (OSEA)
const PEAK_TIMEOUT_S = 0.095; // a MWI maximum is a peak after 95 ms without a new max (OSEA Peak())
const PRE_BLANK_S = 0.2; // hold a peak 200 ms in case a larger one follows (OSEA PRE_BLANK)
const BLS_WINDOW_S = 0.22; // window for the baseline-shift check (OSEA BLSCheck, MS220)
const R_SEARCH_S = 0.1; // look back this far before the MWI rise for the R peak
const LOCATOR_BAND_HZ = [1, 30] as const; // gentle band for placing the R peak on the true waveform
const R_REFINE_S = 0.06; // s either side of the band-pass maximum searched for the R peak
const HISTORY_S = 1.5; // ring-buffer length, must cover the look-back above plus the hold times

export interface QrsDetectorOptions {
  /** Sampling frequency in Hz (125–1000 tested). */
  fs: number;
  /** ADC units per mV; samples are divided by it (default 1: samples already in mV). */
  gain?: number;
  /**
   * Ventricular flutter/fibrillation detection (default true): beats inside VF/VFL seconds are not
   * reported (flutter waves are not beats) and the VF state is readable from `vf`. Costs ≈ 1.5 s more
   * output delay, the time the VF decision about a second needs.
   */
  vf?: boolean;
  /** Decision-stage settings (default QRS_TUNING); only the evaluation's choice procedure passes others. */
  tuning?: QrsTuning;
}

export interface QrsDetector {
  readonly fs: number;
  /** Samples consumed so far (the global index of the next sample). */
  readonly position: number;
  /** Feeds samples; returns the beats confirmed during this call (global sample indices, ascending). */
  push(samples: ArrayLike<number>): number[];
  /** Ends the stream: returns beats still pending. */
  flush(): number[];
  /** Ventricular flutter/fibrillation state and episodes (undefined when created with `vf: false`). */
  readonly vf?: VfDetectorState;
}

class Detector implements QrsDetector {
  readonly fs: number;
  position = 0;
  private readonly scale: number;
  /** First sample: subtracted so a DC offset (raw ADC) gives no filter start-up transient. */
  private dc = NaN;
  private readonly hp: Biquad;
  private readonly lp: Biquad;
  private readonly bp: Ring; // band-passed signal
  private readonly loc: Ring; // lightly filtered signal, for R-peak placement
  private readonly locHp: Biquad;
  private readonly locLp: Biquad;
  private readonly der: Ring; // derivative of band-passed signal
  private readonly abs: Ring; // |derivative| (MWI input)
  private readonly derivN: number;
  private readonly mwiN: number;
  private mwiSum = 0;
  private lastMwi = 0;
  private max = 0;
  private maxIdx = -1;
  private sinceMax = 0;
  private held: Candidate | null = null;
  private heldAt = 0;
  private readonly peakTimeout: number;
  private readonly preBlank: number;
  private readonly blsN: number;
  private readonly rSearch: number;
  private readonly rRefine: number;
  private readonly decider: Decider;
  readonly vf?: VfDetector;
  /** Beats accepted by the decider, waiting for the VF decision about their second. */
  private pending: number[] = [];
  private readonly accepted: number[] = [];

  constructor(opts: QrsDetectorOptions) {
    const fs = opts.fs;
    if (!(fs >= 50 && fs <= 10_000)) throw new RangeError(`unsupported sampling frequency ${fs} Hz`);
    this.fs = fs;
    this.scale = 1 / (opts.gain ?? 1);
    this.hp = highpass(BANDPASS_LOW_HZ, fs);
    this.lp = lowpass(BANDPASS_HIGH_HZ, fs);
    const hist = Math.ceil(HISTORY_S * fs);
    this.bp = new Ring(hist);
    this.loc = new Ring(hist);
    this.locHp = highpass(LOCATOR_BAND_HZ[0], fs);
    this.locLp = lowpass(LOCATOR_BAND_HZ[1], fs);
    this.der = new Ring(hist);
    this.abs = new Ring(hist);
    this.derivN = Math.max(1, Math.round(DERIV_S * fs));
    this.mwiN = Math.max(2, Math.round(MWI_S * fs));
    this.peakTimeout = Math.round(PEAK_TIMEOUT_S * fs);
    this.preBlank = Math.round(PRE_BLANK_S * fs);
    this.blsN = Math.round(BLS_WINDOW_S * fs);
    this.rSearch = Math.round(R_SEARCH_S * fs);
    this.rRefine = Math.round(R_REFINE_S * fs);
    this.decider = createDecider(fs, this.peakTimeout + this.preBlank + 1, opts.tuning);
    if (opts.vf !== false) this.vf = new VfDetector(fs);
  }

  /** Moves decided beats from `accepted` to `out`, dropping those inside VF seconds. */
  private release(out: number[], all = false): void {
    const vf = this.vf;
    if (!vf) {
      for (const b of this.accepted) out.push(b);
      this.accepted.length = 0;
      return;
    }
    for (const b of this.accepted) this.pending.push(b);
    this.accepted.length = 0;
    if (!this.pending.length) return;
    let k = 0;
    for (; k < this.pending.length; k++) {
      const b = this.pending[k];
      if (!all && b >= vf.decidedUntil) break;
      if (!vf.inVfAt(b)) out.push(b);
    }
    if (k) this.pending = this.pending.slice(k);
  }

  push(samples: ArrayLike<number>): number[] {
    const out: number[] = [];
    const n = samples.length;
    if (n > 0 && Number.isNaN(this.dc)) this.dc = samples[0];
    const dc = this.dc;
    for (let k = 0; k < n; k++) {
      const i = this.position++;
      const x = (samples[k] - dc) * this.scale;
      const b = step(this.lp, step(this.hp, x));
      this.bp.set(i, b);
      const l = step(this.locLp, step(this.locHp, x));
      this.loc.set(i, l);
      const decided = this.vf ? this.vf.push(l) : null;
      const d = b - this.bp.get(i - this.derivN);
      this.der.set(i, d);
      const a = d < 0 ? -d : d;
      this.mwiSum += a - this.abs.get(i - this.mwiN);
      this.abs.set(i, a);
      this.pickPeak(i, this.mwiSum);
      this.decider.tick(i, this.accepted);
      if (this.accepted.length || (decided && this.pending.length)) this.release(out);
    }
    return out;
  }

  flush(): number[] {
    const out: number[] = [];
    if (this.held) this.decider.candidate(this.held);
    this.held = null;
    this.decider.finish(this.position, this.accepted);
    this.vf?.finish();
    this.release(out, true);
    return out;
  }

  /** OSEA Peak(): a MWI maximum becomes a peak once the signal halves or 95 ms pass. */
  private pickPeak(i: number, m: number): void {
    if (this.sinceMax > 0) this.sinceMax++;
    let peakIdx = -1;
    if (m > this.lastMwi && m > this.max) {
      this.max = m;
      this.maxIdx = i;
      this.sinceMax = 1;
    } else if (this.sinceMax > 0 && (m < this.max * 0.5 || this.sinceMax > this.peakTimeout)) {
      peakIdx = this.maxIdx;
      this.sinceMax = 0;
    }
    this.lastMwi = m;
    if (peakIdx >= 0) {
      const height = this.max;
      this.max = 0;
      // Pre-blanking: keep only the largest peak of a burst closer than 200 ms.
      if (!this.held || height > this.held.height) {
        this.held = this.describe(peakIdx, height);
        this.heldAt = i;
      }
    }
    if (this.held && i - this.heldAt >= this.preBlank) {
      const c = this.held;
      this.held = null;
      this.decider.candidate(c);
    }
  }

  /** Measures the candidate from the history rings: R location, slope and the baseline-shift test. */
  private describe(mwiIdx: number, height: number): Candidate {
    const from = Math.max(0, mwiIdx - this.mwiN - this.rSearch, this.position - this.bp.data.length + 1);
    let best = from,
      bestAbs = -1,
      maxD = 0,
      minD = 0,
      maxT = 0,
      minT = 0;
    // QRS centre: the largest band-passed deflection (within ~35 ms of the R peak: band-pass ringing).
    for (let j = from; j <= mwiIdx; j++) {
      const v = Math.abs(this.bp.get(j));
      if (v > bestAbs) {
        bestAbs = v;
        best = j;
      }
    }
    // R peak: the largest deflection from the local mean of the lightly filtered signal near that centre.
    const a = Math.max(from, best - this.rRefine),
      z = Math.min(mwiIdx, best + this.rRefine);
    let mean = 0;
    for (let j = a; j <= z; j++) mean += this.loc.get(j);
    mean /= z - a + 1;
    let r = best;
    bestAbs = -1;
    for (let j = a; j <= z; j++) {
      const v = Math.abs(this.loc.get(j) - mean);
      if (v > bestAbs) {
        bestAbs = v;
        r = j;
      }
    }
    // OSEA BLSCheck: a QRS has a steep rise and a steep fall within 150 ms; a baseline shift has one.
    const blsFrom = Math.max(0, mwiIdx - this.blsN);
    for (let j = blsFrom; j <= mwiIdx; j++) {
      const d = this.der.get(j);
      if (d > maxD) {
        maxD = d;
        maxT = j;
      } else if (d < minD) {
        minD = d;
        minT = j;
      }
    }
    const slope = Math.max(maxD, -minD);
    const baselineShift = !(maxD > -minD / 8 && -minD > maxD / 8 && Math.abs(maxT - minT) < 0.15 * this.fs);
    return { mwiIdx, rIdx: r, height, slope, baselineShift };
  }
}

export function createQrsDetector(opts: QrsDetectorOptions): QrsDetector {
  return new Detector(opts);
}

/**
 * Whole-record detection: feeds the signal through the streaming detector in 1 s chunks.
 * `opts.vf: false` keeps beats inside VF/VFL (the CinC features were trained that way).
 */
export function detectBeats(signal: ArrayLike<number>, fs: number, gain = 1, opts: { vf?: boolean } = {}): number[] {
  const det = createQrsDetector({ fs, gain, vf: opts.vf });
  const beats: number[] = [];
  const chunk = Math.max(1, Math.round(fs));
  const isTyped = ArrayBuffer.isView(signal);
  for (let i = 0; i < signal.length; i += chunk) {
    const end = Math.min(signal.length, i + chunk);
    const part = isTyped ? (signal as unknown as Float32Array).subarray(i, end) : Array.prototype.slice.call(signal, i, end);
    for (const b of det.push(part)) beats.push(b);
  }
  for (const b of det.flush()) beats.push(b);
  return beats;
}
