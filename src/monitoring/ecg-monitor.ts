import type { EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { IngestService } from '../ingest/ingest.service.ts';
import type { StoredEcgChunk } from '../domain/types.ts';
import type { EcgEpisode } from '../platform/events.ts';
import type { NewReading } from '../store/readings.repository.ts';
import { DERIVED_CODES, ECG_UNIT_PER_MV } from '../domain/codes.ts';
import { createEcgStreamAnalyzer, ECG_ALGORITHM, type EcgStreamAnalyzer } from '../analysis/ecg/index.ts';

const HR_STORE_EVERY_MS = 10_000; // one derived heart rate per device every 10 s is plenty for trends
const MIN_CONFIDENCE = 0.5; // below this signal quality a heart rate is not recorded (noise must not alarm)
const MAX_GAP_MS = 2_000; // a longer gap between chunks restarts the detector (its state no longer applies)
const IDLE_EVICT_MS = 5 * 60_000; // a device silent this long has its stream closed and forgotten (memory)
const SWEEP_MS = 60_000;

interface DeviceStream {
  analyzer: EcgStreamAnalyzer;
  fs: number;
  t0: number; // ms of sample 0
  nextTs: number; // expected ms of the next chunk
  lastHrStoredAt: number;
  afStartTs: number | null;
  vfStartTs: number | null;
  patientId: string;
  /** When (the app's Clock) the last chunk arrived (device clocks may be off; eviction goes by ours). */
  seenAt: number;
}

/**
 * Streams each device's ECG chunks through the pure ECG analyzer (QRS → heart rate, RR → AF) and turns its
 * output into derived Observations (heart rate from ECG, AF episodes with their duration) and live events:
 * `ecg.episode` events (AF, VF; start/end) for alert rules and the dashboard, each after its row is stored.
 */
export function createEcgMonitor(deps: { events: EventBus; ingest: Pick<IngestService, 'storeDerived'>; clock: Clock; logger: Logger }) {
  const log = deps.logger.child({ module: 'ecg-monitor' });
  const streams = new Map<string, DeviceStream>();

  /**
   * A stream ends (gap, change of sampling rate, silence): an open AF episode ends where the signal did and
   * is stored; an open VF episode ends too, so its alert can resolve. Without this, a gap dropped the AF
   * episode (no end event, nothing stored) and left VF open forever.
   */
  function endStream(deviceId: string, s: DeviceStream) {
    const end = s.nextTs;
    if (s.afStartTs !== null) {
      const start = s.afStartTs;
      const row: NewReading = { patientId: s.patientId, deviceId, system: DERIVED_CODES.afEpisode.system, code: DERIVED_CODES.afEpisode.code, value: Math.round((end - start) / 1000), unit: 's', ts: start, seq: null, method: { ...ECG_ALGORITHM } };
      const patientId = s.patientId;
      // Write first, then emit.
      void deps.ingest.storeDerived([row]).then(
        () => deps.events.emit('ecg.episode', { kind: 'af', state: 'end', patientId, deviceId, at: end, startedAt: start, reason: 'signal gap' }),
        (err) => log.error({ err }, 'could not store an AF episode'),
      );
    }
    if (s.vfStartTs !== null) {
      deps.events.emit('ecg.episode', { kind: 'vf', state: 'end', patientId: s.patientId, deviceId, at: end, reason: 'signal gap' });
    }
    s.afStartTs = null;
    s.vfStartTs = null;
  }

  function streamFor(c: StoredEcgChunk): DeviceStream {
    const s = streams.get(c.deviceId);
    if (s && s.fs === c.fs && Math.abs(c.ts - s.nextTs) <= MAX_GAP_MS) return s;
    if (s) endStream(c.deviceId, s);
    const fresh: DeviceStream = {
      analyzer: createEcgStreamAnalyzer({ fs: c.fs, gain: ECG_UNIT_PER_MV[c.unit] }), fs: c.fs, t0: c.ts, nextTs: c.ts, lastHrStoredAt: 0,
      afStartTs: null, vfStartTs: null, patientId: c.patientId, seenAt: deps.clock.now(),
    };
    streams.set(c.deviceId, fresh);
    return fresh;
  }

  const sweeper = setInterval(() => {
    const now = deps.clock.now();
    for (const [deviceId, s] of streams) {
      if (now - s.seenAt < IDLE_EVICT_MS) continue;
      endStream(deviceId, s);
      streams.delete(deviceId);
    }
  }, SWEEP_MS);
  sweeper.unref();

  const off = deps.events.on('ecg.stored', (c: StoredEcgChunk) => {
    try {
      const s = streamFor(c);
      s.seenAt = deps.clock.now();
      const startIndex = Math.round(((c.ts - s.t0) / 1000) * s.fs);
      const result = s.analyzer.push(c.samples, startIndex);
      s.nextTs = c.ts + (c.samples.length / c.fs) * 1000;
      const at = (sample: number) => s.t0 + (sample / s.fs) * 1000;
      const derived: NewReading[] = [];
      const method = { ...ECG_ALGORITHM };
      const episodes: EcgEpisode[] = [];

      if (Number.isFinite(result.heartRate) && result.confidence >= MIN_CONFIDENCE && c.ts - s.lastHrStoredAt >= HR_STORE_EVERY_MS) {
        s.lastHrStoredAt = c.ts;
        derived.push({ patientId: c.patientId, deviceId: c.deviceId, system: DERIVED_CODES.ecgHeartRate.system, code: DERIVED_CODES.ecgHeartRate.code, value: Math.round(result.heartRate), unit: '/min', ts: c.ts, seq: null, method });
      }
      if (result.af.episodeStarted !== undefined) {
        s.afStartTs = at(result.af.episodeStarted);
        episodes.push({ kind: 'af', state: 'start', patientId: c.patientId, deviceId: c.deviceId, at: s.afStartTs, confidence: result.af.confidence });
      }
      if (result.af.episodeEnded !== undefined) {
        const end = at(result.af.episodeEnded);
        const start = s.afStartTs ?? end;
        s.afStartTs = null;
        episodes.push({ kind: 'af', state: 'end', patientId: c.patientId, deviceId: c.deviceId, at: end, startedAt: start });
        derived.push({ patientId: c.patientId, deviceId: c.deviceId, system: DERIVED_CODES.afEpisode.system, code: DERIVED_CODES.afEpisode.code, value: Math.round((end - start) / 1000), unit: 's', ts: start, seq: null, method });
      }
      if (result.vf.episodeStarted !== undefined) {
        s.vfStartTs = at(result.vf.episodeStarted);
        episodes.push({ kind: 'vf', state: 'start', patientId: c.patientId, deviceId: c.deviceId, at: at(result.vf.episodeStarted) });
      }
      if (result.vf.episodeEnded !== undefined) {
        s.vfStartTs = null;
        episodes.push({ kind: 'vf', state: 'end', patientId: c.patientId, deviceId: c.deviceId, at: at(result.vf.episodeEnded) });
      }
      if (derived.length === 0 && episodes.length === 0) return;
      // Write first, then emit: an episode's event follows its stored row (an AF end stores the episode).
      const stored = derived.length ? deps.ingest.storeDerived(derived) : Promise.resolve();
      void stored.then(
        () => episodes.forEach((e) => deps.events.emit('ecg.episode', e)),
        (err) => log.error({ err }, 'could not store ECG findings'),
      );
    } catch (err) {
      log.error({ err, deviceId: c.deviceId }, 'ECG analysis failed for a chunk');
    }
  });

  return {
    /** When the device's current AF episode started (epoch ms), or null when not in AF. */
    afSince: (deviceId: string): number | null => streams.get(deviceId)?.afStartTs ?? null,
    /** Streams held in memory (for tests and the admin stats). */
    streamCount: () => streams.size,
    close() {
      off();
      clearInterval(sweeper);
      streams.clear();
    },
  };
}
