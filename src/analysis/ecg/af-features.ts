/**
 * RR-interval features for the learned AF detector (af.ts), computed in a stream: each interval gets a
 * feature vector describing the window of `AF_WINDOW_HALF` intervals either side of it, so the vector for
 * an interval is ready `AF_WINDOW_HALF` intervals after it. Only RR intervals are used (any beat source:
 * an ECG detector, a wearable's own beat times, a PPG watch).
 *
 * Feature families are the published RR-based AF markers, all relative to the window's mean RR so they do
 * not depend on the heart rate:
 * - irregularity robust to ectopic patterns: the smallest |rr − rr₋ₖ|, k = 1…4, relative to the local mean
 *   (isolated ectopics, bigeminy, trigeminy stay low; AF does not), as in Petrėnas 2015's detector;
 * - successive-difference spread (normalised RMSSD, share of successive differences > 6 %), Tateno & Glass 2001;
 * - Shannon entropy of the RR histogram and the turning-point ratio (Dash et al. 2009);
 * - ectopic pattern: share of premature-then-compensatory pairs, lag-1 and lag-2 autocorrelation
 *   (bigeminy gives a strongly negative lag-1, positive lag-2; AF gives both near 0);
 * - rate (mean RR) and its coefficient of variation;
 * - atrial-ectopy discriminators: sample entropy of the core window (Richman & Moorman 2000, with the
 *   tolerance relative to the mean RR as in COSEn, Lake & Moorman 2011: bigeminy and SVTA repeat, AF does
 *   not), occupied cells of the successive-difference (Lorenz) plot (Sarkar et al. 2008: a few clusters for
 *   ectopic patterns, a spread cloud for AF) and the entropy of successive RR ratios (bigeminy is bimodal);
 * - ectopy-filtered irregularity, relative to the window's MEDIAN RR (the dominant rhythm's cycle while
 *   ectopics are the minority): the share of intervals within ±6 % of it (sinus with frequent premature
 *   beats keeps a sharp mode, AF has none), the share of premature intervals (< 88 % of it), and the
 *   successive differences left once every premature interval, the one after it (its compensatory pause)
 *   and pauses (> 160 %) are removed, with the share of pairs left. Frequent atrial or ventricular ectopy
 *   leaves a regular rhythm behind; AF does not (the idea of ectopic-beat filtering before the
 *   irregularity measure, Lian et al. 2011, Petrėnas 2015, applied to the whole window).
 */

export const AF_WINDOW_HALF = 30; // intervals each side: the window spans 61 intervals (≈ 45 s at 80/min)
const WINDOW = 2 * AF_WINDOW_HALF + 1;
const CORE_HALF = 10; // a narrower core window for the irregularity median, sharper at episode edges
const PREMATURE = 0.85; // premature: under 85 % of the local mean RR
const COMPENSATORY = 1.05; // compensatory: over 105 % of it
const SUCCESSIVE = 0.06; // successive difference counted as large above 6 % of the mean RR
const HIST_BINS = 16; // RR histogram bins over 0.4–1.6 × the window mean
const SAMPEN_HALF = 15; // sample entropy over the 31 intervals around the centre (cost grows with the square)
const SAMPEN_TOLERANCE = 0.04; // matching tolerance: 4 % of the window mean RR (≈ COSEn's 30 ms at 0.75 s)
const LORENZ_CELL = 0.05; // Lorenz-plot cell: 5 % of the window mean RR (≈ Sarkar's 40 ms)
const LORENZ_HALF = 12; // cells each side of the origin (clamped beyond)
const RATIO_BINS = 16; // histogram of ln(rr / rr₋₁) over ±ln 2
const NEAR_MEDIAN = 0.06; // "at the dominant cycle": within ±6 % of the window's median RR
const PREMATURE_OF_MEDIAN = 0.88; // premature against the median: under 88 % of it
const PAUSE_OF_MEDIAN = 1.6; // a pause or a missed beat: over 160 % of it
const MIN_CLEAN_PAIRS = 5; // fewer successive pairs left after the filter: the filtered irregularity is undefined
export const AF_MIN_RR_S = 0.2; // shorter intervals are noise detections: skipped
export const AF_MAX_RR_S = 3; // longer ones are pauses or lost signal: the window restarts

export const AF_FEATURE_NAMES = [
  'irrMedian',
  'irrP25',
  'irrP75',
  'irrCoreMedian',
  'nRmssd',
  'bigSuccessive',
  'entropy',
  'turningPoints',
  'shortLong',
  'autocorr1',
  'autocorr2',
  'meanRr',
  'rrCv',
  'd1Median',
  'sampEn',
  'lorenzCells',
  'lorenzOrigin',
  'ratioEntropy',
  'nearMedian',
  'prematureShare',
  'filteredIrr',
  'filteredPairs',
] as const;

