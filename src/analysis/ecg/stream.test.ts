import { describe, expect, it } from 'vitest';
import { createEcgStreamAnalyzer, ECG_ALGORITHM } from './index.ts';
import { beatTimes, syntheticEcg } from './testdata.ts';

describe('createEcgStreamAnalyzer (live device chunks)', () => {
  it('reports beats with global indices, heart rate and good quality on a clean 75 /min signal', () => {
    const fs = 250;
    const x = syntheticEcg(fs, beatTimes(Array(40).fill(0.8)), 34);
    const adc = Int16Array.from(x, (v) => Math.round(v * 200)); // 200 adu/mV device
    const a = createEcgStreamAnalyzer({ fs, gain: 200 });
    const beats: number[] = [];
    let last;
    for (let i = 0; i < adc.length; i += fs) {
      last = a.push(adc.subarray(i, i + fs), i);
      beats.push(...last.beats);
    }
    expect(beats.length).toBeGreaterThanOrEqual(39);
    expect(Math.abs(beats[5] - Math.round((0.5 + 5 * 0.8) * fs))).toBeLessThan(0.02 * fs);
    expect(last!.heartRate).toBeCloseTo(75, 0);
    expect(last!.quality.index).toBeGreaterThan(0.8);
    expect(last!.af.inAf).toBe(false);
    expect(ECG_ALGORITHM.version).toMatch(/^\d+\.\d+\.\d+$/);
  });
  it('shifts beat indices after a gap in the stream (startIndex jumps)', () => {
    const fs = 250;
    const x = syntheticEcg(fs, beatTimes(Array(20).fill(0.8)), 17);
    const a = createEcgStreamAnalyzer({ fs });
    const beats: number[] = [];
    for (let i = 0; i < x.length; i += fs) beats.push(...a.push(x.subarray(i, i + fs), 1_000_000 + i).beats);
    expect(beats.length).toBeGreaterThan(15);
    expect(beats.every((b) => b >= 1_000_000)).toBe(true);
  });
  it('lowers quality on a flat line instead of reporting beats', () => {
    const a = createEcgStreamAnalyzer({ fs: 250 });
    let r;
    for (let i = 0; i < 10; i++) r = a.push(new Float32Array(250));
    expect(r!.beats).toEqual([]);
    expect(r!.quality.flatline).toBe(true);
    expect(r!.quality.index).toBe(0);
  });
});
