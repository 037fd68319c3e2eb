import type { Db, Queryable } from '../platform/db.ts';
import type { EventBus } from '../platform/events.ts';
import type { DeviceMapping } from '../devices/mappings.ts';
import type { Logger } from '../platform/logger.ts';
import type { Clock } from '../platform/clock.ts';
import type { EcgChunk, StoredEcgChunk, StoredReading } from '../domain/types.ts';
import { storable, type NewReading, type ReadingsRepository } from '../store/readings.repository.ts';
import type { EcgPosition, EcgRepository } from '../store/ecg.repository.ts';
import type { DevicesRepository } from '../store/devices.repository.ts';
import type { RejectionsRepository } from '../store/rejections.repository.ts';
import type { DeviceService } from '../devices/device.service.ts';
import { createBatchWriter } from './batch-writer.ts';
import { isDataError } from '../store/sql-errors.ts';
import { decodeEcg, decodeStatus, decodeTelemetryAs, TOPIC_PREFIX } from './decode.ts';

export type IngestResult = { ok: true; stored: number; duplicates: number; rejected: string[] } | { ok: false; reason: string };

interface WorkItem {
  /**
   * (device, seq) of the message, for de-duplication; absent when the device sent no seq. Two fields, not a
   * key object: an item lives until its batch commits, thousands at once, so each object less per message is
   * less for the garbage collector to copy.
   */
  keyDevice?: string;
  keySeq?: number;
  /** Built to be stored (`storable`): the write fills their ids in place. */
  readings: StoredReading[];
  ecg: Array<EcgChunk & { patientId: string; deviceId: string }>;
  /** ECG findings: the analysis position they bring the device to, from `prev`; stored only if the stored one is still `prev`. */
  ecgPosition?: EcgPosition & { prev: number | null };
}

interface WorkResult {
  /** How many of the item's readings were stored: all of them (now with ids) or none (a duplicate message). */
  stored: number;
  /** Every reading the item's transaction stored (one array shared by the batch's results, emitted once). */
  batch: StoredReading[];
  ecg: StoredEcgChunk[];
  /** For an item with an ecgPosition: it advanced (false: another owner stored this far; nothing stored). */
  advanced?: boolean;
}

const storableCopy = (r: NewReading) => storable(r.patientId, r.deviceId, r.code, r.value, r.unit, r.ts, r.seq, r.commandId, r.system, r.method);
const NO_ECG: never[] = []; // most items are telemetry: one shared empty list, never written to
const LAST_SEEN_FLUSH_MS = 5_000; // last-seen is for people ("12 s ago"), not worth a write per message
const MAX_BATCH_ITEMS = 2_000; // messages per transaction
const DERIVED_RETRIES = 30; // ≈ 1 min of retries for derived observations while the database is away

/**
 * Turns device payloads (from any transport) into durable readings. Every `accept*` resolves only after
 * what it accepted is committed, and `readings.stored` / `ecg.stored` are emitted after the commit.
 */
