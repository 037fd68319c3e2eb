import type { EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { IngestService } from '../ingest/ingest.service.ts';
import type { StoredEcgChunk } from '../domain/types.ts';
import type { EcgEpisode } from '../platform/events.ts';
import type { NewReading } from '../store/readings.repository.ts';
import { DERIVED_CODES, ECG_UNIT_PER_MV } from '../domain/codes.ts';
import { createEcgStreamAnalyzer, ECG_ALGORITHM, type EcgStreamAnalyzer } from '../analysis/ecg/index.ts';
import { soleOwnership, type Ownership } from '../cluster/ownership.ts';

const HR_STORE_EVERY_MS = 10_000; // one derived heart rate per device every 10 s is plenty for trends
const MIN_CONFIDENCE = 0.5; // below this signal quality a heart rate is not recorded (noise must not alarm)
const MAX_GAP_MS = 2_000; // a longer gap between chunks restarts the detector (its state no longer applies)
const IDLE_EVICT_MS = 5 * 60_000; // a device silent this long has its stream closed and forgotten (memory)
const SWEEP_MS = 60_000;
/**
 * Chunks of one device reach this owner out of order: several broker consumers, several writers, and other
 * instances' chunks relayed after their commit. A chunk that is not the next one waits up to this long for
 * the missing one before the analyzer moves on past it (as a gap), ms.
 */
const REORDER_HOLD_MS = 2_500;
/** Two chunks are contiguous when the second starts within this of where the first ended (device clock rounding), ms. */
const CONTIGUOUS_MS = 50;

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
export function createEcgMonitor(deps: {
  events: EventBus; ingest: Pick<IngestService, 'storeDerived'>; clock: Clock; logger: Logger;
  /** Several instances: only the owner of the device's patient analyses its stream (cluster/ownership.ts). */
  ownership?: Ownership;
  holdMs?: number;
}) {
  const log = deps.logger.child({ module: 'ecg-monitor' });
  const ownership = deps.ownership ?? soleOwnership('local');
  const holdMs = deps.holdMs ?? REORDER_HOLD_MS;
  const streams = new Map<string, DeviceStream>();
  /** Per device: chunks received ahead of the next expected one, oldest first, and since when the oldest waits. */
  // `since` is performance.now(): real elapsed time for the hold timer, not the app's Clock (a test's frozen clock must not hold chunks forever).
  const waiting = new Map<string, { chunks: StoredEcgChunk[]; since: number; timer: NodeJS.Timeout | null }>();
  const counters = { analysed: 0, reordered: 0, late: 0, skippedGaps: 0 };

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

  /** Puts a chunk in its device's order and analyses every chunk that is now next (or waited long enough). */
  function arrive(c: StoredEcgChunk) {
    const s = streams.get(c.deviceId);
    if (s && s.fs === c.fs && c.ts < s.nextTs - CONTIGUOUS_MS && c.ts > s.nextTs - 60_000) {
      counters.late++; // its place in the stream has passed (it waited too long, or a repeat): skip it
      return;
    }
    const w = waiting.get(c.deviceId) ?? { chunks: [], since: performance.now(), timer: null };
    if (w.chunks.length === 0) w.since = performance.now();
    else if (c.ts < w.chunks[w.chunks.length - 1].ts) counters.reordered++;
    w.chunks.push(c);
    w.chunks.sort((a, b) => a.ts - b.ts);
    waiting.set(c.deviceId, w);
    release(c.deviceId);
  }

  function release(deviceId: string) {
    const w = waiting.get(deviceId);
    if (!w) return;
    while (w.chunks.length > 0) {
      const next = w.chunks[0];
      const s = streams.get(deviceId);
      const inOrder = !s || s.fs !== next.fs || Math.abs(next.ts - s.nextTs) <= CONTIGUOUS_MS || next.ts < s.nextTs - 60_000;
      if (!inOrder && performance.now() - w.since < holdMs) break;
      if (!inOrder) counters.skippedGaps++;
      w.chunks.shift();
      w.since = performance.now();
      analyse(next);
    }
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    if (w.chunks.length === 0) waiting.delete(deviceId);
    else {
      w.timer = setTimeout(() => release(deviceId), Math.max(10, holdMs - (performance.now() - w.since)));
      w.timer.unref();
    }
  }

  const offOwnership = ownership.onChange(({ bucket, owned }) => {
    if (owned) return;
    // Another instance analyses these devices now: drop their streams without ending episodes (the
    // episodes are not over; the new owner's analyzer picks the rhythm up).
    for (const [deviceId, s] of streams) if (ownership.bucketOf(s.patientId) === bucket) streams.delete(deviceId);
    for (const [deviceId, w] of waiting) {
      if (w.chunks[0] && ownership.bucketOf(w.chunks[0].patientId) === bucket) {
        if (w.timer) clearTimeout(w.timer);
        waiting.delete(deviceId);
      }
    }
  });

  // Open AF episodes by device as every instance hears them (this one's and, relayed, the owner's), for
  // the patient page's "AF since" whichever instance serves it.
  const afOpen = new Map<string, number>();
  const offEpisodes = deps.events.on('ecg.episode', (e) => {
    if (e.kind !== 'af') return;
    if (e.state === 'start') afOpen.set(e.deviceId, e.at);
    else afOpen.delete(e.deviceId);
  });

  const off = deps.events.on('ecg.stored', (c: StoredEcgChunk) => {
    if (ownership.ownsNow(c.patientId)) return arrive(c);
    void ownership.owns(c.patientId).then((mine) => mine && arrive(c));
  });

  function analyse(c: StoredEcgChunk) {
    try {
      counters.analysed++;
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
  }

  return {
    /** When the device's current AF episode started (epoch ms), or null when not in AF. */
    afSince: (deviceId: string): number | null => streams.get(deviceId)?.afStartTs ?? afOpen.get(deviceId) ?? null,
    /** Streams held in memory (for tests and the admin stats). */
    streamCount: () => streams.size,
    stats: () => ({ ...counters, streams: streams.size, waiting: [...waiting.values()].reduce((n, w) => n + w.chunks.length, 0) }),
    close() {
      off();
      offOwnership();
      offEpisodes();
      clearInterval(sweeper);
      for (const w of waiting.values()) if (w.timer) clearTimeout(w.timer);
      waiting.clear();
      streams.clear();
    },
  };
}
