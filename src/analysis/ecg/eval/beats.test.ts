import { describe, expect, it } from 'vitest';
import { matchBeats, sePp } from './beats.ts';

const fs = 1000; // 1 sample = 1 ms, so offsets read directly
const noLearning = { fs, learningS: 0 };

describe('matchBeats (EC57 rules)', () => {
  it('matches within 150 ms and not beyond', () => {
    expect(matchBeats([1000], [1149], noLearning)).toEqual({ tp: 1, fn: 0, fp: 0 });
    expect(matchBeats([1000], [851], noLearning)).toEqual({ tp: 1, fn: 0, fp: 0 });
    expect(matchBeats([1000], [1151], noLearning)).toEqual({ tp: 0, fn: 1, fp: 1 });
  });
  it('lets a reference beat match at most one detection', () => {
    expect(matchBeats([1000], [990, 1010], noLearning)).toEqual({ tp: 1, fn: 0, fp: 1 });
  });
  it('gives a detection to the closer of two reference beats', () => {
    // 1120 is within 150 ms of both; it belongs to 1200 (80 ms) rather than 1000 (120 ms).
    expect(matchBeats([1000, 1200], [1120], noLearning)).toEqual({ tp: 1, fn: 1, fp: 0 });
  });
  it('does not score the 5-minute learning period', () => {
    const ref = [100_000, 299_000, 301_000, 400_000];
    const det = [150_000, 301_010, 350_000];
    // Only 301 000 (TP), 400 000 (FN) and the detection at 350 000 (FP) are scored.
    expect(matchBeats(ref, det, { fs })).toEqual({ tp: 1, fn: 1, fp: 1 });
  });
  it('suspends scoring inside excluded intervals (ventricular flutter)', () => {
    expect(matchBeats([1000, 2000], [1500, 1600, 2000], { ...noLearning, excluded: [[1400, 1700]] })).toEqual({ tp: 1, fn: 1, fp: 0 });
  });
  it('computes Se and +P', () => {
    expect(sePp({ tp: 90, fn: 10, fp: 30 })).toEqual({ se: 0.9, ppv: 0.75 });
  });
});
