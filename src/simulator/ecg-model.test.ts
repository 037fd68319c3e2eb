import { describe, expect, it } from 'vitest';
import { createEcgModel, type EcgRhythm } from './ecg-model.ts';

const FS = 250;

function record(seconds: number, rhythm: EcgRhythm, seed = 7, rAmplitude = 1200): number[] {
  const model = createEcgModel({ seed, fs: FS, rAmplitude });
  const out: number[] = [];
  for (let s = 0; s < seconds; s++) out.push(...model.next(FS, rhythm)); // 1 s chunks, as devices send
  return out;
}

/** R peaks by simple threshold: local maxima above 60 % of the largest sample, 200 ms refractory. */
function rPeaks(x: number[]): number[] {
  const threshold = 0.6 * Math.max(...x);
  const peaks: number[] = [];
  for (let i = 1; i < x.length - 1; i++) {
    if (x[i]! >= threshold && x[i]! >= x[i - 1]! && x[i]! > x[i + 1]!) {
      if (peaks.length === 0 || i - peaks[peaks.length - 1]! > 0.2 * FS) peaks.push(i);
    }
  }
  return peaks;
}

function rrCv(peaks: number[]): number {
  const rr = peaks.slice(1).map((p, i) => (p - peaks[i]!) / FS);
  const mean = rr.reduce((a, b) => a + b, 0) / rr.length;
  const sd = Math.sqrt(rr.reduce((a, b) => a + (b - mean) ** 2, 0) / (rr.length - 1));
  return sd / mean;
}

describe('ECG model (sum-of-Gaussians beats)', () => {
  it.each([50, 72, 120])('produces beats at the requested rate (%i /min)', (hr) => {
    const x = record(60, { hr, rr: 15, af: false });
    expect(Math.abs(rPeaks(x).length - hr)).toBeLessThanOrEqual(2);
  });

  it('has realistic lead II amplitudes in integer µV', () => {
    const x = record(20, { hr: 70, rr: 15, af: false });
    expect(x.every(Number.isInteger)).toBe(true);
    const peaks = rPeaks(x);
    for (const p of peaks) {
      expect(x[p]).toBeGreaterThan(900);
      expect(x[p]).toBeLessThan(1800);
    }
    expect(Math.min(...x)).toBeGreaterThan(-700); // S wave and wander, not a second R
  });

  it('sinus rhythm is nearly regular (RSA only), AF is irregularly irregular', () => {
    const sinus = rrCv(rPeaks(record(120, { hr: 75, rr: 15, af: false })));
    const af = rrCv(rPeaks(record(120, { hr: 110, rr: 15, af: true })));
    expect(sinus).toBeLessThan(0.08);
    expect(af).toBeGreaterThan(0.15);
  });

  it('has P waves in sinus rhythm and none in AF (R-aligned average)', () => {
    const pWave = (af: boolean): number => {
      const x = record(120, { hr: 70, rr: 15, af });
      const peaks = rPeaks(x).filter((p) => p > FS && p < x.length - FS);
      const at = (offsetS: number): number => peaks.reduce((sum, p) => sum + x[p + Math.round(offsetS * FS)]!, 0) / peaks.length;
      return at(-0.18) - at(-0.27); // P peak above the preceding baseline
    };
    expect(pWave(false)).toBeGreaterThan(80);
    expect(Math.abs(pWave(true))).toBeLessThan(40);
  });

  it('is reproducible from its seed and continuous across chunks', () => {
    expect(record(5, { hr: 70, rr: 15, af: false }, 3)).toEqual(record(5, { hr: 70, rr: 15, af: false }, 3));
    const x = record(10, { hr: 70, rr: 15, af: false });
    // No jump at chunk boundaries larger than the QRS slopes inside chunks.
    const maxStep = Math.max(...x.slice(1).map((v, i) => Math.abs(v - x[i]!)));
    for (let b = FS; b < x.length; b += FS) expect(Math.abs(x[b]! - x[b - 1]!)).toBeLessThanOrEqual(maxStep);
  });
});
