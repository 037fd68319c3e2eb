import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { createQrsDetector, detectBeats } from './qrs.ts';
import { QRS_TUNING, QRS_TUNING_GRID } from './qrs-decide.ts';
import { matchBeats } from './eval/beats.ts';
import { readRecord } from './wfdb.ts';
import { readAnnotationFile, isBeatCode } from './annotations.ts';
import { HAS_DATA, SHARED_DATA, beatTimes, syntheticEcg } from './testdata.ts';

function scoreSynthetic(fs: number, rr: number[], noise = 0) {
  const times = beatTimes(rr);
  const x = syntheticEcg(fs, times, times[times.length - 1] + 1, noise);
  const det = detectBeats(x, fs);
  const ref = times.map((t) => Math.round(t * fs));
  return { det, ref, counts: matchBeats(ref, det, { fs, learningS: 0 }) };
}

describe('QRS detector on synthetic ECG', () => {
  for (const fs of [125, 250, 360, 500, 1000]) {
    it(`finds every beat at ${fs} Hz, near the R peak`, () => {
      const { det, ref, counts } = scoreSynthetic(fs, Array(60).fill(0.8));
      expect(counts).toEqual({ tp: 61, fn: 0, fp: 0 });
      for (let i = 0; i < ref.length; i++) expect(Math.abs(det[i] - ref[i]) / fs).toBeLessThan(0.02);
    });
  }
  it('follows a rate change from 50 to 150 /min without losing beats', () => {
    const rr = [...Array(30).fill(1.2), ...Array(60).fill(0.4), ...Array(30).fill(1.0)];
    expect(scoreSynthetic(360, rr).counts).toEqual({ tp: 121, fn: 0, fp: 0 });
  });
  describe('long pauses with blocked P waves (sinus bradycardia, AV block), every grid setting', () => {
    // 12 pauses of 6 or 8 s between runs of beats at 1.1 s; a blocked P wave every 1.1 s inside each pause.
    function pauseEcg(fs: number, pause: number, noise: number) {
      const rr: number[] = [];
      for (let k = 0; k < 12; k++) rr.push(...Array(15).fill(1.1), pause);
      const times = beatTimes(rr);
      const x = syntheticEcg(fs, times, times[times.length - 1] + 1, noise, 3);
      for (let j = 1; j < times.length; j++) {
        if (times[j] - times[j - 1] < 2) continue;
        for (let p = times[j - 1] + 1.1; p < times[j] - 0.5; p += 1.1) {
          const c = (p - 0.2) * fs;
          for (let i = Math.floor(c - 0.1 * fs); i < c + 0.1 * fs; i++) x[i] += 0.15 * Math.exp(-(((i - c) / fs) ** 2) / (2 * 0.025 ** 2));
        }
      }
      return { times, x };
    }
    for (const tuning of QRS_TUNING_GRID) {
      it(`no false beats in 6–8 s pauses (slope ${tuning.searchbackSlope}, floor ${tuning.decayFloor})`, () => {
        const fs = 360;
        for (const [pause, noise] of [
          [6, 0],
          [8, 0.02],
        ]) {
          const { times, x } = pauseEcg(fs, pause, noise);
          const det = createQrsDetector({ fs, tuning });
          const beats: number[] = [];
          for (let i = 0; i < x.length; i += fs) beats.push(...det.push(x.subarray(i, i + fs)));
          beats.push(...det.flush());
          expect(
            matchBeats(
              times.map((t) => Math.round(t * fs)),
              beats,
              { fs, learningS: 0 },
            ),
          ).toEqual({ tp: times.length, fn: 0, fp: 0 });
        }
      });
    }
    it('without the decay floor and slope check the same pauses give false beats (what the settings fix)', () => {
      const fs = 360;
      const { x } = pauseEcg(fs, 8, 0);
      const det = createQrsDetector({ fs, tuning: { searchbackSlope: 0, decayFloor: 0 } });
      const beats: number[] = [];
      for (let i = 0; i < x.length; i += fs) beats.push(...det.push(x.subarray(i, i + fs)));
      expect(beats.length).toBeGreaterThan(193 + 20);
    });
    it('ships a setting from the grid', () => {
      expect(QRS_TUNING_GRID).toContainEqual(QRS_TUNING);
    });
  });
  it('recovers a small beat after a pause by search-back and ignores T waves', () => {
    const fs = 360;
    const times = beatTimes([...Array(20).fill(0.8), 1.5, ...Array(10).fill(0.8)]);
    const x = syntheticEcg(fs, times, times[times.length - 1] + 1);
    // Shrink the beat after the pause to 30 % amplitude: below the normal threshold.
    const k = Math.round(times[21] * fs);
    for (let i = k - 40; i < k + 40; i++) x[i] *= 0.3;
    const det = detectBeats(x, fs);
    expect(
      matchBeats(
        times.map((t) => Math.round(t * fs)),
        det,
        { fs, learningS: 0 },
      ),
    ).toEqual({ tp: 32, fn: 0, fp: 0 });
  });
  it('keeps state across chunks: any chunking gives the same beats', () => {
    const fs = 250;
    const x = syntheticEcg(fs, beatTimes(Array(40).fill(0.7)), 30, 0.02);
    const whole = detectBeats(x, fs);
    const det = createQrsDetector({ fs });
    const got: number[] = [];
    for (let i = 0; i < x.length; i += 37) got.push(...det.push(x.subarray(i, i + 37)));
    got.push(...det.flush());
    expect(got).toEqual(whole);
  });
  it('emits each beat within a bounded delay of its R peak', () => {
    const fs = 360;
    const x = syntheticEcg(fs, beatTimes(Array(30).fill(0.9)), 30);
    const det = createQrsDetector({ fs });
    let worst = 0;
    for (let i = 0; i < x.length; i += 36) {
      for (const b of det.push(x.subarray(i, i + 36))) worst = Math.max(worst, (i + 36 - b) / fs);
    }
    // After the 2 s learning period beats come out ≈ 0.4 s after their R peak.
    expect(worst).toBeLessThan(2.6);
  });
  it('stays quiet on a flat line, even one with a large DC offset (raw ADC counts)', () => {
    expect(detectBeats(new Float32Array(3600), 360)).toEqual([]);
    expect(detectBeats(new Float32Array(3600).fill(1024), 360, 200)).toEqual([]);
  });
  it('does not report a beat at the first sample when the signal has a DC offset', () => {
    const fs = 360;
    const x = syntheticEcg(fs, beatTimes(Array(10).fill(0.8), 0.6), 9).map((v) => v * 200 + 1024);
    const det = detectBeats(x, fs, 200);
    expect(det[0]).toBeGreaterThan(0.5 * fs);
    expect(det).toHaveLength(11);
  });
});

describe.skipIf(!HAS_DATA)('QRS detector on mitdb 101 (real data)', () => {
  it('scores Se and +P above 99.5 % on record 101', () => {
    const rec = readRecord(path.join(SHARED_DATA, 'mitdb', '101'));
    const ref = readAnnotationFile(path.join(SHARED_DATA, 'mitdb', '101.atr'))
      .filter((a) => isBeatCode(a.code))
      .map((a) => a.sample);
    const c = matchBeats(ref, detectBeats(rec.adc, rec.fs, rec.gain), { fs: rec.fs });
    expect(c.tp / (c.tp + c.fn)).toBeGreaterThan(0.995);
    expect(c.tp / (c.tp + c.fp)).toBeGreaterThan(0.995);
  });
});
