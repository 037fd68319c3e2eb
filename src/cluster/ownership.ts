import type pg from 'pg';
import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';

/** Patients are owned in buckets: one advisory lock per bucket keeps PostgreSQL's shared lock table small. */
export const OWNERSHIP_BUCKETS = 256;
/** First half of the two-integer advisory-lock key ('VG'); the bucket is the second. */
const LOCK_SPACE = 0x5647;
/** A shared advisory lock ('VR', 0) held by the ownership session of an instance that evaluates (see `ready`). */
const READY_SPACE = 0x5652;
/** A bucket held elsewhere is asked for again after this (that is how a dead instance's work moves), ms. */
const RETRY_MS = 1_000;
/** The lease session is checked this often; one that does not answer within PING_TIMEOUT_MS of event-loop time is dropped, ms. */
const PING_MS = 2_000;
const PING_TIMEOUT_MS = 3_000;
const LOOP_TICK_MS = 100;
const RECONNECT_MS = 1_000;
/** Between two hand-backs of buckets to a newcomer (rebalancing), ms. */
const HANDBACK_PAUSE_MS = 10_000;
/**
 * PostgreSQL ends an ownership session that has said nothing for this long (`idle_session_timeout`, PostgreSQL
 * 14+), ms. The session pings every PING_MS, so only a frozen instance stays silent: a stopped container, a
 * paused VM, a hung event loop. Its socket stays open, so without this its locks, and its patients' alert
 * evaluation, stayed with it until it came back or its TCP connection died (review: "a ready instance that stops
 * claiming while its session stays up").
 */
const FROZEN_AFTER_MS = 30_000;

export interface OwnershipChange {
  bucket: number;
  owned: boolean;
}

/**
 * Which Vigil instance does the once-only work for a patient: alert evaluation, NEWS2, the ECG analyzer of
 * the patient's devices, CGM daily summaries, command delivery on reconnect. Every instance hears every
 * patient's events (cluster/relay.ts); only the owner acts on them.
 */
export interface Ownership {
  readonly instanceId: string;
  /** Is this instance the owner of the patient now? Claims the patient's bucket if nobody holds it. */
  owns(patientId: string): Promise<boolean>;
  /** Owned now, without asking the database (false when unknown). */
  ownsNow(patientId: string): boolean;
  /**
   * Owned now, or not known to be another instance's: `owns` would try to claim it. False only while a
   * recent claim of the bucket was refused (for RETRY_MS), so the relay drops readings of patients that
   * another live instance evaluates instead of turning them into events here.
   */
  mayOwn(patientId: string): boolean;
  /**
   * This instance evaluates now (monitoring started): from here on, instances over their fair share hand it buckets.
   * One that is still starting, or never gets there, is handed nothing, so no bucket is left without an owner.
   */
  ready(): Promise<void>;
  /** The bucket a patient belongs to (what `onChange` reports). */
  bucketOf(patientId: string): number;
  /** Ownership of a bucket was gained or lost (lost: a live instance must stop acting for it at once). */
  onChange(listener: (change: OwnershipChange) => void): () => void;
  stats(): { buckets: number; owned: number; connected: boolean; peers: number };
  close(): Promise<void>;
}

/** FNV-1a (32 bit): a stable, well-spread bucket for a patient id, the same in every instance. */
export function bucketOf(key: string, buckets = OWNERSHIP_BUCKETS): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/** One instance (PGlite, or a single server): it owns everything. */
export function soleOwnership(instanceId: string): Ownership {
  return {
    instanceId,
    owns: async () => true,
    ownsNow: () => true,
    mayOwn: () => true,
    ready: async () => undefined,
    bucketOf: (patientId) => bucketOf(patientId),
    onChange: () => () => undefined,
    stats: () => ({ buckets: OWNERSHIP_BUCKETS, owned: OWNERSHIP_BUCKETS, connected: true, peers: 1 }),
    close: async () => undefined,
  };
}

/**
 * Leases as PostgreSQL session-level advisory locks (`pg_try_advisory_lock`) held on one dedicated session
 * per instance. A bucket is claimed when its first event arrives; the lock lives as long as the session,
 * so when an instance dies (even kill -9: the kernel closes its socket and PostgreSQL ends the backend)
 * its buckets become free and the next instance that sees one of their patients claims it within RETRY_MS.
 * When this instance loses its session (database restart, network), it drops every bucket at once, before
 * anyone else can take them, and claims again after reconnecting.
 */
