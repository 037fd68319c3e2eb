import { describe, expect, it } from 'vitest';
import { fuseProbabilities } from './classify.ts';

describe('fuseProbabilities (the shipped CinC fusion rule)', () => {
  it('averages the two models by class name and takes the arg max', () => {
    const trees = { N: 0.5, A: 0.1, O: 0.35, '~': 0.05 };
    const cnn = { O: 0.7, N: 0.2, A: 0.05, '~': 0.05 }; // another key order: matched by class, not position
    const r = fuseProbabilities(trees, cnn);
    expect(r.probabilities.N).toBeCloseTo(0.35, 12);
    expect(r.probabilities.O).toBeCloseTo(0.525, 12);
    expect(r.label).toBe('O');
  });
  it('breaks a tie the way the evaluation did (first in N, A, O, ~)', () => {
    expect(fuseProbabilities({ N: 0.4, A: 0.4, O: 0.1, '~': 0.1 }, { N: 0.4, A: 0.4, O: 0.1, '~': 0.1 }).label).toBe('N');
  });
});
