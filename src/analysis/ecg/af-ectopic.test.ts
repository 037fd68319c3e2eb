import { describe, expect, it } from 'vitest';
import { createAfDetector, detectAfEpisodes, AF_ECTOPIC_RUN, type PetrenasUpdate } from './af-petrenas.ts';
import type { AfDetector } from './af.ts';

const fs = 250;
function beatsFrom(rr: number[]): number[] {
  const b = [0];
  for (const r of rr) b.push(b[b.length - 1] + Math.round(r * fs));
  return b;
}
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('AF detector ectopic-beat filter', () => {
  it('keeps sinus rhythm with frequent isolated atrial premature beats (non-compensatory pause) out of AF', () => {
    // Sinus 0.8 s ± 1 %; every 1–3 sinus beats an atrial premature beat at 50–75 % of the cycle whose
    // following interval is only 1.1–1.25 × (the sinus node is reset: no full compensatory pause).
    const rand = rng(7);
    const rr: number[] = [];
    while (rr.length < 800) {
      for (let i = 0, n = 1 + Math.floor(3 * rand()); i < n; i++) rr.push(0.8 * (1 + 0.01 * (rand() - 0.5)));
      rr.push(0.8 * (0.5 + 0.25 * rand()), 0.8 * (1.1 + 0.15 * rand()));
    }
    expect(detectAfEpisodes(beatsFrom(rr), fs)).toEqual([]);
  });

  it('without the filter the same sequence is flagged (the filter is what keeps it out)', () => {
    const rand = rng(7);
    const rr: number[] = [];
    while (rr.length < 800) {
      for (let i = 0, n = 1 + Math.floor(3 * rand()); i < n; i++) rr.push(0.8 * (1 + 0.01 * (rand() - 0.5)));
      rr.push(0.8 * (0.5 + 0.25 * rand()), 0.8 * (1.1 + 0.15 * rand()));
    }
    expect(detectAfEpisodes(beatsFrom(rr), fs, undefined, { ectopicRun: 0 }).length).toBeGreaterThan(0);
  });

  it('still flags truly irregular RR (AF) as AF over nearly all of it', () => {
    const rand = rng(11);
    const rr = [...Array(100).fill(0.8), ...Array.from({ length: 600 }, () => 0.35 + 0.6 * rand()), ...Array(100).fill(0.8)];
    const b = beatsFrom(rr);
    const ep = detectAfEpisodes(b, fs);
    expect(ep).toHaveLength(1);
    expect(Math.abs(ep[0].start - b[100])).toBeLessThan(10 * 0.8 * fs);
    expect(Math.abs(ep[0].end - b[700])).toBeLessThan(10 * 0.8 * fs);
  });

  it('streams the same episodes as the whole-record call, with back-dated beats that never go backwards', () => {
    const rand = rng(3);
    const rr = [...Array(120).fill(0.75), ...Array.from({ length: 400 }, () => 0.4 + 0.5 * rand()), ...Array(120).fill(0.75)];
    const b = beatsFrom(rr);
    // The baseline is an AfDetector (af.ts's interface) whose decisions carry its irregularity statistic.
    const det: AfDetector<PetrenasUpdate> = createAfDetector({ fs });
    let last = -1;
    for (const t of b) {
      const u = det.push(t);
      if (u) {
        expect(u.beat).toBeGreaterThanOrEqual(last);
        expect(Number.isFinite(u.irregularity) && u.confidence >= 0 && u.confidence <= 1).toBe(true);
        last = u.beat;
      }
    }
    expect(det.finish()).toEqual(detectAfEpisodes(b, fs));
    expect(AF_ECTOPIC_RUN).toBeGreaterThanOrEqual(1);
  });
});
