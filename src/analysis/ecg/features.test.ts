import { describe, expect, it } from 'vitest';
import { extractFeatures, FEATURE_NAMES } from './features.ts';
import { syntheticEcg, beatTimes } from './testdata.ts';

const fs = 300;
const pick = (f: number[]) => (name: (typeof FEATURE_NAMES)[number]) => f[FEATURE_NAMES.indexOf(name)];

describe('short-record beat features', () => {
  it('read PR and T-peak timing off the template of a steady sinus rhythm, with no ectopic beats', () => {
    const f = pick(extractFeatures(syntheticEcg(fs, beatTimes(Array(36).fill(0.8)), 30, 0.01), fs));
    expect(f('prInterval')).toBeCloseTo(0.2, 1); // the synthetic P wave peaks 200 ms before R
    expect(f('tPeakQtc')).toBeCloseTo(0.3 / Math.sqrt(0.8), 1); // T peak 300 ms after R, over √RR
    expect(f('ectopicWideFrac')).toBe(0);
    expect(f('ectopicNarrowFrac')).toBe(0);
    expect(f('rrP10Rel')).toBeCloseTo(1, 2);
  });

  it('count premature beats by shape: template-shaped (atrial-like) apart from wide, differently shaped (ventricular-like)', () => {
    // Every 4th beat comes early (0.5 s after a 0.8 s rhythm) and is followed by a pause.
    const rr = Array.from({ length: 40 }, (_, i) => (i % 4 === 3 ? 0.5 : i % 4 === 0 && i > 0 ? 1.1 : 0.8));
    const t = beatTimes(rr);
    const narrow = pick(extractFeatures(syntheticEcg(fs, t, 32, 0.01), fs));
    expect(narrow('ectopicNarrowFrac')).toBeGreaterThan(0.15);
    expect(narrow('ectopicWideFrac')).toBeLessThan(0.05);
    // The same timing, but the early beats are broad monophasic complexes without a P wave (PVC-like).
    const normal = t.filter((_, i) => i % 4 !== 0 || i === 0);
    const x = syntheticEcg(fs, normal, 32, 0.01);
    for (const b of t.filter((_, i) => i % 4 === 0 && i > 0)) {
      for (let i = Math.round((b - 0.2) * fs); i < Math.round((b + 0.2) * fs); i++) x[i] -= 1.4 * Math.exp(-(((i / fs - b) / 0.04) ** 2) / 2);
    }
    const wide = pick(extractFeatures(x, fs));
    expect(wide('ectopicWideFrac')).toBeGreaterThan(0.15);
    expect(wide('ectopicNarrowFrac')).toBeLessThan(0.05);
  });
});
