import { describe, expect, it } from 'vitest';
import { predictProba } from './gbt.ts';
import { createAfDetector, detectAfEpisodes, defaultAfModel, afDelayBeats, afProbability, AfDecisions, AF_SMOOTH_GRID, AF_HYSTERESIS_GRID } from './af.ts';
import { RrFeatureStream, AF_FEATURE_NAMES } from './af-features.ts';
import { compareDurations } from './eval/duration.ts';

const fs = 128;
function beatsFrom(rr: number[]): number[] {
  const b = [0];
  for (const r of rr) b.push(b[b.length - 1] + Math.round(r * fs));
  return b;
}
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('RR window features', () => {
  it('are rate-independent except the mean RR, and near zero irregularity for a steady rhythm', () => {
    const rand = rng(5);
    const rr = Array.from({ length: 200 }, () => 0.6 + 0.4 * rand());
    const a = new RrFeatureStream(),
      b = new RrFeatureStream();
    let fa: number[] = [],
      fb: number[] = [];
    for (const r of rr) {
      fa = a.push(r)?.features ?? fa;
      fb = b.push(2 * r)?.features ?? fb;
    }
    expect(fa).toHaveLength(AF_FEATURE_NAMES.length);
    AF_FEATURE_NAMES.forEach((name, k) => {
      if (name === 'meanRr') expect(fb[k]).toBeCloseTo(2 * fa[k], 9);
      else expect(fb[k]).toBeCloseTo(fa[k], 9);
    });
    const s = new RrFeatureStream();
    let f: number[] = [];
    for (let i = 0; i < 100; i++) f = s.push(0.8)?.features ?? f;
    expect(f[AF_FEATURE_NAMES.indexOf('irrMedian')]).toBe(0);
    expect(f[AF_FEATURE_NAMES.indexOf('nRmssd')]).toBe(0);
  });
});

describe('atrial-ectopy discriminating features', () => {
  const last = (rr: number[]) => {
    const st = new RrFeatureStream();
    let f: number[] = [];
    for (const r of rr) f = st.push(r)?.features ?? f;
    return (name: (typeof AF_FEATURE_NAMES)[number]) => f[AF_FEATURE_NAMES.indexOf(name)];
  };
  it('separate bigeminy (repeating short-long pairs) from AF with the same spread of RR', () => {
    const rand = rng(21);
    const big = last(Array.from({ length: 200 }, (_, i) => (i % 2 ? 1.0 : 0.55) * (1 + 0.01 * (rand() - 0.5))));
    const af = last(Array.from({ length: 200 }, () => 0.55 + 0.45 * rand()));
    // Bigeminy: templates repeat (low sample entropy), a few Lorenz clusters, two ratio modes (≈ 1 bit).
    expect(big('sampEn')).toBeLessThan(af('sampEn'));
    expect(big('lorenzCells')).toBeLessThan(0.2);
    expect(af('lorenzCells')).toBeGreaterThan(0.5);
    expect(big('ratioEntropy')).toBeLessThan(1.5);
    expect(af('ratioEntropy')).toBeGreaterThan(2.5);
    // Steady sinus: every successive-difference pair sits in the origin cell.
    const sinus = last(Array(200).fill(0.8));
    expect(sinus('lorenzOrigin')).toBe(1);
    expect(sinus('lorenzCells')).toBe(0);
  });

  it('leave a regular rhythm behind once premature beats and their pauses are removed, and AF irregular', () => {
    const rand = rng(13);
    // Sinus 0.8 s ± 1 % with an atrial premature beat after every 1–3 sinus beats (about a quarter of beats).
    const rr: number[] = [];
    while (rr.length < 200) {
      for (let i = 0, n = 1 + Math.floor(3 * rand()); i < n; i++) rr.push(0.8 * (1 + 0.02 * (rand() - 0.5)));
      rr.push(0.8 * (0.5 + 0.25 * rand()), 0.8 * (1.1 + 0.15 * rand()));
    }
    const apc = last(rr);
    const af = last(Array.from({ length: 200 }, () => 0.5 + 0.5 * rand()));
    expect(apc('filteredIrr')).toBeLessThan(0.02); // the sinus beats left: successive differences under 2 %
    expect(af('filteredIrr')).toBeGreaterThan(0.1);
    expect(apc('nearMedian')).toBeGreaterThan(0.4); // a sharp mode at the sinus cycle
    expect(af('nearMedian')).toBeLessThan(0.3); // uniform RR over ±33 %: about 18 % expected
    expect(apc('prematureShare')).toBeGreaterThan(0.15);
    // Bigeminy: every other interval premature, so no pair survives and the filtered irregularity is undefined.
    const big = last(Array.from({ length: 200 }, (_, i) => (i % 2 ? 1.0 : 0.55)));
    expect(big('filteredPairs')).toBe(0);
    expect(big('filteredIrr')).toBeNaN();
    const sinus = last(Array(200).fill(0.8));
    expect(sinus('filteredPairs')).toBe(1);
    expect(sinus('filteredIrr')).toBe(0);
    expect(sinus('nearMedian')).toBe(1);
  });
});