export function createIngestService(deps: {
  db: Db;
  readings: ReadingsRepository;
  ecg: EcgRepository;
  devices: DevicesRepository;
  rejections: RejectionsRepository;
  deviceService: DeviceService;
  events: EventBus;
  logger: Logger;
  /** Arrival time of a message that does not bring its own (device last-seen, received_at). */
  clock: Clock;
  flushMs: number;
  /**
   * Back-pressure from what consumes stored readings (the alert rules): resolves when there is room. A
   * device message waits here before it is written, so its acknowledgement waits too and senders slow down.
   */
  pressure?: () => Promise<void> | null;
  /**
   * Tells other instances what this transaction stored (cluster/relay.ts: NOTIFY inside the transaction,
   * so it is delivered exactly when the rows commit).
   */
  announce?: (tx: Queryable, readings: StoredReading[], ecgIds: string[]) => Promise<void>;
  /** Device models' own payload keys, by device type (devices/mappings.ts). */
  mappings?: Map<string, DeviceMapping>;
}) {
  // A device's type never changes after provisioning, so its model's mapping is looked up once per device (only
  // when mappings exist): the entry is the lookup while it runs, then the mapping itself (no await per message).
  const mappingOf = new Map<string, DeviceMapping | null | Promise<DeviceMapping | null>>();
  function mappingFor(deviceId: string): DeviceMapping | null | Promise<DeviceMapping | null> {
    if (!deps.mappings?.size) return null;
    const known = mappingOf.get(deviceId);
    if (known !== undefined) return known;
    const lookup = deps.devices.byId(deviceId).then((d) => (d?.type && deps.mappings!.get(d.type)) || null);
    mappingOf.set(deviceId, lookup);
    lookup.then(
      (mapping) => mappingOf.set(deviceId, mapping),
      () => mappingOf.delete(deviceId),
    );
    return lookup;
  }
  const log = deps.logger.child({ module: 'ingest' });
  const counters = { messages: 0, readings: 0, duplicates: 0, rejectedMessages: 0, rejectedReadings: 0, ecgChunks: 0, deadLettered: 0 };
  const seen = new Map<string, number>();

  const writer = createBatchWriter<WorkItem, WorkResult>({
    flushMs: deps.flushMs,
    maxItems: MAX_BATCH_ITEMS,
    concurrency: deps.db.kind === 'pglite' ? 1 : 4,
    isItemError: isDataError,
    async write(items) {
      return deps.db.transaction(async (tx) => {
        // De-duplicate whole messages on (device, seq) first; only fresh messages' readings are inserted.
        const keyDevices: string[] = []; // the keys as the statement's two columns: no object per message
        const keySeqs: number[] = [];
        for (const i of items)
          if (i.keyDevice !== undefined) {
            keyDevices.push(i.keyDevice);
            keySeqs.push(i.keySeq!);
          }
        const fresh = await deps.readings.claimMessages(tx, keyDevices, keySeqs);
        const claimed = new Set<string>();
        const accepted = items.map((i) => {
          if (i.keyDevice === undefined || fresh === 'all') return true;
          const k = `${i.keyDevice}|${i.keySeq}`;
          if (!fresh.has(k) || claimed.has(k)) return false;
          claimed.add(k);
          return true;
        });
        // ECG findings are stored once: only with a position that moves forward (ecg.repository.ts).
        const positioned = items.filter((i) => i.ecgPosition).map((i) => i.ecgPosition!);
        const advanced = positioned.length ? await deps.ecg.advancePositions(tx, positioned) : new Set<string>();
        items.forEach((i, n) => {
          if (i.ecgPosition && !advanced.has(i.ecgPosition.deviceId)) accepted[n] = false;
        });
        const readings: StoredReading[] = [];
        for (let n = 0; n < items.length; n++) if (accepted[n]) for (const r of items[n].readings) readings.push(r);
        await deps.readings.insertStorable(tx, readings);
        const ecg = await deps.ecg.insertBatch(
          tx,
          items.flatMap((i) => i.ecg),
        );
        if (deps.announce && (readings.length || ecg.length))
          await deps.announce(
            tx,
            readings,
            ecg.map((c) => c.id),
          );
        // Hand each item back what it contributed.
        const ecgByKey = new Map<string, StoredEcgChunk>(ecg.map((c) => [`${c.deviceId}|${c.seq}|${c.ts}`, c]));
        const none: StoredEcgChunk[] = [];
        return items.map((i, n) => ({
          stored: accepted[n] ? i.readings.length : 0,
          batch: readings,
          ecg:
            i.ecg.length === 0
              ? none // most items are telemetry: no two arrays per message for nothing
              : i.ecg.map((c) => ecgByKey.get(`${c.deviceId}|${c.seq}|${c.ts}`)).filter((c): c is StoredEcgChunk => c !== undefined),
          ...(i.ecgPosition ? { advanced: accepted[n] } : {}),
        }));
      });
    },
    onCommitted(_items, results) {
      const readings = results[0].batch;
      if (readings.length > 0) deps.events.emit('readings.stored', readings);
      for (const r of results) for (const c of r.ecg) deps.events.emit('ecg.stored', c);
      ensurePositions(results.flatMap((r) => r.ecg));
    },
  });

  // Devices known to have an ECG analysis position row (store/ecg.repository.ts ensurePositions).
  const positioned = new Set<string>();
  function ensurePositions(chunks: StoredEcgChunk[]) {
    const fresh = new Map<string, { deviceId: string; patientId: string }>();
    for (const c of chunks) if (!positioned.has(c.deviceId)) fresh.set(c.deviceId, { deviceId: c.deviceId, patientId: c.patientId });
    if (fresh.size === 0) return;
    deps.ecg.ensurePositions([...fresh.values()]).then(
      () => fresh.forEach((_, id) => positioned.add(id)),
      (err) => log.warn({ err: (err as Error).message }, 'could not create ECG analysis positions; trying with the next chunk'),
    );
  }

  const lastSeenTimer = setInterval(() => void flushLastSeen(), LAST_SEEN_FLUSH_MS);
  lastSeenTimer.unref();

  async function flushLastSeen() {
    if (seen.size === 0) return;
    const batch = [...seen.entries()];
    seen.clear();
    const newest = Math.max(...batch.map(([, t]) => t));
    await deps.devices
      .touch(
        batch.map(([id]) => id),
        newest,
      )
      .catch((err) => log.warn({ err }, 'could not update last-seen'));
  }

  async function reject(deviceId: string | null, topic: string, reason: string, payload: Buffer | string, at: number) {
    counters.rejectedMessages++;
    log.warn({ deviceId, topic, reason }, 'payload rejected');
    deps.events.emit('payload.rejected', { deviceId: deviceId ?? '', topic, reason, ts: at });
    try {
      await deps.rejections.insert({ deviceId, topic, reason, payload: payload.toString(), at });
      if (deviceId) await deps.devices.countRejected(deviceId);
    } catch (err) {
      log.error({ err }, 'could not record a rejection');
    }
  }

  type Refused = { ok: false; reason: string };

  /** The device's patient id, or why its data is refused; from the device cache when it has the device (no await per message), else undefined. */
  function patientNow(deviceId: string): string | Refused | undefined {
    const known = deps.deviceService.knownNow?.(deviceId);
    if (!known) return undefined;
    if (known.patientId === null) return { ok: false, reason: `device ${deviceId} is not assigned to a patient` };
    if (known.disabled) return { ok: false, reason: `device ${deviceId} is disabled` };
    return known.patientId;
  }

  async function patientFor(deviceId: string): Promise<string | Refused> {
    const patientId = await deps.deviceService.patientOf(deviceId);
    if (patientId === undefined) return { ok: false, reason: `unknown device ${deviceId}` };
    if (patientId === null) return { ok: false, reason: `device ${deviceId} is not assigned to a patient` };
    // [sec] a disabled device's data is refused (recorded as a rejection) even through an external broker.
    if (await deps.deviceService.isDisabled(deviceId)) return { ok: false, reason: `device ${deviceId} is disabled` };
    return patientId;
  }

  const topicOf = (deviceId: string, kind: 'telemetry' | 'ecg') => `${TOPIC_PREFIX}${deviceId}/${kind}`;

  /**
   * The first steps of every device message: count it, mark the device seen, find its patient. Returns the
   * patient id, or the refusal (recorded as a rejection). Synchronous when the device is cached (no promise,
   * closure, topic text or result object per message: this runs for each of them).
   */
  function admit(deviceId: string, kind: 'telemetry' | 'ecg', payload: Buffer | string, receivedAt: number): string | Promise<string | Refused> {
    counters.messages++;
    seen.set(deviceId, receivedAt);
    const owner = patientNow(deviceId);
    if (typeof owner === 'string') return owner;
    return (async () => {
      const found = owner ?? (await patientFor(deviceId));
      if (typeof found !== 'string') await reject(deviceId, topicOf(deviceId, kind), found.reason, payload, receivedAt);
      return found;
    })();
  }

  /**
   * A message the database refuses for its content (the batch writer has already isolated it from the rest
   * of its batch) is dead-lettered: recorded as a rejection with the database's reason and answered, so a
   * QoS 1 device is acknowledged instead of resending it forever. An unavailable database still throws
   * (nothing is acknowledged; the device or broker retries).
   */
  async function deadLetterOnDataError(deviceId: string, topic: string, payload: Buffer | string, at: number, write: () => Promise<WorkResult>) {
    try {
      return { ok: true as const, ...(await write()) };
    } catch (err) {
      return deadLetter(deviceId, topic, payload, at, err);
    }
  }
  async function deadLetter(deviceId: string, topic: string, payload: Buffer | string, at: number, err: unknown) {
    if (!isDataError(err)) throw err;
    counters.deadLettered++;
    const reason = `the database refused the message: ${(err as Error).message}`;
    await reject(deviceId, topic, reason, payload, at);
    return { ok: false as const, reason };
  }

  /**
   * A finding has no sender to retry it (unlike a device message): while the database is away (a restart),
   * keep trying for about a minute rather than lose an AF episode or a NEWS2 score.
   */
  async function writeDerived(item: WorkItem): Promise<WorkResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await writer.add(item);
      } catch (err) {
        if (isDataError(err) || attempt >= DERIVED_RETRIES) throw err;
        log.warn({ err: (err as Error).message, attempt }, 'could not store derived observations yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(attempt, 4) * 500));
      }
    }
  }

  /**
   * One telemetry message, from arrival until it is committed (or refused). One async function for the whole
   * way (the message's one promise and frame live until its batch commits, thousands at once): the readings
   * are made in their stored shape by the decoder itself (`storable`), and nothing else of the decoding is
   * kept across the waits.
   */
  async function telemetry(deviceId: string, payload: Buffer | string, receivedAt: number): Promise<IngestResult> {
    arriving++;
    try {
      let mapping = mappingFor(deviceId);
      if (mapping instanceof Promise) mapping = await mapping; // the device's first message only
      const admitted = admit(deviceId, 'telemetry', payload, receivedAt);
      const patientId = typeof admitted === 'string' ? admitted : await admitted; // a promise: not in the device cache (yet)
      if (typeof patientId !== 'string') return patientId;
      const decoded = decodeTelemetryAs(payload, receivedAt, mapping ?? undefined, storable, patientId, deviceId);
      if (!decoded.ok) {
        const reason = decoded.reason; // only this is kept across the wait (not the decoding of every message)
        await reject(deviceId, topicOf(deviceId, 'telemetry'), reason, payload, receivedAt);
        return { ok: false, reason };
      }
      const { readings: rows, seq, rejected } = decoded.value;
      if (rejected.length > 0) {
        counters.rejectedReadings += rejected.length;
        await reject(deviceId, topicOf(deviceId, 'telemetry'), rejected.join('; '), payload, receivedAt);
      }
      const carried = rows.length;
      if (carried === 0) return { ok: true, stored: 0, duplicates: 0, rejected };
      const room = deps.pressure?.();
      if (room) await room;
      let stored: number;
      try {
        stored = (await writer.add(seq === null ? { readings: rows, ecg: NO_ECG } : { keyDevice: deviceId, keySeq: seq, readings: rows, ecg: NO_ECG })).stored;
      } catch (err) {
        return deadLetter(deviceId, topicOf(deviceId, 'telemetry'), payload, receivedAt, err);
      }
      counters.readings += stored;
      counters.duplicates += carried - stored;
      return { ok: true, stored, duplicates: carried - stored, rejected };
    } finally {
      arrived();
    }
  }

  async function ecg(deviceId: string, payload: Buffer | string, receivedAt: number): Promise<IngestResult> {
    const patientId = await admit(deviceId, 'ecg', payload, receivedAt);
    if (typeof patientId !== 'string') return patientId;
    const decoded = decodeEcg(payload, receivedAt);
    if (!decoded.ok) {
      await reject(deviceId, topicOf(deviceId, 'ecg'), decoded.reason, payload, receivedAt);
      return decoded;
    }
    const result = await deadLetterOnDataError(deviceId, topicOf(deviceId, 'ecg'), payload, receivedAt, () =>
      writer.add({ readings: [], ecg: [{ ...decoded.value, patientId, deviceId }] }),
    );
    if (!result.ok) return result;
    counters.ecgChunks += result.ecg.length;
    return { ok: true, stored: result.ecg.length, duplicates: 1 - result.ecg.length, rejected: [] };
  }

  // Device messages from arrival until answered (still resolving their device, decoding, or in a batch): drain
  // waits for them. A count, not a set of promises: no promise, closure or set entry per message.
  let arriving = 0;
  const allArrived: Array<() => void> = [];
  const arrived = () => {
    if (--arriving === 0) for (const wake of allArrived.splice(0)) wake();
  };

  async function drain() {
    while (arriving > 0 || writer.stats().queued > 0 || writer.stats().inFlight > 0) {
      if (arriving > 0) await new Promise<void>((resolve) => allArrived.push(resolve));
      await writer.drain();
    }
  }

  const service = {
    acceptTelemetry(deviceId: string, payload: Buffer | string, receivedAt = deps.clock.now()): Promise<IngestResult> {
      return telemetry(deviceId, payload, receivedAt); // counts itself as arriving (no second promise per message)
    },

    async acceptEcg(deviceId: string, payload: Buffer | string, receivedAt = deps.clock.now()): Promise<IngestResult> {
      arriving++;
      try {
        return await ecg(deviceId, payload, receivedAt);
      } finally {
        arrived();
      }
    },

    /**
     * A device published under its own subtree to a topic the protocol does not have (a typo such as
     * `Telemetry`, `telemetry/v2`): refused with the topics it could mean, counted and shown to an admin, so
     * the device's owner learns that nothing was stored (the broker still acknowledges it).
     */
    async refuseTopic(deviceId: string, topic: string, payload: Buffer | string, receivedAt = deps.clock.now()): Promise<IngestResult> {
      const reason = `unknown topic: a device publishes to ${TOPIC_PREFIX}${deviceId}/telemetry, /ecg, /status or /commands/{id}/result`;
      await reject(deviceId, topic.slice(0, 200), reason, payload, receivedAt);
      return { ok: false, reason };
    },

    async acceptStatus(deviceId: string, payload: Buffer | string, receivedAt = deps.clock.now()): Promise<IngestResult> {
      arriving++;
      try {
        const decoded = decodeStatus(payload);
        if (!decoded.ok) {
          await reject(deviceId, `${TOPIC_PREFIX}${deviceId}/status`, decoded.reason, payload, receivedAt);
          return decoded;
        }
        return await service.setOnline(deviceId, decoded.value.online, decoded.value.battery, receivedAt);
      } finally {
        arrived();
      }
    },

    /** Connection changes from the broker (connect, disconnect, last will) land here too. */
    async setOnline(deviceId: string, online: boolean, battery: number | undefined, at = deps.clock.now()): Promise<IngestResult> {
      await deps.devices.setStatus(deviceId, { online, battery, at });
      const patientId = (await deps.deviceService.patientOf(deviceId)) ?? null;
      deps.events.emit('device.status', { deviceId, patientId, online, battery, ts: at });
      return { ok: true, stored: 0, duplicates: 0, rejected: [] };
    },

    /** Derived observations from analysis go through the same durable, batched path. */
    async storeDerived(rows: NewReading[]): Promise<StoredReading[]> {
      if (rows.length === 0) return [];
      const readings = rows.map(storableCopy);
      return (await writeDerived({ readings, ecg: NO_ECG })).stored ? readings : [];
    },

    /**
     * ECG findings with the analysis position they bring their device to, in one transaction. Returns
     * false when the stored position was not `prev` any more (another writer is there): nothing was
     * stored, and the caller must not announce the findings, and stop analysing the device.
     */
    async storeEcgFindings(position: EcgPosition & { prev: number | null }, rows: NewReading[]): Promise<boolean> {
      return (await writeDerived({ readings: rows.map(storableCopy), ecg: NO_ECG, ecgPosition: position })).advanced === true;
    },

    /**
     * Readings written inside the caller's transaction (a FHIR transaction Bundle: all entries or none), not
     * through the batch writer. `committed()` must be called after COMMIT: it emits `readings.stored`.
     */
    async storeIn(tx: Queryable, rows: NewReading[]): Promise<{ readings: StoredReading[]; committed(): void }> {
      const readings = await deps.readings.insertBatch(tx, rows);
      if (deps.announce && readings.length) await deps.announce(tx, readings, []);
      return { readings, committed: () => void (readings.length && deps.events.emit('readings.stored', readings)) };
    },

    reject,
    stats: () => ({ ...counters, ...writer.stats() }),
    /** Resolves when every message received so far is written (or refused); used before monitoring stops. */
    drain,
    async close() {
      clearInterval(lastSeenTimer);
      await drain();
      await flushLastSeen();
    },
  };
  return service;
}

export type IngestService = ReturnType<typeof createIngestService>;
