/**
 * Public API of the ECG analysis, for the platform's live device chunks and the CLI.
 * `createEcgStreamAnalyzer` combines the streaming QRS detector, heart rate, signal quality and the
 * RR-interval AF detector; every output carries the algorithm name and version via ECG_ALGORITHM.
 */
import { createQrsDetector } from './qrs.ts';
import { createAfDetector, type AfEpisode, type AfModel } from './af.ts';
import { assessQuality, type QualityReport } from './quality.ts';
import { heartRateSummary } from './hrv.ts';

export { ECG_ALGORITHM } from './version.ts';
export { createQrsDetector, detectBeats, type QrsDetector } from './qrs.ts';
export { createAfDetector, detectAfEpisodes, type AfEpisode, type AfUpdate } from './af.ts';
export { heartRateSummary, type HeartRateSummary } from './hrv.ts';
export { VfDetector, vfFeatures, type VfEpisode, type VfBlock, type VfDetectorState } from './vf.ts';
export { assessQuality, type QualityReport } from './quality.ts';
export { classifyRecord, type Classification, type RhythmClass } from './classify.ts';

const QUALITY_WINDOW_S = 5; // s of signal judged for quality
const RATE_WINDOW_BEATS = 10; // heart rate over the last 10 beats
const MIN_QUALITY_FOR_AF = 0.5; // beats from poor signal do not feed the AF detector

export interface EcgStreamOptions {
  /** Sampling frequency (Hz). */
  fs: number;
  /** ADC units per mV of the samples pushed (default 1: samples already in mV). */
  gain?: number;
  /** RR-interval AF model (default: the bundled one); the evaluation passes a freshly chosen one. */
  afModel?: AfModel;
}

export interface EcgChunkResult {
  /** Beats confirmed during this push (global sample indices). */
  beats: number[];
  /** Heart rate over the last beats (beats/min), NaN until known. */
  heartRate: number;
  /** 0–1 confidence in this chunk's beats and heart rate: the signal-quality index. */
  confidence: number;
  /** Quality of the last QUALITY_WINDOW_S seconds; `index` doubles as the confidence of the outputs. */
  quality: QualityReport;
  af: {
    inAf: boolean;
    confidence: number;
    episodeStarted?: number;
    episodeEnded?: number;
  };
  /**
   * Ventricular flutter/fibrillation: an alarmable finding. Beats are not reported inside VF seconds.
   * `episodeStarted`/`episodeEnded` are the global sample indices of the episode's first sample and
   * the sample after its end, reported in the push that decides them (≈ 2 s after the fact).
   */
  vf: {
    inVf: boolean;
    episodeStarted?: number;
    episodeEnded?: number;
  };
}

export interface EcgStreamAnalyzer {
  push(samples: ArrayLike<number>, startIndex?: number): EcgChunkResult;
  /** AF episodes closed so far (sample intervals). */
  readonly episodes: readonly AfEpisode[];
  /** VF/VFL episodes closed so far (global sample intervals). */
  readonly vfEpisodes: readonly AfEpisode[];
}

export function createEcgStreamAnalyzer(opts: EcgStreamOptions): EcgStreamAnalyzer {
  const { fs } = opts;
  const scale = 1 / (opts.gain ?? 1);
  let qrs = createQrsDetector({ fs, gain: opts.gain });
  const af = createAfDetector({ fs, model: opts.afModel });
  const window = new Float32Array(Math.round(QUALITY_WINDOW_S * fs));
  let filled = 0;
  let expected = 0; // next global index
  const recent: number[] = [];
  let afConfidence = 0;
  let qualityIndex = 1;
  let vfSeen = 0; // closed VF episodes of the current detector already reported
  let vfOpenReported = -1;
  const vfEpisodes: AfEpisode[] = [];

  return {
    get episodes() {
      return af.episodes;
    },
    vfEpisodes,
    push(samples, startIndex) {
      // A gap in the stream (lost packets): restart the detector at the new position.
      if (startIndex !== undefined && startIndex !== expected) {
        qrs = createQrsDetector({ fs, gain: opts.gain });
        vfSeen = 0;
        recent.length = 0;
        filled = 0;
        expected = startIndex;
      }
      const base = expected;
      expected += samples.length;
      // Keep the last QUALITY_WINDOW_S seconds (mV) for the quality check.
      const n = samples.length;
      if (n >= window.length) {
        for (let i = 0; i < window.length; i++) window[i] = samples[n - window.length + i] * scale;
        filled = window.length;
      } else {
        window.copyWithin(0, n);
        for (let i = 0; i < n; i++) window[window.length - n + i] = samples[i] * scale;
        filled = Math.min(window.length, filled + n);
      }
      const local = qrs.push(samples);
      // Detector indices count from its own start; shift them to the stream's global index.
      const offset = base - (qrs.position - n);
      const beats = local.map((b) => b + offset);
      for (const b of beats) recent.push(b);
      if (recent.length > RATE_WINDOW_BEATS + 1) recent.splice(0, recent.length - RATE_WINDOW_BEATS - 1);
      const seg = window.subarray(window.length - filled);
      const windowStart = expected - filled;
      const quality = assessQuality(seg, fs, recent.filter((b) => b >= windowStart).length);
      qualityIndex = quality.index;
      const out: EcgChunkResult['af'] = { inAf: af.inAf, confidence: afConfidence * qualityIndex };
      if (qualityIndex >= MIN_QUALITY_FOR_AF) {
        for (const b of beats) {
          const u = af.push(b);
          if (!u) continue;
          afConfidence = u.confidence;
          out.inAf = u.inAf;
          out.confidence = u.confidence * qualityIndex;
          if (u.episodeStarted !== undefined) out.episodeStarted = u.episodeStarted;
          if (u.episodeEnded !== undefined) out.episodeEnded = u.episodeEnded;
        }
      }
      // VF episodes decided during this push (detector indices → global).
      const vf: EcgChunkResult['vf'] = { inVf: qrs.vf?.inVf ?? false };
      const st = qrs.vf;
      if (st) {
        while (vfSeen < st.episodes.length) {
          const e = st.episodes[vfSeen++];
          const g = { start: e.start + offset, end: e.end + offset };
          vfEpisodes.push(g);
          if (vfOpenReported !== g.start) vf.episodeStarted = g.start;
          vf.episodeEnded = g.end;
          vfOpenReported = -1;
        }
        if (st.openStart >= 0 && vfOpenReported !== st.openStart + offset) {
          vfOpenReported = st.openStart + offset;
          vf.episodeStarted = vfOpenReported;
        }
      }
      return { beats, heartRate: heartRateSummary(recent, fs).heartRate, confidence: quality.index, quality, af: out, vf };
    },
  };
}
