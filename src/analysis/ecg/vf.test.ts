import { describe, expect, it } from 'vitest';
import { detectBeats, createQrsDetector } from './qrs.ts';
import { createEcgStreamAnalyzer } from './index.ts';
import { VfDetector, vfFeatures } from './vf.ts';
import { beatTimes, syntheticEcg } from './testdata.ts';

/** Ventricular-flutter-like signal: a sine of slowly varying frequency around `hz` (mV). */
function flutter(fs: number, seconds: number, hz: number, amp = 1, seed = 3): Float32Array {
  const n = Math.round(seconds * fs);
  const x = new Float32Array(n);
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const f = hz * (1 + 0.1 * Math.sin((2 * Math.PI * i) / (3.7 * fs)));
    phase += (2 * Math.PI * f) / fs;
    x[i] = amp * Math.sin(phase) + 0.02 * (rand() - 0.5);
  }
  return x;
}

describe('VF/VFL detection', () => {
  for (const hz of [4, 5, 6]) {
    it(`flags a ${hz} Hz flutter sine and reports no beats in it`, () => {
      const fs = 250;
      const x = flutter(fs, 20, hz);
      expect(detectBeats(x, fs)).toEqual([]);
      const det = createQrsDetector({ fs });
      for (let i = 0; i < x.length; i += fs) det.push(x.subarray(i, i + fs));
      expect(det.vf?.inVf).toBe(true);
      det.flush();
      expect(det.vf?.episodes).toHaveLength(1);
      expect(det.vf!.episodes[0].start).toBeLessThanOrEqual(fs);
    });
  }
  for (const rr of [0.8, 0.4]) {
    it(`does not flag sinus rhythm at ${60 / rr} /min, clean or noisy`, () => {
      const fs = 360;
      for (const noise of [0, 0.05]) {
        const times = beatTimes(Array(Math.round(40 / rr)).fill(rr));
        const x = syntheticEcg(fs, times, times[times.length - 1] + 1, noise);
        const det = createQrsDetector({ fs });
        const beats = [...det.push(x), ...det.flush()];
        expect(det.vf?.episodes).toEqual([]);
        expect(beats.length).toBe(times.length);
      }
    });
  }
  it('measures TCSC and leakage: high/low for a sine, low/high for QRS complexes', () => {
    const fs = 360;
    const sine = flutter(fs, 3, 5);
    const f1 = vfFeatures(sine, 0, sine.length, fs);
    expect(f1.tcsc).toBeGreaterThan(0.7);
    expect(f1.leakage).toBeLessThan(0.2);
    expect(f1.frequency).toBeGreaterThan(4);
    expect(f1.frequency).toBeLessThan(6);
    const ecg = syntheticEcg(fs, beatTimes([0.8, 0.8, 0.8]), 3);
    const f2 = vfFeatures(ecg, 0, ecg.length, fs);
    expect(f2.tcsc).toBeLessThan(0.3);
  });
  it('never flags a flat line', () => {
    const d = new VfDetector(250);
    for (let i = 0; i < 2500; i++) d.push(0);
    d.finish();
    expect(d.episodes).toEqual([]);
  });
  it('stream analyzer: sinus → VF → sinus raises and clears the VF finding, beats resume', () => {
    const fs = 250;
    const sinus = (s: number) => syntheticEcg(fs, beatTimes(Array(Math.round(s / 0.8) - 1).fill(0.8)), s);
    const x = Float32Array.from([...sinus(20), ...flutter(fs, 15, 4.5), ...sinus(20)]);
    const a = createEcgStreamAnalyzer({ fs });
    const beats: number[] = [];
    let started: number | undefined, ended: number | undefined;
    let sawInVf = false;
    for (let i = 0; i < x.length; i += fs) {
      const r = a.push(x.subarray(i, i + fs), i);
      beats.push(...r.beats);
      sawInVf ||= r.vf.inVf;
      if (r.vf.episodeStarted !== undefined) started ??= r.vf.episodeStarted;
      if (r.vf.episodeEnded !== undefined) ended ??= r.vf.episodeEnded;
    }
    expect(sawInVf).toBe(true);
    expect(Math.abs(started! - 20 * fs)).toBeLessThanOrEqual(2 * fs);
    expect(Math.abs(ended! - 35 * fs)).toBeLessThanOrEqual(2 * fs);
    expect(a.vfEpisodes).toHaveLength(1);
    // No beats inside the flutter (away from its edges), beats again afterwards.
    expect(beats.filter((b) => b > 21 * fs && b < 34 * fs)).toEqual([]);
    expect(beats.filter((b) => b > 38 * fs).length).toBeGreaterThan(15);
  });
});
