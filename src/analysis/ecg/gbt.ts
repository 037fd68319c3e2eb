/**
 * Small multiclass gradient-boosted decision trees (Friedman 2001; second-order split gain as in
 * XGBoost, Chen & Guestrin 2016) on quantile-binned features. Pure TypeScript, deterministic (seeded).
 * Missing values (NaN) are mapped to −∞, so they always fall in the lowest bin / the left branch.
 */

export interface Tree {
  /** Node arrays; a node with feature −1 is a leaf holding `value`. */
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export interface GbtModel {
  classes: string[];
  features: string[];
  /** Per boosting round, one tree per class. */
  trees: Tree[][];
  base: number[];
}

export interface GbtParams {
  rounds: number;
  depth: number;
  learningRate: number;
  /** L2 regularisation of leaf values. */
  lambda: number;
  minChildHessian: number;
  rowSample: number;
  colSample: number;
  bins: number;
  seed: number;
  /** Per-class sample weights (index = class), e.g. to balance rare classes. */
  classWeights?: number[];
}

export const DEFAULT_GBT: GbtParams = {
  rounds: 300,
  depth: 4,
  learningRate: 0.05,
  lambda: 1,
  minChildHessian: 1,
  rowSample: 0.8,
  colSample: 0.7,
  bins: 32,
  seed: 1,
};

const MISSING = -1e30;
const clean = (v: number) => (Number.isFinite(v) ? v : MISSING);

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

/** Bin edges per feature from quantiles of the training values. */
function binEdges(X: number[][], f: number, nb: number): number[] {
  const v = X.map((r) => clean(r[f])).sort((a, b) => a - b);
  const edges: number[] = [];
  for (let b = 1; b < nb; b++) {
    const e = v[Math.floor((b * v.length) / nb)];
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  return edges; // value x goes to bin = number of edges ≤ x... using x < edge → left
}

function binOf(edges: number[], x: number): number {
  let lo = 0,
    hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** `sampleWeights` (optional, per row) multiply the class weights, e.g. interval durations when time is scored. */
export function trainGbt(
  X: number[][],
  y: number[],
  classes: string[],
  features: string[],
  p: GbtParams = DEFAULT_GBT,
  sampleWeights?: readonly number[],
): GbtModel {
  const n = X.length,
    F = features.length,
    K = classes.length;
  const rand = rng(p.seed);
  const edges = Array.from({ length: F }, (_, f) => binEdges(X, f, p.bins));
  // Row-major bins: a node's histogram pass reads each of its rows' bins contiguously.
  const B = new Uint8Array(n * F);
  for (let i = 0; i < n; i++) for (let f = 0; f < F; f++) B[i * F + f] = binOf(edges[f], clean(X[i][f]));
  const w = y.map((c, i) => (p.classWeights?.[c] ?? 1) * (sampleWeights?.[i] ?? 1));
  const wSum = w.reduce((a, b) => a + b, 0);
  const prior = classes.map((_, k) => y.reduce((s, c, i) => s + (c === k ? w[i] : 0), 0) / wSum);
  const base = prior.map((q) => Math.log(Math.max(q, 1e-6)));
  const score = Array.from({ length: n }, () => [...base]);
  const trees: Tree[][] = [];
  const g = new Float64Array(n),
    h = new Float64Array(n);
  const nb = p.bins + 1;

  for (let round = 0; round < p.rounds; round++) {
    const probs = score.map(softmax);
    const rows = Int32Array.from({ length: n }, (_, i) => i).filter(() => rand() < p.rowSample);
    const roundTrees: Tree[] = [];
    for (let k = 0; k < K; k++) {
      if (K === 2 && k === 0) {
        // Two classes: softmax of (z₀, z₁) is the logistic of z₁ − z₀, so class 0 keeps a zero tree and
        // class 1's tree carries the whole logistic-loss step (half the work, the same model family).
        roundTrees.push({ feature: [-1], threshold: [0], left: [-1], right: [-1], value: [0] });
        continue;
      }
      for (let i = 0; i < n; i++) {
        const pk = probs[i][k];
        g[i] = w[i] * (pk - (y[i] === k ? 1 : 0));
        h[i] = w[i] * Math.max(pk * (1 - pk), 1e-6);
      }
      const cols = Array.from({ length: F }, (_, f) => f).filter(() => rand() < p.colSample);
      const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
      /** Gradient and hessian histograms of the rows `idx` over the sampled columns. */
      const histogram = (idx: Int32Array): [Float64Array, Float64Array] => {
        const hg = new Float64Array(F * nb),
          hh = new Float64Array(F * nb);
        for (const i of idx) {
          const row = i * F,
            gi = g[i],
            hi = h[i];
          for (const f of cols) {
            const at = f * nb + B[row + f];
            hg[at] += gi;
            hh[at] += hi;
          }
        }
        return [hg, hh];
      };
      const splittable = (idx: Int32Array, depth: number) => depth < p.depth && idx.length >= 4;
      // `hist` is the node's histogram when the caller already has it (the larger child's, as its parent's
      // minus its sibling's: LightGBM's subtraction trick, half the histogram work).
      const build = (idx: Int32Array, depth: number, hist?: [Float64Array, Float64Array]): number => {
        const node = tree.feature.length;
        tree.feature.push(-1);
        tree.threshold.push(0);
        tree.left.push(-1);
        tree.right.push(-1);
        tree.value.push(0);
        let G = 0,
          H = 0;
        for (const i of idx) {
          G += g[i];
          H += h[i];
        }
        tree.value[node] = (-G / (H + p.lambda)) * p.learningRate;
        if (!splittable(idx, depth)) return node;
        const [hg, hh] = hist ?? histogram(idx);
        const parent = (G * G) / (H + p.lambda);
        let bestGain = 1e-9,
          bestF = -1,
          bestBin = -1;
        for (const f of cols) {
          let GL = 0,
            HL = 0;
          const off = f * nb;
          for (let b = 0; b < edges[f].length; b++) {
            GL += hg[off + b];
            HL += hh[off + b];
            const GR = G - GL,
              HR = H - HL;
            if (HL < p.minChildHessian || HR < p.minChildHessian) continue;
            const gain = (GL * GL) / (HL + p.lambda) + (GR * GR) / (HR + p.lambda) - parent;
            if (gain > bestGain) {
              bestGain = gain;
              bestF = f;
              bestBin = b;
            }
          }
        }
        if (bestF < 0) return node;
        const L = idx.filter((i) => B[i * F + bestF] <= bestBin),
          R = idx.filter((i) => B[i * F + bestF] > bestBin);
        tree.feature[node] = bestF;
        tree.threshold[node] = edges[bestF][bestBin]; // x < threshold goes left
        let histL: [Float64Array, Float64Array] | undefined, histR: [Float64Array, Float64Array] | undefined;
        if (splittable(L, depth + 1) || splittable(R, depth + 1)) {
          const small = L.length <= R.length ? L : R;
          const hs = histogram(small);
          const hl: [Float64Array, Float64Array] = [hg.map((v, j) => v - hs[0][j]), hh.map((v, j) => v - hs[1][j])];
          if (small === L) [histL, histR] = [hs, hl];
          else [histL, histR] = [hl, hs];
        }
        tree.left[node] = build(L, depth + 1, histL);
        tree.right[node] = build(R, depth + 1, histR);
        return node;
      };
      build(rows, 0);
      roundTrees.push(tree);
      for (let i = 0; i < n; i++) score[i][k] += evalTree(tree, X[i]);
    }
    trees.push(roundTrees);
  }
  return { classes, features, trees, base };
}

/** Leaf value of one tree for a feature vector. */
export function evalTree(t: Tree, x: ArrayLike<number>): number {
  let node = 0;
  while (t.feature[node] >= 0) node = clean(x[t.feature[node]]) < t.threshold[node] ? t.left[node] : t.right[node];
  return t.value[node];
}

export function predictProba(model: GbtModel, x: ArrayLike<number>): number[] {
  const z = [...model.base];
  for (const round of model.trees) for (let k = 0; k < z.length; k++) z[k] += evalTree(round[k], x);
  return softmax(z);
}

export function predictClass(model: GbtModel, x: number[]): string {
  const p = predictProba(model, x);
  return model.classes[p.indexOf(Math.max(...p))];
}

/**
 * One model whose logits are the mean of the bagged models' logits (same classes and features): the rounds
 * are interleaved (round r of model 1, of model 2, …) with leaf values divided by the number of models, so the
 * first r·bags rounds of the result are the average of the first r rounds of each.
 */
export function averageLogits(models: readonly GbtModel[]): GbtModel {
  const n = models.length;
  const trees: GbtModel['trees'] = [];
  for (let r = 0; r < models[0].trees.length; r++) for (const m of models) trees.push(m.trees[r].map((t) => ({ ...t, value: t.value.map((v) => v / n) })));
  const base = models[0].base.map((_, k) => models.reduce((s, m) => s + m.base[k], 0) / n);
  return { ...models[0], trees, base };
}