describe('sliding-window quantiles', () => {
  it('quantiles kept in sliding order equal those of the sorted window, across restarts', () => {
    const rand = rng(41);
    const st = new RrFeatureStream();
    const rr: number[] = [];
    for (let i = 0; i < 400; i++) {
      if (i === 200) st.reset();
      const v = 0.4 + 0.6 * rand();
      const out = st.push(v);
      rr.push(v);
      if (!out || i < 260) continue;
      // Brute force: the causal irregularity of each of the 61 intervals of the window, then its median.
      const irr = (k: number) => {
        const loc = (rr[k - 1] + rr[k - 2] + rr[k - 3]) / 3;
        return Math.min(...[1, 2, 3, 4].map((j) => Math.abs(rr[k] - rr[k - j]))) / loc;
      };
      const w = Array.from({ length: 61 }, (_, j) => irr(i - 60 + j)).sort((a, b) => a - b);
      expect(out.features[AF_FEATURE_NAMES.indexOf('irrMedian')]).toBeCloseTo(w[30], 12);
      const core = Array.from({ length: 21 }, (_, j) => irr(i - 40 + j)).sort((a, b) => a - b);
      expect(out.features[AF_FEATURE_NAMES.indexOf('irrCoreMedian')]).toBeCloseTo(core[10], 12);
    }
  });
});

