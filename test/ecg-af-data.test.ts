/**
 * The AF evaluation's training rows and choice weights cover only the labelled span of a record
 * (scripts/eval/af-data.ts): time before the first rhythm label has no reference and must neither be
 * trained on nor weigh in the threshold choice.
 */
import { describe, expect, it } from 'vitest';
import { recordIntervals, recordRows, type AfRecord } from '../scripts/eval/af-data.ts';

const fs = 128;
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('AF evaluation rows', () => {
  it('weigh nothing before the first rhythm label and label AF by the reference intervals', () => {
    const rand = rng(4);
    const beats = [0];
    for (let i = 0; i < 2000; i++) beats.push(beats[beats.length - 1] + Math.round((0.5 + 0.4 * rand()) * fs));
    const from = beats[1000]; // labelling starts half way through
    const afStart = beats[1500];
    const rec: AfRecord = {
      id: 'test/1',
      db: 'ltafdb',
      fs,
      beats,
      refAf: [{ start: afStart, end: beats[2000] + 1 }],
      refAfib: [{ start: afStart, end: beats[2000] + 1 }],
      from,
      to: beats[2000],
    };
    const iv = recordIntervals(rec);
    expect(iv.n).toBeGreaterThan(1800);
    for (let i = 0; i < iv.n; i++) {
      const mid = (iv.start[i] + iv.end[i]) / 2;
      if (mid < from) expect(iv.w[i]).toBe(0);
      else expect(iv.w[i]).toBeCloseTo((iv.end[i] - iv.start[i]) / fs, 9);
      expect(iv.y[i]).toBe(mid >= afStart ? 1 : 0);
    }
    const rows = recordRows(rec, 1);
    expect(rows.X.length).toBe(Array.from(iv.w).filter((w, i) => i < iv.n && w > 0).length);
    expect(rows.w.every((w) => w > 0)).toBe(true);
  });
});