/**
 * The values of a sliding window kept in order (insert and remove by binary search and a shift of at most
 * the window's length), so quantiles cost nothing per interval instead of a sort. NaN is never stored.
 */
class SortedWindow {
  private readonly v: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.v = new Float64Array(capacity);
  }
  clear(): void {
    this.length = 0;
  }
  private lowerBound(x: number): number {
    let lo = 0,
      hi = this.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.v[m] < x) lo = m + 1;
      else hi = m;
    }
    return lo;
  }
  insert(x: number): void {
    if (Number.isNaN(x)) return;
    if (this.length === this.v.length) throw new RangeError('SortedWindow is full: remove before insert');
    const i = this.lowerBound(x);
    this.v.copyWithin(i + 1, i, this.length);
    this.v[i] = x;
    this.length++;
  }
  remove(x: number): void {
    if (Number.isNaN(x)) return;
    const i = this.lowerBound(x);
    if (i < this.length && this.v[i] === x) {
      this.v.copyWithin(i, i + 1, this.length);
      this.length--;
    }
  }
  /** Linear-interpolated quantile, as R type 7 / numpy's default. */
  quantile(q: number): number {
    const pos = q * (this.length - 1);
    const lo = Math.floor(pos),
      hi = Math.ceil(pos);
    return this.v[lo] + (this.v[hi] - this.v[lo]) * (pos - lo);
  }
}

/**
 * Streaming feature extractor. `push(rr)` takes the next interval (s) and returns the features of the
 * interval AF_WINDOW_HALF positions back (with its sequence number), or null until the window is full.
 */
export class RrFeatureStream {
  private readonly rr = new Float64Array(WINDOW);
  private readonly irr = new Float64Array(WINDOW);
  private readonly d1 = new Float64Array(WINDOW);
  private readonly sl = new Uint8Array(WINDOW);
  private readonly irrSorted = new SortedWindow(WINDOW);
  private readonly d1Sorted = new SortedWindow(WINDOW);
  private readonly coreSorted = new SortedWindow(2 * CORE_HALF + 1);
  private readonly hist = new Float64Array(HIST_BINS);
  private readonly ratioHist = new Float64Array(RATIO_BINS);
  private readonly ordered = new Float64Array(WINDOW); // the window in time order
  private readonly sortedCopy = new Float64Array(WINDOW); // the window sorted (median)
  private readonly kept = new Uint8Array(WINDOW); // interval survives the ectopy filter
  private readonly diffs = new Float64Array(WINDOW); // successive differences of kept pairs
  private readonly lorenz = new Int32Array((2 * LORENZ_HALF + 1) ** 2); // stamp of the last window that used a cell
  private stamp = 0;
  private n = 0; // intervals pushed since the last restart
  private seq = -1; // global sequence number of the last interval pushed
  private last: number[] = []; // last 5 raw intervals (causal per-interval quantities)

  /** Forgets the window (after a gap): the next features come AF_WINDOW_HALF + 1 intervals later. */
  reset(): void {
    this.n = 0;
    this.last = [];
    this.irrSorted.clear();
    this.d1Sorted.clear();
    this.coreSorted.clear();
  }

  /**
   * `withFeatures` false: update the window only (the features of that interval are not needed, e.g. a
   * training subsample), and return null.
   */
  push(rr: number, withFeatures = true): { seq: number; features: number[] } | null {
    this.seq++;
    const prev = this.last;
    // Causal per-interval quantities from the 4 intervals before this one.
    let irr = NaN,
      d1 = NaN,
      sl = 0;
    if (prev.length >= 4) {
      const p = prev.length;
      const loc = (prev[p - 1] + prev[p - 2] + prev[p - 3]) / 3;
      irr = Math.min(Math.abs(rr - prev[p - 1]), Math.abs(rr - prev[p - 2]), Math.abs(rr - prev[p - 3]), Math.abs(rr - prev[p - 4])) / loc;
      d1 = Math.abs(rr - prev[p - 1]) / loc;
      if (prev.length >= 5) {
        const loc2 = (prev[p - 2] + prev[p - 3] + prev[p - 4] + prev[p - 5]) / 4;
        sl = prev[p - 1] < PREMATURE * loc2 && rr > COMPENSATORY * loc2 ? 1 : 0;
      }
    }
    prev.push(rr);
    if (prev.length > 5) prev.shift();
    const at = this.n % WINDOW;
    if (this.n >= WINDOW) {
      this.irrSorted.remove(this.irr[at]);
      this.d1Sorted.remove(this.d1[at]);
    }
    this.irrSorted.insert(irr);
    this.d1Sorted.insert(d1);
    // Core window: the irregularities of the 2·CORE_HALF + 1 intervals centred AF_WINDOW_HALF back.
    if (this.n >= AF_WINDOW_HALF + CORE_HALF + 1) this.coreSorted.remove(this.irr[(this.n - (AF_WINDOW_HALF + CORE_HALF + 1) + WINDOW) % WINDOW]);
    if (this.n >= AF_WINDOW_HALF - CORE_HALF) this.coreSorted.insert(this.irr[(this.n - (AF_WINDOW_HALF - CORE_HALF) + WINDOW) % WINDOW]);
    this.rr[at] = rr;
    this.irr[at] = irr;
    this.d1[at] = d1;
    this.sl[at] = sl;
    this.n++;
    // The first 4 intervals after a restart have no irregularity: wait until the window holds only defined ones.
    if (this.n < WINDOW + 4 || !withFeatures) return null;
    return { seq: this.seq - AF_WINDOW_HALF, features: this.features() };
  }