describe('learned RR-interval AF detector (bundled model)', () => {
  it('flags an irregularly irregular stretch as one episode and nothing around it', () => {
    const rand = rng(11);
    const rr = [...Array(200).fill(0.8), ...Array.from({ length: 600 }, () => 0.35 + 0.6 * rand()), ...Array(200).fill(0.8)];
    const b = beatsFrom(rr);
    const ep = detectAfEpisodes(b, fs);
    expect(ep).toHaveLength(1);
    const c = compareDurations([{ start: b[200], end: b[800] }], ep, b[0], b[b.length - 1]);
    // Edges may move by the window half plus the smoothing (afDelayBeats) at each end of the 600 beats.
    expect(c.tp / (c.tp + c.fn)).toBeGreaterThan(1 - (2 * afDelayBeats()) / 600);
    expect(c.tn / (c.tn + c.fp)).toBeGreaterThan(0.95);
  });

  it('does not flag sinus rhythm with frequent premature beats, bigeminy or trigeminy', () => {
    const rand = rng(7);
    const rr: number[] = [];
    while (rr.length < 600) {
      for (let i = 0, n = 1 + Math.floor(3 * rand()); i < n; i++) rr.push(0.8 * (1 + 0.02 * (rand() - 0.5)));
      rr.push(0.8 * (0.6 + 0.1 * rand()), 0.8 * (1.2 + 0.1 * rand()));
    }
    for (let i = 0; i < 300; i++) rr.push(i % 2 ? 1.0 : 0.55); // ventricular bigeminy
    for (let i = 0; i < 300; i++) rr.push(i % 3 === 2 ? 1.05 : i % 3 === 1 ? 0.5 : 0.75); // trigeminy
    expect(detectAfEpisodes(beatsFrom(rr), fs)).toEqual([]);
  });

  it('streams the same episodes as the whole-record call, deciding each beat afDelayBeats() beats late', () => {
    const rand = rng(3);
    const rr = [...Array(150).fill(0.75), ...Array.from({ length: 400 }, () => 0.4 + 0.5 * rand()), ...Array(150).fill(0.75)];
    const b = beatsFrom(rr);
    const det = createAfDetector({ fs });
    let last = -1;
    b.forEach((t, i) => {
      const u = det.push(t);
      if (u) {
        expect(u.beat).toBeGreaterThan(last);
        expect(u.beat).toBe(b[i - afDelayBeats()]);
        expect(u.probability).toBeGreaterThanOrEqual(0);
        expect(u.confidence).toBeLessThanOrEqual(1);
        last = u.beat;
      }
    });
    expect(det.finish()).toEqual(detectAfEpisodes(b, fs));
  });

  it('skips noise detections, restarts after a gap and ignores beats out of order', () => {
    const rand = rng(9);
    const rr = Array.from({ length: 300 }, () => 0.4 + 0.5 * rand());
    const b = beatsFrom(rr);
    const noisy = [...b.slice(0, 100), b[100] + 5, ...b.slice(101, 150), b[149] - 10, ...b.slice(150).map((x) => x + 10 * fs)];
    const ep = detectAfEpisodes(noisy, fs);
    expect(ep.length).toBeGreaterThanOrEqual(1);
    expect(ep[0].end).toBeGreaterThan(ep[0].start);
  });

  it('computes the very probability gbt.ts predictProba does', () => {
    const m = defaultAfModel();
    const rand = rng(5);
    for (let k = 0; k < 200; k++) {
      const x = m.features.map(() => (rand() < 0.05 ? NaN : 2 * rand() - 0.5));
      expect(afProbability(m, x)).toBe(predictProba(m, x)[1]);
    }
  });

  it('ships a model that matches the feature set, with a threshold chosen in (0, 1)', () => {
    const m = defaultAfModel();
    expect(m.features).toEqual([...AF_FEATURE_NAMES]);
    expect(m.threshold).toBeGreaterThan(0);
    expect(m.threshold).toBeLessThan(1);
    expect(AF_SMOOTH_GRID).toContain(m.smooth);
    const gap = +(m.threshold - (m.offThreshold ?? m.threshold)).toFixed(2);
    expect(AF_HYSTERESIS_GRID).toContain(gap);
  });
});

describe('AF decisions (AfDecisions)', () => {
  // One decision per pushed probability (no smoothing); interval k spans [k, k + 1).
  const run = (p: number[], on: number, off?: number) => {
    const d = new AfDecisions(on, 0, off);
    p.forEach((x, k) => d.push(x, k, k + 1));
    return d.finish(p.length);
  };
  const dip = [0.1, 0.1, 0.9, 0.9, 0.55, 0.9, 0.9, 0.1, 0.1];

  it('without hysteresis a dip below the threshold splits the episode', () => {
    expect(run(dip, 0.6)).toEqual([
      { start: 2, end: 4 },
      { start: 5, end: 7 },
    ]);
  });

  it('with hysteresis an episode opens above the on threshold and closes only at or below the off one', () => {
    expect(run(dip, 0.6, 0.5)).toEqual([{ start: 2, end: 7 }]);
    // A rise to between the two thresholds outside an episode opens nothing.
    expect(run([0.1, 0.55, 0.55, 0.1], 0.6, 0.5)).toEqual([]);
    expect(run([0.1, 0.5, 0.1], 0.6, 0.5)).toEqual([]);
  });

  it('refuses an off threshold above the on threshold', () => {
    expect(() => new AfDecisions(0.5, 0, 0.6)).toThrow(RangeError);
  });
});
