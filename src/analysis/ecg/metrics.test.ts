import { describe, expect, it } from 'vitest';
import { heartRateSummary } from './hrv.ts';
import { assessQuality } from './quality.ts';
import { detectAfEpisodes, afDelayBeats } from './af.ts';
import { syntheticEcg, beatTimes } from './testdata.ts';
import { compareDurations } from './eval/duration.ts';
import { challengeScore, stratifiedFolds } from './eval/f1.ts';

describe('heartRateSummary', () => {
  it('computes HR, SDNN and RMSSD from alternating 0.95/1.05 s intervals', () => {
    const beats = [0];
    for (let i = 0; i < 10; i++) beats.push(beats[beats.length - 1] + (i % 2 ? 1050 : 950));
    const s = heartRateSummary(beats, 1000);
    expect(s.heartRate).toBeCloseTo(60, 5);
    expect(s.rmssd).toBeCloseTo(100, 5);
    expect(s.sdnn).toBeCloseTo(Math.sqrt((10 * 50 ** 2) / 9), 5);
  });
  it('drops an implausible interval and does not take differences across it', () => {
    // RR 1.0, 1.0, 0.1 (a double detection), 0.9, 1.0 s: the 0.1 s interval is dropped and the
    // differences are 1.0→1.0 and 0.9→1.0 only (not 1.0→0.9 across the dropped one).
    const s = heartRateSummary([0, 1000, 2000, 2100, 3000, 4000], 1000);
    expect(s.rejected).toBe(1);
    expect(s.intervals).toBe(4);
    expect(s.rmssd).toBeCloseTo(Math.sqrt((0 + 0.1 ** 2) / 2) * 1000, 6);
  });
});

describe('assessQuality', () => {
  const fs = 360;
  const clean = syntheticEcg(fs, beatTimes(Array(6).fill(0.8)), 5);
  it('scores a clean ECG high', () => {
    const q = assessQuality(clean, fs, 6);
    expect(q.index).toBeGreaterThan(0.8);
    expect(q.flatline || q.saturated || q.rateImplausible).toBe(false);
  });
  it('scores broadband noise, clipping and a flat line low', () => {
    expect(assessQuality(syntheticEcg(fs, beatTimes(Array(6).fill(0.8)), 5, 0.5), fs, 6).index).toBeLessThan(0.5);
    const clipped = clean.map((v) => Math.min(v, 0.1));
    expect(assessQuality(clipped, fs).saturated).toBe(true);
    expect(assessQuality(new Float32Array(fs * 5), fs).index).toBe(0);
  });
  it('flags an implausible beat rate', () => {
    expect(assessQuality(clean, fs, 40).rateImplausible).toBe(true); // 480 /min
  });
});

describe('AF detector', () => {
  const fs = 250;
  let s = 3;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  function beatsFrom(rr: number[]): number[] {
    const b = [0];
    for (const r of rr) b.push(b[b.length - 1] + Math.round(r * fs));
    return b;
  }
  it('does not flag sinus rhythm with isolated premature beats or bigeminy', () => {
    const rr: number[] = [];
    for (let i = 0; i < 300; i++) rr.push(i % 10 === 5 ? 0.5 : i % 10 === 6 ? 1.1 : 0.8 + 0.01 * rand());
    for (let i = 0; i < 200; i++) rr.push(i % 2 ? 1.0 : 0.55); // bigeminy
    expect(detectAfEpisodes(beatsFrom(rr), fs)).toEqual([]);
  });
  it('does not flag frequent premature beats at random positions (each with a compensatory pause)', () => {
    const rr: number[] = [];
    while (rr.length < 600) {
      if (rand() < 0.3)
        rr.push(0.8 * (0.6 + 0.2 * rand()), 0.8 * (1.25 + 0.1 * rand())); // PAC + pause
      else rr.push(0.8 + 0.02 * (rand() - 0.5));
    }
    expect(detectAfEpisodes(beatsFrom(rr), fs)).toEqual([]);
  });
  it('flags an irregularly irregular stretch, its edges blurred by at most the window and smoothing', () => {
    const rr = [...Array(150).fill(0.8), ...Array.from({ length: 300 }, () => 0.35 + 0.6 * rand()), ...Array(150).fill(0.8)];
    const b = beatsFrom(rr);
    const ep = detectAfEpisodes(b, fs);
    expect(ep).toHaveLength(1);
    // The learned detector decides from ±30 intervals and averages ±smooth decisions: an edge may move by that much.
    const edge = afDelayBeats();
    expect(Math.abs(ep[0].start - b[150])).toBeLessThan(edge * 0.8 * fs);
    expect(Math.abs(ep[0].end - b[450])).toBeLessThan(edge * 0.8 * fs);
    const c = compareDurations([{ start: b[150], end: b[450] }], ep, b[0], b[b.length - 1]);
    expect(c.tp / (c.tp + c.fn)).toBeGreaterThan(1 - (2 * edge) / 300);
    expect(c.tn / (c.tn + c.fp)).toBeGreaterThan(0.95);
  });
});

describe('evaluation helpers', () => {
  it('compares durations of overlapping episodes', () => {
    expect(compareDurations([{ start: 100, end: 200 }], [{ start: 150, end: 250 }], 0, 1000)).toEqual({ tp: 50, fn: 50, fp: 50, tn: 850 });
  });
  it('scores CinC F1 per class and the N/A/O mean', () => {
    const r = challengeScore(['N', 'N', 'A', 'O', '~'], ['N', 'A', 'A', 'O', 'N']);
    expect(r.perClass.N).toBeCloseTo(0.5); // TP 1, FN 1, FP 1 → 2/(2+1+1)
    expect(r.perClass.A).toBeCloseTo(2 / 3);
    expect(r.perClass.O).toBe(1);
    expect(r.score).toBeCloseTo((0.5 + 2 / 3 + 1) / 3);
  });
  it('deals each class evenly over stratified folds', () => {
    const labels = [...Array(50).fill('N'), ...Array(10).fill('A')];
    const f = stratifiedFolds(labels, 5);
    for (let k = 0; k < 5; k++) {
      expect(labels.filter((l, i) => l === 'A' && f[i] === k)).toHaveLength(2);
      expect(labels.filter((l, i) => l === 'N' && f[i] === k)).toHaveLength(10);
    }
  });
});