  private features(): number[] {
    const start = this.n % WINDOW; // oldest element of the ring
    const W = WINDOW;
    // Window mean and CV of RR, successive differences, turning points, autocorrelation (in time order).
    let sum = 0;
    for (let i = 0; i < W; i++) sum += this.rr[i];
    const mean = sum / W;
    let ss = 0,
      dd = 0,
      big = 0,
      tp = 0,
      c1 = 0,
      c2 = 0,
      slc = 0;
    let a = NaN,
      b = NaN,
      c = NaN; // rr[t-2], rr[t-1], rr[t] in time order
    this.hist.fill(0);
    for (let t = 0; t < W; t++) {
      const v = this.rr[(start + t) % W];
      const x = v - mean;
      ss += x * x;
      const bin = Math.min(HIST_BINS - 1, Math.max(0, Math.floor(((v / mean - 0.4) / 1.2) * HIST_BINS)));
      this.hist[bin]++;
      slc += this.sl[(start + t) % W];
      a = b;
      b = c;
      c = v;
      if (t >= 1) {
        const d = (c - b) / mean;
        dd += d * d;
        if (Math.abs(d) > SUCCESSIVE) big++;
        c1 += (c - mean) * (b - mean);
      }
      if (t >= 2) {
        if ((b > a && b > c) || (b < a && b < c)) tp++;
        c2 += (c - mean) * (a - mean);
      }
    }
    const varr = ss / W;
    let entropy = 0;
    for (let k = 0; k < HIST_BINS; k++) {
      const p = this.hist[k] / W;
      if (p > 0) entropy -= p * Math.log2(p);
    }
    const irrMedian = this.irrSorted.quantile(0.5),
      irrP25 = this.irrSorted.quantile(0.25),
      irrP75 = this.irrSorted.quantile(0.75);
    const irrCore = this.coreSorted.quantile(0.5);
    const d1Median = this.d1Sorted.quantile(0.5);
    const o = this.ordered;
    for (let t = 0; t < W; t++) o[t] = this.rr[(start + t) % W];
    return [
      irrMedian,
      irrP25,
      irrP75,
      irrCore,
      Math.sqrt(dd / (W - 1)),
      big / (W - 1),
      entropy,
      tp / (W - 2),
      slc / W,
      varr > 0 ? c1 / (W - 1) / varr : 0,
      varr > 0 ? c2 / (W - 2) / varr : 0,
      mean,
      Math.sqrt(varr) / mean,
      d1Median,
      this.sampleEntropy(mean),
      ...this.lorenzCells(mean),
      this.ratioEntropy(),
      ...this.ectopyFiltered(),
    ];
  }

