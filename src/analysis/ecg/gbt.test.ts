import { describe, it, expect } from 'vitest';
import { trainGbt, predictClass, predictProba, averageLogits, DEFAULT_GBT } from './gbt.ts';

/** Deterministic points in the unit square; class = quadrant pattern (XOR) that needs depth-2 interactions. */
function xorData(n: number, seed = 3) {
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const X: number[][] = [],
    y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = rand(),
      b = rand(),
      noise = rand();
    X.push([a, b, noise]);
    y.push(a > 0.5 !== b > 0.5 ? 1 : 0);
  }
  return { X, y };
}

describe('gradient-boosted trees (histogram split search with the subtraction trick)', () => {
  const params = { ...DEFAULT_GBT, rounds: 60, depth: 3, learningRate: 0.2 };

  it('learns an interaction no single split separates (XOR of two features, a third one noise)', () => {
    const train = xorData(600);
    const m = trainGbt(train.X, train.y, ['even', 'odd'], ['a', 'b', 'noise'], params);
    const test = xorData(300, 99);
    const correct = test.X.filter((x, i) => predictClass(m, x) === ['even', 'odd'][test.y[i]]).length;
    expect(correct / test.X.length).toBeGreaterThan(0.95);
  });

  it('is deterministic for a seed, and three classes give probabilities that sum to 1', () => {
    const d = xorData(300);
    const y3 = d.X.map((x) => (x[0] < 0.33 ? 0 : x[0] < 0.66 ? 1 : 2));
    const a = trainGbt(d.X, y3, ['lo', 'mid', 'hi'], ['a', 'b', 'noise'], params);
    const b = trainGbt(d.X, y3, ['lo', 'mid', 'hi'], ['a', 'b', 'noise'], params);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const p = predictProba(a, [0.5, 0.5, 0.5]);
    expect(p.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(predictClass(a, [0.1, 0.9, 0.2])).toBe('lo');
    expect(predictClass(a, [0.9, 0.1, 0.2])).toBe('hi');
  });

  it('averages bagged models: the merged model has the mean of the models logits', () => {
    const d = xorData(300);
    const y3 = d.X.map((x) => (x[0] < 0.33 ? 0 : x[0] < 0.66 ? 1 : 2));
    const models = [1, 2].map((seed) => trainGbt(d.X, y3, ['lo', 'mid', 'hi'], ['a', 'b', 'noise'], { ...params, seed }));
    const merged = averageLogits(models);
    expect(merged.trees).toHaveLength(2 * params.rounds);
    const logits = (p: number[]) => p.map((v) => Math.log(v / p[0]));
    for (const x of [
      [0.1, 0.9, 0.2],
      [0.5, 0.5, 0.5],
      [0.8, 0.3, 0.7],
    ]) {
      const [a, b] = models.map((m) => logits(predictProba(m, x)));
      logits(predictProba(merged, x)).forEach((v, k) => expect(v).toBeCloseTo((a[k] + b[k]) / 2, 9));
    }
  });
});
