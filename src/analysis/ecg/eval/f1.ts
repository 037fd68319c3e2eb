/**
 * PhysioNet/CinC Challenge 2017 scoring: F1 per class = 2·TP / (2·TP + FP + FN) over the confusion
 * matrix, challenge score = mean F1 of N, A and O (the noisy class ~ is not averaged).
 */
export const CINC_CLASSES = ['N', 'A', 'O', '~'] as const;

export function confusion(truth: readonly string[], predicted: readonly string[], classes: readonly string[] = CINC_CLASSES): number[][] {
  const m = classes.map(() => classes.map(() => 0));
  truth.forEach((t, i) => {
    const a = classes.indexOf(t),
      b = classes.indexOf(predicted[i]);
    if (a >= 0 && b >= 0) m[a][b]++;
  });
  return m;
}

export function f1PerClass(m: number[][]): number[] {
  return m.map((row, k) => {
    const tp = row[k];
    const fn = row.reduce((s, v) => s + v, 0) - tp;
    const fp = m.reduce((s, r) => s + r[k], 0) - tp;
    return 2 * tp + fp + fn === 0 ? NaN : (2 * tp) / (2 * tp + fp + fn);
  });
}

export function challengeScore(truth: readonly string[], predicted: readonly string[]) {
  const m = confusion(truth, predicted);
  const f1 = f1PerClass(m);
  const perClass = Object.fromEntries(CINC_CLASSES.map((c, k) => [c, f1[k]]));
  return { perClass, score: (f1[0] + f1[1] + f1[2]) / 3, confusion: m };
}

/**
 * Stratified k-fold assignment: within each class, items are shuffled (seeded) and dealt to folds in turn,
 * so each fold holds ≈ 1/k of every class.
 */
export function stratifiedFolds(labels: readonly string[], k: number, seed = 1): number[] {
  let s = seed >>> 0 || 1;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const fold = new Array<number>(labels.length).fill(0);
  for (const c of new Set(labels)) {
    const idx = labels.map((l, i) => (l === c ? i : -1)).filter((i) => i >= 0);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    idx.forEach((i, n) => (fold[i] = n % k));
  }
  return fold;
}
