import { describe, it, expect } from 'vitest';
import { extractShapeFeatures, SHAPE_FEATURE_NAMES } from './features-shape.ts';

const FS = 300; // Hz
const named = (v: number[]) => Object.fromEntries(SHAPE_FEATURE_NAMES.map((n, i) => [n, v[i]]));

/** Gaussian waves [offset from R s, amplitude mV, width s] at each beat; `pOffset(k)` moves beat k's P wave. */
function ecg(beats: number[], opts: { tAmp?: number; sAmp?: number; pOffset?: (k: number) => number } = {}): Float32Array {
  const x = new Float32Array(beats[beats.length - 1] + FS);
  beats.forEach((b, k) => {
    const waves: Array<[number, number, number]> = [
      [opts.pOffset?.(k) ?? -0.16, 0.15, 0.02],
      [0, 1.2, 0.012],
      [0.035, opts.sAmp ?? -0.25, 0.012],
      [0.3, opts.tAmp ?? 0.3, 0.05],
    ];
    for (const [off, amp, w] of waves) {
      const c = b + off * FS;
      for (let i = Math.max(0, Math.floor(c - 4 * w * FS)); i < Math.min(x.length, c + 4 * w * FS); i++)
        x[i] += amp * Math.exp(-(((i - c) / FS) ** 2) / (2 * w * w));
    }
  });
  return x;
}
const beats = Array.from({ length: 30 }, (_, k) => FS + k * 240); // 75 bpm

describe('QRS shape and PR consistency features', () => {
  it('has one value per name, and a normal beat has an upright T, a shallow S and a steady PR', () => {
    const f = named(extractShapeFeatures(ecg(beats), beats, FS));
    expect(Object.keys(f)).toHaveLength(SHAPE_FEATURE_NAMES.length);
    expect(f.tSignedRel).toBeCloseTo(0.25, 1);
    expect(f.sDepthRel).toBeGreaterThan(0.1);
    expect(f.sDepthRel).toBeLessThan(0.3);
    expect(f.prIqr).toBeLessThan(0.01);
    expect(f.prOffFrac).toBe(0);
  });

  it('sees an inverted T wave and a deep S', () => {
    const f = named(extractShapeFeatures(ecg(beats, { tAmp: -0.4, sAmp: -0.9 }), beats, FS));
    expect(f.tSignedRel).toBeLessThan(-0.2);
    expect(f.sDepthRel).toBeGreaterThan(0.5);
  });

  it('sees a PR interval that changes from beat to beat (Wenckebach-like lengthening)', () => {
    const f = named(extractShapeFeatures(ecg(beats, { pOffset: (k) => -0.12 - 0.03 * (k % 4) }), beats, FS));
    expect(f.prIqr).toBeGreaterThan(0.02);
    expect(f.prOffFrac).toBeGreaterThan(0.2);
  });

  it('marks what fewer than 3 beats cannot measure as NaN', () => {
    expect(extractShapeFeatures(ecg(beats.slice(0, 2)), beats.slice(0, 2), FS).every(Number.isNaN)).toBe(true);
  });
});
