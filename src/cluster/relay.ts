import type { Db, Queryable } from '../platform/db.ts';
import type { EventBus, EventName } from '../platform/events.ts';
import type { Logger } from '../platform/logger.ts';
import type { StoredEcgChunk, StoredReading } from '../domain/types.ts';
import { decodeInline, encodeInline, inlinable, type InlineReadings } from './relay-readings.ts';

export const RELAY_CHANNEL = 'vigil_events';
/** PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more. */
const MAX_PAYLOAD = 7_900;
/**
 * Events other instances need, as they are (small JSON). Not relayed: `readings.stored` and `ecg.stored`
 * (announced inside the ingest transaction as ids, see `announceStored`), `command.result` (handled where
 * the device's answer arrived), and the messaging events and the visit rooms' own, whose payloads may carry message text that
 * must not sit in PostgreSQL's notification queue in plaintext (their screens refresh on their own).
 */
export const RELAYED_EVENTS: EventName[] = [
  'device.status',
  'news2.scored',
  'ecg.episode',
  'alert.changed',
  'command.changed',
  'payload.rejected',
  'device.credentials',
  'auth.ended',
  'visit.waiting', // ids and a count only: a nurse on any instance hears that a patient waits
];

/**
 * Ids of one batch as runs: "100-199,305" (a batch's ids come from one sequence, mostly consecutive), so a
 * batch of 10,000 readings is one notification instead of ten.
 */
export function packIds(ids: string[]): string[] {
  const sorted = ids.map(Number).sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j + 1;
  }
  return out;
}

/** The ids of packIds' runs; anything not a run of decimal ids is dropped (a payload is never trusted). */
export function unpackIds(packed: string): string[] {
  const out: string[] = [];
  for (const token of packed.split(',')) {
    const run = /^(\d+)-(\d+)$/.exec(token);
    if (!run) {
      if (/^\d+$/.test(token)) out.push(token);
      continue;
    }
    const [from, to] = [Number(run[1]), Number(run[2])];
    if (to < from || to - from > 1_000_000) continue;
    for (let id = from; id <= to; id++) out.push(String(id));
  }
  return out;
}

type Wire = { o: string; r?: string; c?: string; x?: InlineReadings; v?: Array<[string, unknown[]]> };

/**
 * Live events across instances over PostgreSQL LISTEN/NOTIFY. Whatever one instance stores or decides is
 * re-emitted on every other instance's event bus, so each dashboard converges whichever instance it is
 * connected to, and the owner of a patient (cluster/ownership.ts) hears readings that another instance's
 * broker consumer received.
 * - stored readings and ECG chunks are NOTIFYed inside the ingest transaction, so they are announced
 *   exactly when (and only if) they commit: readings with their values (relay-readings.ts), so receivers
 *   need no query, and only those of patients the receiver has an interest in (`addInterest`: it owns
 *   or may own them, a dashboard there shows them) become events; ECG chunks and derived readings by id,
 *   loaded by the receiver;
 * - the other events: NOTIFYed after the fact, in order, packed several to a notification.
 * A remote event is marked so that it is never relayed back. After the LISTEN session reconnects (a
 * database restart), `onResync` listeners reload what they keep in memory.
 */
