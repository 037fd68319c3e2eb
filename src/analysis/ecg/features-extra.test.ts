import { describe, expect, it } from 'vitest';
import { extractFeatures, FEATURE_NAMES } from './features.ts';
import { syntheticEcg, beatTimes } from './testdata.ts';
import { classifyRecord } from './classify.ts';

const fs = 300;
const pick = (f: number[]) => (name: (typeof FEATURE_NAMES)[number]) => f[FEATURE_NAMES.indexOf(name)];
const steady = beatTimes(Array(36).fill(0.8));

describe('second-generation short-record features', () => {
  it('a clean sinus rhythm: both QRS detectors agree, every beat has a P wave, narrow QRS, no flat or clipped signal', () => {
    const f = pick(extractFeatures(syntheticEcg(fs, steady, 30, 0.01), fs));
    expect(f('bsqi')).toBeGreaterThan(0.95);
    expect(f('pPresentFrac')).toBeGreaterThan(0.9);
    expect(f('qrsWidthMedian')).toBeLessThan(0.06);
    expect(f('wideBeatFrac')).toBe(0);
    expect(f('flatFrac')).toBe(0);
    expect(f('seconds')).toBe(30);
  });

  it('heavy broadband noise makes the two detectors disagree', () => {
    const clean = pick(extractFeatures(syntheticEcg(fs, steady, 30, 0.01), fs));
    const noisy = pick(extractFeatures(syntheticEcg(fs, steady, 30, 1.5, 7), fs));
    expect(noisy('bsqi')).toBeLessThan(clean('bsqi') - 0.2);
  });

  it('fibrillatory waves (6 Hz) in place of P waves raise the AF-band share of the residual left after QRST cancellation', () => {
    const rr = Array.from({ length: 40 }, (_, i) => 0.55 + 0.35 * Math.abs(Math.sin(i * 2.3)));
    const t = beatTimes(rr);
    const irregular = syntheticEcg(fs, t, 30, 0.01); // the same irregular rhythm with P waves, no f waves
    const x = syntheticEcg(fs, t, 30, 0.01);
    // Remove the P waves (the generator's first wave, −200 ms, 0.15 mV) and add 6.1 Hz f waves of 0.1 mV.
    for (const b of t) {
      const c = (b - 0.2) * fs;
      for (let i = Math.max(0, Math.floor(c - 30)); i < Math.min(x.length, c + 30); i++) x[i] -= 0.15 * Math.exp(-(((i - c) / fs) ** 2) / (2 * 0.025 ** 2));
    }
    for (let i = 0; i < x.length; i++) x[i] += 0.1 * Math.sin((2 * Math.PI * 6.1 * i) / fs);
    const af = pick(extractFeatures(x, fs));
    const ref = pick(extractFeatures(irregular, fs));
    expect(af('afPeakHz')).toBeGreaterThanOrEqual(5.5);
    expect(af('afPeakHz')).toBeLessThanOrEqual(6.5);
    expect(af('afBandRel')).toBeGreaterThan(ref('afBandRel') + 0.05);
    expect(af('afPeakConc')).toBeGreaterThan(ref('afPeakConc') + 0.05);
  });

  it('bigeminy separates the RR intervals into two clusters and alternates', () => {
    const t = beatTimes(Array.from({ length: 40 }, (_, i) => (i % 2 ? 1.0 : 0.55)));
    const f = pick(extractFeatures(syntheticEcg(fs, t, 33, 0.01), fs));
    expect(f('cluster2Sep')).toBeGreaterThan(5);
    expect(f('altSign')).toBeGreaterThan(0.9);
  });
});

describe('the shipped short-record classifier', () => {
  it('matches the feature set and calls a clean synthetic sinus rhythm normal', () => {
    const c = classifyRecord(syntheticEcg(fs, steady, 30, 0.01), fs);
    expect(Object.keys(c.probabilities).sort()).toEqual(['A', 'N', 'O', '~'].sort());
    expect(c.label).toBe('N');
  });
});
