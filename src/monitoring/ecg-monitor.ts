import type { EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { IngestService } from '../ingest/ingest.service.ts';
import type { StoredEcgChunk } from '../domain/types.ts';
import type { EcgEpisode } from '../platform/events.ts';
import type { NewReading } from '../store/readings.repository.ts';
import type { EcgPosition, EcgRepository } from '../store/ecg.repository.ts';
import { DERIVED_CODES, ECG_UNIT_PER_MV } from '../domain/codes.ts';
import { createEcgStreamAnalyzer, ECG_ALGORITHM, type EcgStreamAnalyzer } from '../analysis/ecg/index.ts';
import { soleOwnership, type Ownership } from '../cluster/ownership.ts';

const HR_STORE_EVERY_MS = 10_000; // one derived heart rate per device every 10 s is plenty for trends
const MIN_CONFIDENCE = 0.5; // below this signal quality a heart rate is not recorded (noise must not alarm)
/**
 * A longer gap between chunks ends the stream (open episodes end where the signal did) and a new analyzer
 * starts. A shorter one (chunks lost, or held by an instance that died until the broker redelivers them,
 * too late to be put back in order) is bridged by the same analyzer: its beat detector restarts after the
 * hole and its AF state holds until the next decision (analysis/ecg/index.ts), so an AF episode is not
 * split in two by a few missing seconds, ms.
 */
const MAX_GAP_MS = 30_000;
const IDLE_EVICT_MS = 5 * 60_000; // a device silent this long has its stream closed and forgotten (memory)
const SWEEP_MS = 60_000;
/**
 * Chunks of one device reach this owner out of order: several broker consumers, several writers, and other
 * instances' chunks relayed after their commit. A chunk that is not the next one waits up to this long for
 * the missing one before the analyzer moves on past it (as a gap), ms.
 */
const REORDER_HOLD_MS = 2_500;
/**
 * A hole longer than MAX_GAP_MS (which would end the stream and its episodes) is waited for this long, the
 * store looked at every LOOK_EVERY_MS: with a durable broker, chunks that an instance held when it died are
 * redelivered after its acknowledgement wait (NATS: VIGIL_NATS_ACK_WAIT_S, 30 s by default). Only the
 * analysis of that device waits, and only at such a hole; a device that really was off is analysed this
 * much later when it comes back, ms.
 */
const HOLE_WAIT_MS = 35_000;
const LOOK_EVERY_MS = 2_000;
/** Two chunks are contiguous when the second starts within this of where the first ended (device clock rounding), ms. */
const CONTIGUOUS_MS = 50;
/** A chunk this far before its device's stream began is a new start (the device's clock went back), ms. */
const CLOCK_BACK_MS = 60_000;
/**
 * The durable analysis position (store/ecg.repository.ts) is written with every finding, and at least this
 * often (signal time) without one: a new owner re-analyses at most this much that was analysed already, ms.
 */
const POSITION_EVERY_MS = 10_000;
/**
 * A resumed analyzer is first fed this much signal before the position, quietly (nothing stored or
 * announced), so that it stands where the previous owner's stood: AF decisions come ~80 beats late (the
 * RR window plus smoothing, analysis/ecg/af.ts), about a minute at 80/min, ms.
 */
const WARMUP_MS = 120_000;
/** A catch-up re-analyses at most this much unanalysed signal (the newest); older is skipped as a gap, ms. */
const REPLAY_MAX_MS = 10 * 60_000;
const REPLAY_PAGE = 500; // chunks read per query during a catch-up
const REPLAY_MAX_CHUNKS = 5_000; // and at most this many in one catch-up
/** Owned devices with stored chunks past their position are looked for this often (chunks stored while no instance owned them), ms. */
const CATCHUP_SWEEP_MS = 5_000;
/** ... among positions touched within this (a device silent longer has nothing recent to catch up), ms. */
const CATCHUP_WITHIN_MS = 30 * 60_000;

/** A resumed device before its durable position: analysed without storing, then the position's episodes taken over. */
interface Quiet {
  until: number;
  afStart: number | null;
  vfStart: number | null;
  /** Episodes the warming analyzer itself has open (it may decide an onset the previous owner had not yet). */
  seenAf: number | null;
  seenVf: number | null;
}

interface DeviceStream {
  analyzer: EcgStreamAnalyzer;
  fs: number;
  t0: number; // ms of sample 0
  nextTs: number; // expected ms of the next chunk
  lastHrStoredAt: number;
  /** Signal time up to which the durable position was last written (or found), ms. */
  positionAt: number;
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
  events: EventBus;
  ingest: Pick<IngestService, 'storeEcgFindings'>;
  clock: Clock;
  logger: Logger;
  repos: { ecg: Pick<EcgRepository, 'position' | 'behind' | 'deviceSince' | 'newestTs'> };
  /** Several instances: only the owner of the device's patient analyses its stream (cluster/ownership.ts). */
  ownership?: Ownership;
  holdMs?: number;
  holeWaitMs?: number;
}) {
  const log = deps.logger.child({ module: 'ecg-monitor' });
  const ownership = deps.ownership ?? soleOwnership('local');
  const holdMs = deps.holdMs ?? REORDER_HOLD_MS;
  const holeWaitMs = deps.holeWaitMs ?? HOLE_WAIT_MS;
  const streams = new Map<string, DeviceStream>();
  /** Per device: chunks received ahead of the next expected one, oldest first, and since when the oldest waits. */
  // `since` is performance.now(): real elapsed time for the hold timer, not the app's Clock (a test's frozen clock must not hold chunks forever).
  const waiting = new Map<string, { chunks: StoredEcgChunk[]; since: number; timer: NodeJS.Timeout | null }>();
  const counters = { analysed: 0, reordered: 0, late: 0, skippedGaps: 0, resumed: 0, replayed: 0, gapsFilled: 0, superseded: 0 };
  /** Devices being resumed from their durable position (their arriving chunks wait until it is done). */
  const resuming = new Map<string, Promise<void>>();
  const quiet = new Map<string, Quiet>();
  /** Bumped when a device's stream is dropped (ownership lost): a resume in flight for it stops. */
  const epochs = new Map<string, number>();
  /** Per device, findings are written one after the other, so that their positions arrive in order. */
  const writes = new Map<string, Promise<void>>();
  /** Per device, the position the last queued write brings it to: the next write's expected stored one. */
  const lastQueued = new Map<string, number | null>();
  /** Forgets a device's analysis here (fenced by another writer, or never resumed): it resumes from the store. */
  function fence(deviceId: string) {
    streams.delete(deviceId);
    quiet.delete(deviceId);
    gapLooked.delete(deviceId);
    lastQueued.delete(deviceId);
    epochs.set(deviceId, (epochs.get(deviceId) ?? 0) + 1);
  }
  /** Per device, the head chunk whose gap was already looked up in the store (once per gap). */
  const gapLooked = new Map<string, { ts: number; at: number }>();
  let closed = false;

  /**
   * Stores findings with the position they bring the device to (one transaction), then announces their
   * episodes. Nothing is stored or announced when the position does not move forward: another owner
   * (around a change of owner) stored this far already, so every finding and episode event happens once.
   */
  function persist(deviceId: string, position: EcgPosition, rows: NewReading[], episodes: EcgEpisode[]) {
    if (!lastQueued.has(deviceId)) return fence(deviceId); // not resumed from the store: resume first
    const prev = lastQueued.get(deviceId)!;
    lastQueued.set(deviceId, position.analysedTo);
    const epoch = epochs.get(deviceId) ?? 0;
    const next = (writes.get(deviceId) ?? Promise.resolve())
      .then(() => deps.ingest.storeEcgFindings({ ...position, prev }, rows))
      .then(
        (written) => {
          if (written) return episodes.forEach((e) => deps.events.emit('ecg.episode', e));
          // Another writer moved the position (a second owner around a handover): stop here; the next
          // chunk resumes from what it stored, if this instance still owns the device.
          counters.superseded++;
          if ((epochs.get(deviceId) ?? 0) === epoch) fence(deviceId);
        },
        (err) => log.error({ err, deviceId }, 'could not store ECG findings'),
      );
    writes.set(deviceId, next);
    void next.finally(() => writes.get(deviceId) === next && writes.delete(deviceId));
  }

  /**
   * A stream ends (gap, change of sampling rate, silence): an open AF episode ends where the signal did and
   * is stored; an open VF episode ends too, so its alert can resolve. Without this, a gap dropped the AF
   * episode (no end event, nothing stored) and left VF open forever.
   */
  function endStream(deviceId: string, s: DeviceStream) {
    // Before a resumed device's position, the previous owner stored what there was to store.
    if (!quiet.has(deviceId)) closeEpisodes(deviceId, s.patientId, s.afStartTs, s.vfStartTs, s.nextTs);
    s.afStartTs = null;
    s.vfStartTs = null;
  }

  /**
   * The signal ended at `end` (gap, silence): open episodes end there, stored with the position (write
   * first, then emit). The position goes 1 ms past the end, so that it moves forward even when the last
   * chunk's position was just written (the end of the signal is news), and only one owner stores it.
   */
  function closeEpisodes(deviceId: string, patientId: string, afStart: number | null, vfStart: number | null, end: number) {
    const rows: NewReading[] = [];
    const episodes: EcgEpisode[] = [];
    if (afStart !== null) {
      rows.push({
        patientId,
        deviceId,
        system: DERIVED_CODES.afEpisode.system,
        code: DERIVED_CODES.afEpisode.code,
        value: Math.round((end - afStart) / 1000),
        unit: 's',
        ts: afStart,
        seq: null,
        method: { ...ECG_ALGORITHM },
      });
      episodes.push({ kind: 'af', state: 'end', patientId, deviceId, at: end, startedAt: afStart, reason: 'signal gap' });
    }
    if (vfStart !== null) episodes.push({ kind: 'vf', state: 'end', patientId, deviceId, at: end, reason: 'signal gap' });
    persist(deviceId, { deviceId, patientId, analysedTo: end + 1, afStart: null, vfStart: null }, rows, episodes);
  }

  function streamFor(c: StoredEcgChunk): DeviceStream {
    const s = streams.get(c.deviceId);
    if (s && s.fs === c.fs && Math.abs(c.ts - s.nextTs) <= MAX_GAP_MS) return s;
    if (s) endStream(c.deviceId, s);
    const fresh: DeviceStream = {
      analyzer: createEcgStreamAnalyzer({ fs: c.fs, gain: ECG_UNIT_PER_MV[c.unit] }),
      fs: c.fs,
      t0: c.ts,
      nextTs: c.ts,
      lastHrStoredAt: 0,
      afStartTs: null,
      vfStartTs: null,
      patientId: c.patientId,
      seenAt: deps.clock.now(),
      positionAt: c.ts,
    };
    streams.set(c.deviceId, fresh);
    return fresh;
  }

  const sweeper = setInterval(() => {
    const now = deps.clock.now();
    for (const [deviceId, s] of streams) {
      if (now - s.seenAt < IDLE_EVICT_MS) continue;
      const q = quiet.get(deviceId);
      quiet.delete(deviceId);
      // Resumed, but nothing came after the position: the episodes open there ended there.
      if (q) closeEpisodes(deviceId, s.patientId, q.afStart, q.vfStart, q.until);
      else endStream(deviceId, s);
      streams.delete(deviceId);
    }
  }, SWEEP_MS);
  sweeper.unref();

  /**
   * A chunk whose place in the stream has passed: analysed already (a repeat, or a live chunk that waited
   * while a resume analysed it from the store). Only a chunk from more than CLOCK_BACK_MS before the stream
   * began starts a new stream (a device whose clock went back). Before, any chunk a minute behind the
   * position restarted the stream: when a resume from the store ran ahead of the chunks that waited for it,
   * the AF episode was ended and found again (two episodes for one, cluster.ecg-share on a quiet machine).
   */
  function passed(s: DeviceStream | undefined, c: StoredEcgChunk): boolean {
    return s !== undefined && s.fs === c.fs && c.ts < s.nextTs - CONTIGUOUS_MS && c.ts > s.t0 - CLOCK_BACK_MS;
  }

  /** Puts a chunk in its device's order and analyses every chunk that is now next (or waited long enough). */
  function arrive(c: StoredEcgChunk) {
    const s = streams.get(c.deviceId);
    if (passed(s, c)) {
      counters.late++; // its place in the stream has passed (it waited too long, or a repeat): skip it
      return;
    }
    const w = waiting.get(c.deviceId) ?? { chunks: [], since: performance.now(), timer: null };
    if (w.chunks.length === 0) w.since = performance.now();
    else if (c.ts < w.chunks[w.chunks.length - 1].ts) counters.reordered++;
    w.chunks.push(c);
    w.chunks.sort((a, b) => a.ts - b.ts);
    waiting.set(c.deviceId, w);
    // No stream here for this device (a new owner, a restart, or after silence): first resume from its
    // durable position, which also analyses what was stored while nobody analysed it.
    if (!s && !resuming.has(c.deviceId)) return resume(c.deviceId, c.patientId);
    release(c.deviceId);
  }

  function release(deviceId: string) {
    const w = waiting.get(deviceId);
    if (!w || resuming.has(deviceId)) return;
    // No stream here and not resumed (fenced, or dropped): resume from the store first.
    if (!streams.has(deviceId) && !lastQueued.has(deviceId) && w.chunks[0]) return resume(deviceId, w.chunks[0].patientId);
    let wakeIn = holdMs;
    while (w.chunks.length > 0) {
      const next = w.chunks[0];
      const s = streams.get(deviceId);
      if (passed(s, next)) {
        counters.late++; // analysed already (by a catch-up from the store)
        w.chunks.shift();
        continue;
      }
      const inOrder = !s || s.fs !== next.fs || Math.abs(next.ts - s.nextTs) <= CONTIGUOUS_MS || next.ts <= s.t0 - CLOCK_BACK_MS;
      if (!inOrder && s) {
        const now = performance.now();
        const waited = now - w.since;
        if (waited < holdMs) {
          wakeIn = holdMs - waited;
          break;
        }
        // Held long enough: before calling it a hole, look in the store. Chunks another instance stored
        // while this one did not hear of them (its LISTEN session was away) are there. A hole that would end
        // the stream (longer than MAX_GAP_MS) is looked for again every LOOK_EVERY_MS up to holeWaitMs:
        // chunks held by an instance that died come back only when the broker redelivers them.
        const limit = next.ts - s.nextTs > MAX_GAP_MS ? holeWaitMs : holdMs;
        const looked = gapLooked.get(deviceId);
        if (!looked || looked.ts !== next.ts || (waited < limit && now - looked.at >= LOOK_EVERY_MS)) {
          gapLooked.set(deviceId, { ts: next.ts, at: now });
          return fillGap(deviceId, s.patientId, s.nextTs, next.ts);
        }
        if (waited < limit) {
          wakeIn = Math.min(LOOK_EVERY_MS - (now - looked.at), limit - waited);
          break;
        }
        counters.skippedGaps++;
      }
      w.chunks.shift();
      w.since = performance.now();
      analyse(next);
    }
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    if (w.chunks.length === 0) waiting.delete(deviceId);
    else {
      w.timer = setTimeout(() => release(deviceId), Math.max(10, wakeIn));
      w.timer.unref();
    }
  }

  const offOwnership = ownership.onChange(({ bucket, owned }) => {
    // Gained: its devices may have chunks nobody analysed (the previous owner died): look soon.
    if (owned) return void sweepSoon();
    // Another instance analyses these devices now: drop their streams without ending episodes (the
    // episodes are not over; the new owner resumes them from the durable position).
    const drop = fence;
    for (const [deviceId, s] of streams) if (ownership.bucketOf(s.patientId) === bucket) drop(deviceId);
    for (const [deviceId, w] of waiting) {
      if (w.chunks[0] && ownership.bucketOf(w.chunks[0].patientId) === bucket) {
        if (w.timer) clearTimeout(w.timer);
        waiting.delete(deviceId);
        drop(deviceId);
      }
    }
  });

  /**
   * Resumes a device from its durable position: reads the stored chunks from WARMUP_MS before it (at most
   * REPLAY_MAX_MS of unanalysed signal), analyses those before the position quietly and the rest as usual.
   * Without a position (nothing analysed yet), the recent stored chunks are analysed from the start.
   */
  function resume(deviceId: string, patientId: string): void {
    // A device analysed here already (a sweep that raced with a chunk's arrival) is never resumed again:
    // its live stream is further on than the durable position.
    if (resuming.has(deviceId) || streams.has(deviceId) || closed) return;
    const epoch = epochs.get(deviceId) ?? 0;
    const stale = () => {
      const gone = closed || (epochs.get(deviceId) ?? 0) !== epoch || !ownership.ownsNow(patientId);
      if (gone && !ownership.ownsNow(patientId)) dropWaiting(deviceId); // not ours: its chunks are another's to analyse
      return gone;
    };
    const work = (async () => {
      const position = await deps.repos.ecg.position(deviceId);
      const newest = await deps.repos.ecg.newestTs(deviceId, patientId);
      if (stale() || streams.has(deviceId)) return;
      if (newest === null) return void dropWaiting(deviceId);
      counters.resumed++;
      lastQueued.set(deviceId, position?.analysedTo ?? null);
      const analysedTo = position?.analysedTo ?? null;
      let from = newest - REPLAY_MAX_MS;
      if (analysedTo !== null) {
        from = Math.max(from, analysedTo - WARMUP_MS);
        quiet.set(deviceId, { until: analysedTo, afStart: position!.afStart, vfStart: position!.vfStart, seenAf: null, seenVf: null });
      }
      const stored: StoredEcgChunk[] = [];
      for (;;) {
        const page = await deps.repos.ecg.deviceSince(deviceId, patientId, from, REPLAY_PAGE);
        if (stale()) return;
        stored.push(...page);
        if (page.length < REPLAY_PAGE || stored.length >= REPLAY_MAX_CHUNKS) break;
        from = page[page.length - 1].ts + 1;
      }
      // Analysed in order up to the first hole in what is stored (chunks still on their way, e.g.
      // redelivered after a failed commit); from there on they wait like live chunks (release: held, looked
      // for in the store, then bridged or, past MAX_GAP_MS, the end of the stream).
      let i = 0;
      for (; i < stored.length; i++) {
        const c = stored[i];
        const s = streams.get(deviceId);
        if (s && s.fs === c.fs && c.ts < s.nextTs - CONTIGUOUS_MS) continue;
        if (s && s.fs === c.fs && Math.abs(c.ts - s.nextTs) > CONTIGUOUS_MS) break;
        counters.replayed++;
        analyse(c);
      }
      park(deviceId, stored.slice(i));
      // Nothing after the position was stored yet: the next chunk (live) crosses it.
    })()
      .catch((err) => log.error({ err, deviceId }, 'could not resume ECG analysis from its position'))
      .finally(() => {
        resuming.delete(deviceId);
        release(deviceId);
      });
    resuming.set(deviceId, work);
  }

  function dropWaiting(deviceId: string) {
    const w = waiting.get(deviceId);
    if (w?.timer) clearTimeout(w.timer);
    waiting.delete(deviceId);
  }

  /** Adds stored chunks to a device's waiting ones (each once), to be released in order. */
  function park(deviceId: string, chunks: StoredEcgChunk[]) {
    if (chunks.length === 0) return;
    const w = waiting.get(deviceId) ?? { chunks: [], since: performance.now(), timer: null };
    const have = new Set(w.chunks.map((c) => c.ts));
    for (const c of chunks) if (!have.has(c.ts)) w.chunks.push(c);
    w.chunks.sort((a, b) => a.ts - b.ts);
    waiting.set(deviceId, w);
  }

  /** Chunks between `fromTs` and `toTs` from the store (a gap in what this instance heard), then release again. */
  function fillGap(deviceId: string, patientId: string, fromTs: number, toTs: number): void {
    const epoch = epochs.get(deviceId) ?? 0;
    const work = deps.repos.ecg
      .deviceSince(deviceId, patientId, fromTs - CONTIGUOUS_MS, REPLAY_PAGE)
      .then((chunks) => {
        if (closed || (epochs.get(deviceId) ?? 0) !== epoch) return;
        if (chunks.some((c) => c.ts < toTs - CONTIGUOUS_MS)) counters.gapsFilled++;
        park(deviceId, chunks); // the hole's chunks, and those after it that this instance did not hear of
      })
      .catch((err) => log.warn({ err, deviceId }, 'could not read stored ECG chunks for a gap'))
      .finally(() => {
        resuming.delete(deviceId);
        release(deviceId);
      });
    resuming.set(deviceId, work);
  }

  /** Owned devices with stored chunks past their position and no stream here: resume them. */
  let sweeping = false;
  async function sweep() {
    if (sweeping || closed) return;
    sweeping = true;
    try {
      for (const d of await deps.repos.ecg.behind(CATCHUP_WITHIN_MS)) {
        if (closed) return;
        if (streams.has(d.deviceId) || resuming.has(d.deviceId) || waiting.has(d.deviceId)) continue;
        // Asking also claims the patient when its owner died and the device has gone quiet since.
        if (ownership.ownsNow(d.patientId) || (await ownership.owns(d.patientId))) resume(d.deviceId, d.patientId);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'ECG catch-up sweep failed; trying again');
    } finally {
      sweeping = false;
    }
  }
  let soon: NodeJS.Timeout | null = null;
  function sweepSoon() {
    if (soon || closed) return;
    soon = setTimeout(() => {
      soon = null;
      void sweep();
    }, 200);
    soon.unref();
  }
  const catchup = setInterval(() => void sweep(), CATCHUP_SWEEP_MS);
  catchup.unref();
  sweepSoon(); // at start: what was stored while this instance (or every instance) was down

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
      const hrDue = Number.isFinite(result.heartRate) && result.confidence >= MIN_CONFIDENCE && c.ts - s.lastHrStoredAt >= HR_STORE_EVERY_MS;

      const adopted: EcgEpisode[] = [];
      const q = quiet.get(c.deviceId);
      if (q) {
        if (s.nextTs <= q.until + CONTIGUOUS_MS) {
          // Warm-up before the position: the previous owner stored these findings. Only follow the analyzer.
          if (hrDue) s.lastHrStoredAt = c.ts;
          if (result.af.episodeStarted !== undefined) q.seenAf = at(result.af.episodeStarted);
          if (result.af.episodeEnded !== undefined) q.seenAf = null;
          if (result.vf.episodeStarted !== undefined) q.seenVf = at(result.vf.episodeStarted);
          if (result.vf.episodeEnded !== undefined) q.seenVf = null;
          s.positionAt = s.nextTs;
          return;
        }
        quiet.delete(c.deviceId);
        s.positionAt = q.until;
        if (c.ts - q.until > MAX_GAP_MS) {
          // The signal stopped at the position: the episodes open there ended there.
          closeEpisodes(c.deviceId, c.patientId, q.afStart, q.vfStart, q.until);
        } else {
          // Take over the previous owner's open episodes; one the warming analyzer found that it had not
          // decided yet (decisions come late) starts now.
          s.afStartTs = q.afStart;
          s.vfStartTs = q.vfStart;
          // An episode taken over is announced again: the previous owner may have died after storing its
          // start and before its alert was raised (raising is idempotent: one open alert per rule).
          if (q.afStart !== null) adopted.push({ kind: 'af', state: 'start', patientId: c.patientId, deviceId: c.deviceId, at: q.afStart });
          if (q.vfStart !== null) adopted.push({ kind: 'vf', state: 'start', patientId: c.patientId, deviceId: c.deviceId, at: q.vfStart });
          if (s.afStartTs === null && q.seenAf !== null) {
            s.afStartTs = q.seenAf;
            adopted.push({ kind: 'af', state: 'start', patientId: c.patientId, deviceId: c.deviceId, at: q.seenAf });
          }
          if (s.vfStartTs === null && q.seenVf !== null) {
            s.vfStartTs = q.seenVf;
            adopted.push({ kind: 'vf', state: 'start', patientId: c.patientId, deviceId: c.deviceId, at: q.seenVf });
          }
        }
      }

      const derived: NewReading[] = [];
      const method = { ...ECG_ALGORITHM };
      const episodes: EcgEpisode[] = adopted;
      if (hrDue) {
        s.lastHrStoredAt = c.ts;
        derived.push({
          patientId: c.patientId,
          deviceId: c.deviceId,
          system: DERIVED_CODES.ecgHeartRate.system,
          code: DERIVED_CODES.ecgHeartRate.code,
          value: Math.round(result.heartRate),
          unit: '/min',
          ts: c.ts,
          seq: null,
          method,
        });
      }
      // An episode already open (taken over from the previous owner) is not started again.
      if (result.af.episodeStarted !== undefined && s.afStartTs === null) {
        s.afStartTs = at(result.af.episodeStarted);
        episodes.push({ kind: 'af', state: 'start', patientId: c.patientId, deviceId: c.deviceId, at: s.afStartTs, confidence: result.af.confidence });
      }
      // An end without a known start (the warming analyzer's own, before the position) is not an episode.
      if (result.af.episodeEnded !== undefined && s.afStartTs !== null) {
        const end = at(result.af.episodeEnded);
        const start = s.afStartTs;
        s.afStartTs = null;
        episodes.push({ kind: 'af', state: 'end', patientId: c.patientId, deviceId: c.deviceId, at: end, startedAt: start });
        derived.push({
          patientId: c.patientId,
          deviceId: c.deviceId,
          system: DERIVED_CODES.afEpisode.system,
          code: DERIVED_CODES.afEpisode.code,
          value: Math.round((end - start) / 1000),
          unit: 's',
          ts: start,
          seq: null,
          method,
        });
      }
      if (result.vf.episodeStarted !== undefined && s.vfStartTs === null) {
        s.vfStartTs = at(result.vf.episodeStarted);
        episodes.push({ kind: 'vf', state: 'start', patientId: c.patientId, deviceId: c.deviceId, at: s.vfStartTs });
      }
      if (result.vf.episodeEnded !== undefined && s.vfStartTs !== null) {
        s.vfStartTs = null;
        episodes.push({ kind: 'vf', state: 'end', patientId: c.patientId, deviceId: c.deviceId, at: at(result.vf.episodeEnded) });
      }
      if (derived.length === 0 && episodes.length === 0 && s.nextTs - s.positionAt < POSITION_EVERY_MS) return;
      // Write first, then emit: an episode's event follows its stored row (an AF end stores the episode),
      // and both follow the position that says this chunk is analysed.
      s.positionAt = s.nextTs;
      persist(
        c.deviceId,
        { deviceId: c.deviceId, patientId: c.patientId, analysedTo: s.nextTs, afStart: s.afStartTs, vfStart: s.vfStartTs },
        derived,
        episodes,
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
    /** Looks for owned devices with unanalysed stored chunks now (tests; otherwise every CATCHUP_SWEEP_MS). */
    sweep,
    /** Resolves when every resume and findings write started so far has settled (tests). */
    async settled() {
      while (resuming.size > 0 || writes.size > 0) await Promise.allSettled([...resuming.values(), ...writes.values()]);
    },
    close() {
      closed = true;
      clearInterval(catchup);
      if (soon) clearTimeout(soon);
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