  /**
   * [share within ±6 % of the median RR, share premature, median |successive difference| / median RR over
   * pairs of intervals that survive the ectopy filter (NaN when fewer than MIN_CLEAN_PAIRS), share of pairs left].
   */
  private ectopyFiltered(): [number, number, number, number] {
    const o = this.ordered,
      s = this.sortedCopy,
      kept = this.kept,
      d = this.diffs;
    s.set(o);
    s.sort();
    const med = s[AF_WINDOW_HALF]; // WINDOW is odd: the middle value
    let near = 0,
      premature = 0;
    for (let t = 0; t < WINDOW; t++) {
      const r = o[t] / med;
      if (Math.abs(r - 1) <= NEAR_MEDIAN) near++;
      const early = r < PREMATURE_OF_MEDIAN;
      if (early) premature++;
      // Removed: a premature interval, a pause, and the interval after a premature one (its compensatory pause).
      kept[t] = early || r > PAUSE_OF_MEDIAN || (t > 0 && o[t - 1] / med < PREMATURE_OF_MEDIAN) ? 0 : 1;
    }
    let n = 0;
    for (let t = 1; t < WINDOW; t++) if (kept[t] && kept[t - 1]) d[n++] = Math.abs(o[t] - o[t - 1]) / med;
    let irr = NaN;
    if (n >= MIN_CLEAN_PAIRS) {
      const v = d.subarray(0, n).sort();
      irr = n % 2 ? v[n >> 1] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
    return [near / WINDOW, premature / WINDOW, irr, n / (WINDOW - 1)];
  }

  /** Sample entropy (m = 1) of the intervals around the centre, tolerance relative to the mean RR. */
  private sampleEntropy(mean: number): number {
    const o = this.ordered,
      r = SAMPEN_TOLERANCE * mean;
    const a0 = AF_WINDOW_HALF - SAMPEN_HALF,
      z = AF_WINDOW_HALF + SAMPEN_HALF; // templates start in [a0, z)
    let a = 0,
      b = 0;
    for (let i = a0; i < z; i++) {
      for (let j = i + 1; j < z; j++) {
        if (Math.abs(o[i] - o[j]) <= r) {
          b++;
          if (Math.abs(o[i + 1] - o[j + 1]) <= r) a++;
        }
      }
    }
    // No template matches at all (every interval different): as irregular as the window can show.
    if (b === 0) return Math.log(2 * SAMPEN_HALF);
    return -Math.log(Math.max(a, 0.5) / b); // a = 0: half a match, so the value stays finite
  }

  /** Share of successive-difference pairs outside the origin cell that fall in distinct cells, and the origin's share. */
  private lorenzCells(mean: number): [number, number] {
    const o = this.ordered,
      side = 2 * LORENZ_HALF + 1,
      cell = LORENZ_CELL * mean;
    const stamp = ++this.stamp;
    let distinct = 0,
      origin = 0;
    const q = (d: number) => Math.max(-LORENZ_HALF, Math.min(LORENZ_HALF, Math.round(d / cell))) + LORENZ_HALF;
    for (let t = 2; t < WINDOW; t++) {
      const x = q(o[t - 1] - o[t - 2]),
        y = q(o[t] - o[t - 1]);
      if (x === LORENZ_HALF && y === LORENZ_HALF) {
        origin++;
        continue;
      }
      const k = x * side + y;
      if (this.lorenz[k] !== stamp) {
        this.lorenz[k] = stamp;
        distinct++;
      }
    }
    return [distinct / (WINDOW - 2), origin / (WINDOW - 2)];
  }

  /** Shannon entropy (bits) of the successive RR ratios' histogram. */
  private ratioEntropy(): number {
    const o = this.ordered,
      h = this.ratioHist;
    h.fill(0);
    for (let t = 1; t < WINDOW; t++) {
      const v = Math.log(o[t] / o[t - 1]) / Math.LN2; // −1 … 1 for ratios ½ … 2
      h[Math.max(0, Math.min(RATIO_BINS - 1, Math.floor(((v + 1) / 2) * RATIO_BINS)))]++;
    }
    let e = 0;
    for (let k = 0; k < RATIO_BINS; k++) {
      const p = h[k] / (WINDOW - 1);
      if (p > 0) e -= p * Math.log2(p);
    }
    return e;
  }
}

/**
 * Beats → RR intervals → window features, with the detector's rules for noise beats and gaps. Calls
 * `onFeatures` with the features of each decidable interval and the beats that bound it. Shared by the
 * detector and the training code so both see exactly the same intervals.
 */
export function createRrFeatureFeed(
  fs: number,
  onFeatures: (features: number[], start: number, end: number) => void,
  /** Compute features only for every `every`-th interval (a training subsample); the detector uses 1. */
  every = 1,
) {
  const stream = new RrFeatureStream();
  const bounds: number[] = []; // start beat of the last intervals, indexed by sequence number % size
  const ends: number[] = [];
  const SIZE = 4 * AF_WINDOW_HALF;
  let prev: number | undefined;
  let seq = -1;
  return (beat: number): void => {
    if (prev !== undefined && beat <= prev) return;
    if (prev === undefined) {
      prev = beat;
      return;
    }
    const rr = (beat - prev) / fs;
    if (rr < AF_MIN_RR_S) return; // a noise detection: skip this beat
    if (rr > AF_MAX_RR_S) {
      stream.reset();
      prev = beat;
      return;
    }
    seq++;
    bounds[seq % SIZE] = prev;
    ends[seq % SIZE] = beat;
    prev = beat;
    // stream.push numbers intervals since its creation; ours are the same sequence.
    const k = seq - AF_WINDOW_HALF;
    const out = stream.push(rr, k % every === 0);
    if (!out) return;
    onFeatures(out.features, bounds[k % SIZE], ends[k % SIZE]);
  };
}