export function createRelay(deps: {
  db: Db;
  events: EventBus;
  instanceId: string;
  logger: Logger;
  load: { readings(ids: string[]): Promise<StoredReading[]>; ecg(ids: string[]): Promise<StoredEcgChunk[]> };
  /**
   * Live instances on the database (cluster/ownership.ts). Alone, readings are announced by id only (an
   * instance that starts meanwhile loads them): encoding values nobody receives is wasted work.
   */
  peers?: () => number;
}) {
  const log = deps.logger.child({ module: 'relay', instance: deps.instanceId });
  const remote = new WeakSet<object>();
  const resyncs = new Set<() => void>();
  const interests = new Set<(patientId: string) => boolean>();
  // No interest registered (a bare relay): every reading is wanted.
  const wanted = (patientId: string) => {
    if (interests.size === 0) return true;
    for (const f of interests) if (f(patientId)) return true;
    return false;
  };
  const counters = { sent: 0, received: 0, dropped: 0, remoteReadings: 0, remoteEcg: 0 };
  const enabled = typeof deps.db.listen === 'function';
  let unlisten: (() => Promise<void>) | null = null;
  let inbound: Promise<void> = Promise.resolve();
  let outbound: Promise<void> = Promise.resolve();
  let queue: Array<[string, unknown[]]> = [];
  const offs: Array<() => void> = [];
  const header = JSON.stringify({ o: deps.instanceId }).slice(0, -1);
  const ownPrefix = header + ',';

  const mark = <T>(v: T): T => {
    if (v && typeof v === 'object') remote.add(v as object);
    return v;
  };

  /** Splits ids into NOTIFY payloads that stay under the size limit. */
  function idPayloads(key: 'r' | 'c', ids: string[]): string[] {
    const out: string[] = [];
    let part: string[] = [];
    let size = header.length + 10;
    for (const id of packIds(ids)) {
      if (size + id.length + 1 > MAX_PAYLOAD) {
        out.push(`${header},"${key}":"${part.join(',')}"}`);
        part = [];
        size = header.length + 10;
      }
      part.push(id);
      size += id.length + 1;
    }
    if (part.length) out.push(`${header},"${key}":"${part.join(',')}"}`);
    return out;
  }

  async function receive(raw: string) {
    if (raw === '') {
      for (const r of [...resyncs]) r();
      return;
    }
    if (raw.startsWith(ownPrefix)) return; // our own notification, back from PostgreSQL: not even parsed
    const m = JSON.parse(raw) as Wire;
    if (m.o === deps.instanceId) return;
    counters.received++;
    if (m.x) {
      const readings = decodeInline(m.x, wanted);
      counters.remoteReadings += readings.length;
      if (readings.length) deps.events.emit('readings.stored', mark(readings));
    }
    if (m.r) {
      const readings = await deps.load.readings(unpackIds(m.r));
      counters.remoteReadings += readings.length;
      if (readings.length) deps.events.emit('readings.stored', mark(readings));
    }
    if (m.c) {
      const chunks = await deps.load.ecg(unpackIds(m.c));
      counters.remoteEcg += chunks.length;
      for (const c of chunks) deps.events.emit('ecg.stored', mark(c));
    }
    for (const [name, args] of m.v ?? []) {
      if (!RELAYED_EVENTS.includes(name as EventName)) continue;
      mark(args[0]);
      (deps.events.emit as (n: string, ...a: unknown[]) => void)(name, ...args);
    }
  }

  function flush() {
    outbound = outbound.then(async () => {
      while (queue.length) {
        const batch = queue;
        queue = [];
        const payloads: string[] = [];
        let part: string[] = [];
        let size = header.length + 8;
        for (const e of batch) {
          const json = JSON.stringify(e);
          if (header.length + json.length + 8 > MAX_PAYLOAD) {
            counters.dropped++;
            log.warn({ event: e[0], bytes: json.length }, 'event too large to relay to other instances');
            continue;
          }
          if (size + json.length + 1 > MAX_PAYLOAD) {
            payloads.push(`${header},"v":[${part.join(',')}]}`);
            part = [];
            size = header.length + 8;
          }
          part.push(json);
          size += json.length + 1;
        }
        if (part.length) payloads.push(`${header},"v":[${part.join(',')}]}`);
        for (const p of payloads) {
          await deps.db.query('SELECT pg_notify($1, $2)', [RELAY_CHANNEL, p]).then(
            () => void counters.sent++,
            (err) => {
              counters.dropped++;
              log.warn({ err: (err as Error).message }, 'could not relay events to other instances');
            },
          );
        }
      }
    });
  }

  return {
    enabled,
    /** Was this event payload received from another instance (so it must not be acted on twice)? */
    isRemote: (payload: unknown) => !!payload && typeof payload === 'object' && remote.has(payload as object),
    /**
     * Relayed readings of a patient become events here only if some interest says yes (this instance owns or
     * may own the patient; a dashboard here shows it). None registered: all of them.
     */
    addInterest(fn: (patientId: string) => boolean) {
      interests.add(fn);
      return () => void interests.delete(fn);
    },
    /** Called when the LISTEN session came back after a drop: events may have been missed. */
    onResync(fn: () => void) {
      resyncs.add(fn);
      return () => resyncs.delete(fn);
    },
    /**
     * Inside the ingest transaction: NOTIFY the ids of what it stored. PostgreSQL delivers a NOTIFY when its
     * transaction commits and never if it rolls back, so other instances hear of exactly the committed rows.
     */
    async announceStored(tx: Queryable, readings: StoredReading[], ecgIds: string[]) {
      if (!enabled) return;
      const alone = (deps.peers?.() ?? 2) <= 1;
      const plain = alone ? [] : readings.every(inlinable) ? readings : readings.filter(inlinable);
      const inline = encodeInline(plain, MAX_PAYLOAD - header.length - 8);
      const byId = plain.length === readings.length ? inline.byId : alone ? readings : [...readings.filter((r) => !inlinable(r)), ...inline.byId];
      const payloads = [
        ...inline.payloads.map((x) => `${header},"x":${x}}`),
        ...idPayloads(
          'r',
          byId.map((r) => r.id),
        ),
        ...idPayloads('c', ecgIds),
      ];
      // One round trip for every notification of the batch (they are delivered in this order).
      if (payloads.length === 1) await tx.query('SELECT pg_notify($1, $2)', [RELAY_CHANNEL, payloads[0]]);
      else if (payloads.length > 1)
        await tx.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS x(p, n) ORDER BY n', [RELAY_CHANNEL, payloads]);
      counters.sent += payloads.length;
    },
    async start() {
      if (!enabled) return;
      unlisten = await deps.db.listen!(RELAY_CHANNEL, (raw) => {
        inbound = inbound.then(() => receive(raw)).catch((err) => log.error({ err }, 'could not apply an event from another instance'));
      });
      for (const name of RELAYED_EVENTS) {
        offs.push(
          deps.events.on(name, (...args: unknown[]) => {
            if (remote.has(args[0] as object)) return;
            const first = queue.length === 0;
            queue.push([name, args]);
            if (first) queueMicrotask(flush);
          }),
        );
      }
    },
    stats: () => ({ ...counters }),
    /** Resolves when every event received so far has been applied (tests). */
    settled: () => inbound,
    async close() {
      offs.splice(0).forEach((o) => o());
      await outbound;
      await unlisten?.();
      await inbound;
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
