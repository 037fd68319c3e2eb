import { describe, it, expect } from 'vitest';
import { extractWindowFeatures, WINDOW_FEATURE_NAMES } from './features-window.ts';

const FS = 300; // Hz, as the CinC 2017 recordings
const beatsFrom = (rr: readonly number[]) => {
  const out = [FS];
  for (const r of rr) out.push(out[out.length - 1] + Math.round(r * FS));
  return out;
};
const named = (v: number[]) => Object.fromEntries(WINDOW_FEATURE_NAMES.map((n, i) => [n, v[i]]));

/** Deterministic pseudo-random RR in [lo, hi] s (AF-like: no two successive intervals alike). */
function irregularRr(n: number, lo: number, hi: number): number[] {
  let s = 12345;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  });
}

describe('window and ectopy-cleaned RR features', () => {
  it('has one value per name', () => {
    expect(extractWindowFeatures(beatsFrom(new Array(40).fill(0.8)), FS)).toHaveLength(WINDOW_FEATURE_NAMES.length);
  });

  it('sees a steady sinus rhythm as regular in every window, with nothing removed', () => {
    const f = named(extractWindowFeatures(beatsFrom(new Array(40).fill(0.8)), FS));
    expect(f.winIrrFrac).toBe(0);
    expect(f.winRegularFrac).toBe(1);
    expect(f.cleanKept).toBe(1);
    expect(f.cleanRmssdRel).toBeLessThan(0.01);
  });

  it('sees AF-like intervals as irregular in most windows, and cleaning does not make them regular', () => {
    const f = named(extractWindowFeatures(beatsFrom(irregularRr(60, 0.4, 1.1)), FS));
    expect(f.winIrrFrac).toBeGreaterThan(0.8);
    expect(f.winIrrP10).toBeGreaterThan(0.08);
    expect(f.cleanRmssdRel).toBeGreaterThan(0.2);
    expect(f.cleanSampEn).toBeGreaterThan(1);
  });

  it('tells paroxysmal irregularity by its share of windows: half a record irregular', () => {
    const f = named(extractWindowFeatures(beatsFrom([...new Array(30).fill(0.8), ...irregularRr(30, 0.4, 1.1)]), FS));
    expect(f.winIrrFrac).toBeGreaterThan(0.3);
    expect(f.winIrrFrac).toBeLessThan(0.7);
    expect(f.winIrrP10).toBeLessThan(0.03);
  });

  it('drops premature beats with their compensatory pause, so sinus rhythm with ectopy becomes regular', () => {
    const rr: number[] = [];
    for (let i = 0; i < 12; i++) rr.push(0.8, 0.8, 0.5, 1.1); // an atrial premature beat every 4th beat
    const f = named(extractWindowFeatures(beatsFrom(rr), FS));
    expect(f.cleanKept).toBeCloseTo(0.5, 1);
    expect(f.cleanRmssdRel).toBeLessThan(0.01);
    expect(f.winIrrFrac).toBeGreaterThan(0.5); // before cleaning, every window holds an ectopic pair
  });

  it('marks what a few beats cannot measure as NaN', () => {
    const f = named(extractWindowFeatures(beatsFrom([0.8, 0.8, 0.8]), FS));
    for (const [name, v] of Object.entries(f)) if (name !== 'cleanKept') expect(v, name).toBeNaN();
    expect(f.cleanKept).toBe(1); // nothing premature among 3 intervals
  });
});