export async function createLeaseOwnership(deps: {
  db: Db;
  instanceId: string;
  logger: Logger;
  buckets?: number;
  retryMs?: number;
  /** Tests: a shorter FROZEN_AFTER_MS. */
  frozenAfterMs?: number;
}): Promise<Ownership> {
  if (!deps.db.openSession) return soleOwnership(deps.instanceId);
  const log = deps.logger.child({ module: 'ownership', instance: deps.instanceId });
  const buckets = deps.buckets ?? OWNERSHIP_BUCKETS;
  const retryMs = deps.retryMs ?? RETRY_MS;
  const owned = new Set<number>();
  const refusedAt = new Map<number, number>(); // performance.now() of the last refusal: a retry delay in real time, not domain time
  const claiming = new Map<number, Promise<boolean>>();
  const listeners = new Set<(c: OwnershipChange) => void>();
  let session: pg.Client | null = null;
  let closed = false;
  let warnedNoIdleTimeout = false;
  // Live instances on this database (their ownership sessions): an instance claims at most its fair share
  // of buckets, so patients spread over instances instead of all going to whichever started first.
  let peers = 1;
  // One statement at a time on the session (node-postgres queues, but deprecates relying on it).
  let turn: Promise<unknown> = Promise.resolve();
  const run = <R extends pg.QueryResultRow>(c: pg.Client, sql: string, params?: unknown[]) => {
    const result = turn.then(() => c.query<R>(sql, params));
    turn = result.catch(() => undefined);
    return result;
  };
  /**
   * Balance by the buckets in use, not by all 256: a clinic of 40 patients uses ~37, all held by the first instance
   * up, far under its share of 256. `fair`: buckets held by all instances ÷ the ready ones (this one included);
   * `othersShort`: what the other ready instances lack of it (what a newcomer still has to claim).
   */
  let fair = Infinity;
  let othersShort = 0;
  let handedBackAt = -Infinity;
  let isReady = false;
  const countPeers = async (c: pg.Client) => {
    // Each ownership session, the buckets it holds (its granted advisory locks in our lock space), and whether it is ready.
    const { rows } = await run<{ me: boolean; held: number; ready: boolean | null }>(
      c,
      `SELECT a.pid = pg_backend_pid() AS me, count(l.objid) FILTER (WHERE l.classid = $1::oid)::int AS held,
              bool_or(l.classid = $2::oid) AS ready
         FROM pg_stat_activity a
         LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid IN ($1::oid, $2::oid)
        WHERE a.datname = current_database() AND a.application_name LIKE 'vigil-owner-%'
        GROUP BY a.pid`,
      [LOCK_SPACE, READY_SPACE],
    );
    peers = Math.max(1, rows.length);
    const held = rows.reduce((sum, r) => sum + r.held, 0);
    fair = Math.ceil(held / Math.max(1, rows.filter((r) => r.me || r.ready).length));
    othersShort = rows.reduce((sum, r) => sum + (r.me || !r.ready ? 0 : Math.max(0, fair - r.held)), 0);
  };
  const announceReady = (c: pg.Client) => run(c, 'SELECT pg_advisory_lock_shared($1::int, 0)', [READY_SPACE]);
  /**
   * Rebalancing when an instance joins: buckets are claimed on first events, so the first instance up holds them
   * all and a newcomer would get none (no share of the alerts, NEWS2 and ECG work). An instance over its fair share
   * hands back as many as the ready others are short, no more: a bucket handed back to nobody (a peer still starting,
   * or one that hangs there) would go unevaluated until that peer's session ends.
   * Listeners hear of the loss before the lock goes, so two instances never act for one bucket; the newcomer claims
   * each on its patients' next event, and the alert engine and ECG analysis resume there from the database.
   */
  const shedExcess = async (c: pg.Client) => {
    const give = Math.min(owned.size - fair, othersShort);
    // One hand-back per HANDBACK_PAUSE_MS: the others claim on their patients' next events (or their silence rules'
    // ticks), and counting again before they have would hand back more than the balance needs.
    if (give <= 0 || session !== c || performance.now() - handedBackAt < HANDBACK_PAUSE_MS) return;
    handedBackAt = performance.now();
    const released = [...owned].slice(-give); // the most recently claimed
    for (const bucket of released) {
      owned.delete(bucket);
      refusedAt.set(bucket, performance.now()); // not claimed straight back: our share is full
      tell({ bucket, owned: false });
    }
    othersShort -= give;
    log.info({ buckets: released.length, peers }, 'handed buckets back to balance the instances');
    await run(c, 'SELECT pg_advisory_unlock($1::int, b) FROM unnest($2::int[]) AS b', [LOCK_SPACE, released]);
  };
  let retry: NodeJS.Timeout | null = null;

  const tell = (change: OwnershipChange) => {
    for (const l of [...listeners]) {
      try {
        l(change);
      } catch (err) {
        log.error({ err }, 'ownership listener failed');
      }
    }
  };

  function loseAll(why: string) {
    if (owned.size > 0)
      log.warn({ buckets: owned.size, why }, 'lost the ownership session; this instance stops acting for its patients until it claims them again');
    const lost = [...owned];
    owned.clear();
    refusedAt.clear();
    for (const bucket of lost) tell({ bucket, owned: false });
  }

  async function connect(): Promise<void> {
    const c = await deps.db.openSession!(`vigil-owner-${deps.instanceId}`);
    c.on('error', () => undefined); // 'end' follows
    c.on('end', () => {
      if (session !== c) return;
      session = null;
      loseAll('session ended');
      schedule();
    });
    if (closed) return void (await c.end().catch(() => undefined));
    await c.query(`SELECT set_config('idle_session_timeout', $1, false)`, [String(deps.frozenAfterMs ?? FROZEN_AFTER_MS)]).catch((err: Error) => {
      if (!warnedNoIdleTimeout) log.warn({ err: err.message }, 'PostgreSQL before 14: a frozen instance keeps its patients until its connection dies');
      warnedNoIdleTimeout = true;
    });
    await countPeers(c).catch(() => undefined);
    if (isReady) await announceReady(c).catch(() => undefined);
    session = c;
  }
  function schedule() {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = null;
      connect().catch(schedule);
    }, RECONNECT_MS);
    retry.unref();
  }
  function drop(c: pg.Client, why: string) {
    if (session !== c) return;
    session = null;
    if (pending?.c === c) pending = null;
    loseAll(why);
    (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    void c.end().catch(() => undefined);
    schedule();
  }

  // The ping's timeout is counted in event-loop time, not wall time: ticks of a LOOP_TICK_MS timer, of which a busy or
  // CPU-starved loop fires fewer. Found by bench:ingest with each instance capped at a quarter of a core (4 Dec): a
  // 3 s wall-clock timeout dropped a starved instance's session three times in a minute; every regain replayed
  // 200,000 recent readings, which starved it further. Before that (3 Dec), the same at load 20: the timeout is
  // also judged after the loop has read its sockets once more (setImmediate runs after the poll phase), so an answer
  // that came during a long busy stretch counts. One ping at a time: a new one is not queued behind an unanswered one.
  let loopTicks = 0;
  let pending: { c: pg.Client; sinceTick: number } | null = null;
  const ticker = setInterval(() => {
    loopTicks++;
    const p = pending;
    if (p && loopTicks - p.sinceTick >= PING_TIMEOUT_MS / LOOP_TICK_MS)
      setImmediate(() => {
        if (pending !== p) return; // answered meanwhile
        pending = null;
        drop(p.c, 'session did not answer');
      });
  }, LOOP_TICK_MS);
  ticker.unref();
  const pinger = setInterval(() => {
    const c = session;
    if (!c || pending) return;
    const p = { c, sinceTick: loopTicks };
    pending = p;
    countPeers(c).then(
      () => {
        if (pending === p) pending = null;
        shedExcess(c).catch((err) => log.warn({ err: (err as Error).message }, 'could not hand buckets back'));
      },
      () => {
        if (pending === p) pending = null;
        drop(c, 'session failed');
      },
    );
  }, PING_MS);
  pinger.unref();

  async function claim(bucket: number): Promise<boolean> {
    const c = session;
    if (!c) return false;
    // Our share is full (of all buckets, or of those in use while a ready instance lacks its share): another claims it.
    if (owned.size >= Math.ceil(buckets / peers) || (othersShort > 0 && owned.size >= fair)) {
      refusedAt.set(bucket, performance.now());
      return false;
    }
    try {
      const { rows } = await run<{ ok: boolean }>(c, 'SELECT pg_try_advisory_lock($1::int, $2::int) AS ok', [LOCK_SPACE, bucket]);
      if (session !== c) return false; // the session went away meanwhile: the lock went with it
      if (rows[0]?.ok) {
        owned.add(bucket);
        refusedAt.delete(bucket);
        log.debug({ bucket }, 'claimed');
        tell({ bucket, owned: true });
        return true;
      }
    } catch (err) {
      log.warn({ err: (err as Error).message, bucket }, 'could not claim a bucket');
    }
    refusedAt.set(bucket, performance.now());
    return false;
  }

  await connect().catch((err) => {
    log.warn({ err: (err as Error).message }, 'ownership session not available yet; retrying');
    schedule();
  });

  return {
    instanceId: deps.instanceId,
    owns(patientId) {
      const bucket = bucketOf(patientId, buckets);
      if (owned.has(bucket)) return Promise.resolve(true);
      if (closed) return Promise.resolve(false);
      const refused = refusedAt.get(bucket);
      if (refused !== undefined && performance.now() - refused < retryMs) return Promise.resolve(false);
      let pending = claiming.get(bucket);
      if (!pending) {
        pending = claim(bucket).finally(() => claiming.delete(bucket));
        claiming.set(bucket, pending);
      }
      return pending;
    },
    ownsNow: (patientId) => owned.has(bucketOf(patientId, buckets)),
    mayOwn(patientId) {
      const bucket = bucketOf(patientId, buckets);
      if (owned.has(bucket)) return true;
      const refused = refusedAt.get(bucket);
      return closed ? false : refused === undefined || performance.now() - refused >= retryMs;
    },
    async ready() {
      isReady = true;
      const c = session;
      if (c) await announceReady(c).catch((err) => log.warn({ err: (err as Error).message }, 'could not announce readiness'));
    },
    bucketOf: (patientId) => bucketOf(patientId, buckets),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats: () => ({ buckets, owned: owned.size, connected: session !== null, peers }),
    async close() {
      closed = true;
      clearInterval(pinger);
      clearInterval(ticker);
      if (retry) clearTimeout(retry);
      const c = session;
      session = null;
      owned.clear();
      // Ending the session releases every lock at once: another instance takes over on its next event.
      await c?.end().catch(() => undefined);
    },
  };
}
