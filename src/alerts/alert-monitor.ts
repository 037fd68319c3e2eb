import type { EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { DevicesRepository } from '../store/devices.repository.ts';
import type { DeviceStatus, StoredReading } from '../domain/types.ts';
import type { AlertService } from './alert.service.ts';
import type { Alert } from './alerts.repository.ts';
import type { RulesService } from './rules.service.ts';
import type { Rule } from './rule-schema.ts';
import { accepts, evaluate, initialState, subjectOf, type Signal } from './rule-engine.ts';
import { RuleStates, type Tracked } from './rule-states.ts';
import { soleOwnership, type Ownership } from '../cluster/ownership.ts';
import { CODES, READING_MAX_FUTURE_MS } from '../domain/codes.ts';

/** The reading codes a replay reads back (threshold rules are on these). */
const REPLAY_CODES = CODES.map((c) => c.code);

const RULES_CACHE_MS = 30_000; // per-patient effective rules are re-resolved at least this often (care-team changes)
const TIME_BASED = new Set(['missing-data', 'device-offline']);
/** Readings older than this on arrival are history (device backfill): they do not open or close alerts, except trends over days, ms. */
const MAX_LIVE_READING_AGE_MS = 15 * 60_000;
/** Quiet, not-firing engine state is forgotten after this (it is rebuilt from the next signal); ms. */
const IDLE_STATE_MS = 60 * 60_000;
/** A signal waits at most this long for the ownership session to come back (database restart), ms. */
const SESSION_WAIT_MS = 60_000;
/**
 * After a restart or a takeover, stored readings this recent are evaluated again (threshold rules): those
 * acknowledged but not yet evaluated when an instance died (kill -9, power cut) still raise their alert, and a
 * minimum duration already under way is not restarted from zero. As far back as a reading still counts as live.
 */
const REPLAY_MS = MAX_LIVE_READING_AGE_MS;
/** At most this many readings are replayed (the newest window of a very busy clinic is cut, and said so). */
const REPLAY_MAX = 200_000;

/**
 * A patient's effective rules, with those a reading can concern indexed by its code (and whether it names a
 * device): a reading is matched against the few rules of its code, not against every rule of the patient.
 */
interface CachedRules {
  at: number;
  rules: Rule[];
  forReading: Map<string, Rule[]>;
}

/** The rules a signal can concern (`accepts` still decides); for readings from the per-code index. */
function candidates(cached: CachedRules, s: Extract<Signal, { patientId: string }>): Rule[] {
  if (s.type !== 'reading') return cached.rules;
  const key = s.deviceId ? s.code : `${s.code}|no-device`;
  let list = cached.forReading.get(key);
  if (!list) cached.forReading.set(key, (list = cached.rules.filter((r) => accepts(r.definition, s))));
  return list;
}

/**
 * Feeds the pure rule engine from the event bus (`readings.stored`, `device.status`, `live` news2 and
 * ecg.af) and a periodic tick, keeps the engine state per (patient, rule, subject), and hands
 * transitions to the alert service. Signals are processed one batch at a time, in order, so a state is
 * never evaluated twice at once.
 */
export function createAlertMonitor(deps: {
  events: EventBus;
  alerts: AlertService;
  rules: RulesService;
  devices: DevicesRepository;
  /** Time of the newest stored reading per patient and code (`patientId|code`), to rebuild state after a change of owner. */
  newestReadings?: (patientIds: string[]) => Promise<Map<string, number>>;
  /**
   * The replay after a restart or takeover: stored readings since a time (oldest first, bounded; of these patients
   * when given), and the patients with a reading of these codes since then (a gained bucket reads only its own).
   * With resolvedSince below: alerts resolved since then.
   */
  recent?: {
    readings: (sinceMs: number, codes: string[], limit: number, patientIds?: readonly string[]) => Promise<Array<StoredReading & { receivedAt: number }>>;
    patients: (sinceMs: number, codes: string[]) => Promise<string[]>;
  };
  resolvedSince?: (sinceMs: number) => Promise<Array<{ patientId: string; rule: string; subject: string; resolvedAt: number }>>;
  clock: Clock;
  logger: Logger;
  tickMs: number;
  backlogMax?: number;
  /** Several instances: only the owner of a patient evaluates its rules (cluster/ownership.ts). */
  ownership?: Ownership;
}) {
  const log = deps.logger.child({ module: 'alert-monitor' });
  const ownership = deps.ownership ?? soleOwnership('local');
  const states = new RuleStates();
  /** Patients whose NEWS2 alert was resolved after their newest reading, until their next reading (see `replay`). */
  const news2Held = new Set<string>();
  const ruleCache = new Map<string, CachedRules>();
  let chain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let started = false; // signals before start() would meet an empty rule cache
  // Back-pressure: signals queued for evaluation. Above backlogMax, ingest waits (and so withholds
  // acknowledgements, which slows QoS 1 devices and HTTP senders) until evaluation catches up.
  const backlogMax = deps.backlogMax ?? 50_000;
  let backlog = 0;
  let maxBacklogSeen = 0;
  const drained: Array<() => void> = [];

  async function cachedRulesOf(patientId: string): Promise<CachedRules> {
    const now = deps.clock.now();
    const hit = ruleCache.get(patientId);
    if (hit && now - hit.at < RULES_CACHE_MS) return hit;
    const cached = { at: now, rules: await deps.rules.effectiveFor(patientId, now), forReading: new Map<string, Rule[]>() };
    ruleCache.set(patientId, cached);
    return cached;
  }
  const rulesOf = async (patientId: string): Promise<Rule[]> => (await cachedRulesOf(patientId)).rules;

  function enqueue(fn: () => Promise<void>, weight = 0): Promise<void> {
    if (!started) return chain;
    backlog += weight;
    maxBacklogSeen = Math.max(maxBacklogSeen, backlog);
    const run = chain
      .then(() => (closed ? undefined : fn()))
      .catch((err) => log.error({ err }, 'alert evaluation failed'))
      .finally(() => {
        backlog -= weight;
        if (backlog < backlogMax) drained.splice(0).forEach((f) => f());
      });
    chain = run;
    return run;
  }

  /** Turns a transition into an alert change. False when the database refused to resolve (a newer reading is stored). */
  async function apply(
    rule: Rule,
    t: Tracked,
    prevFiring: boolean,
    transition: NonNullable<ReturnType<typeof evaluate>['transition']>,
    signal?: Signal,
  ): Promise<boolean> {
    const open = deps.alerts.active().find((a) => a.patientId === t.patientId && a.rule === rule.key && a.subject === t.subject);
    if (transition.action === 'clear') {
      if (!open) return true;
      const evidence = signal?.type === 'reading' ? { code: signal.code, ts: signal.ts } : undefined;
      const resolved = await deps.alerts.autoResolve(open.id, transition.note, evidence);
      return resolved !== null || !deps.alerts.active().some((a) => a.id === open.id);
    }
    if (!prevFiring || !open)
      await deps.alerts.raise({
        patientId: t.patientId,
        rule,
        subject: t.subject,
        severity: transition.severity,
        value: transition.value,
        message: transition.message,
      });
    else await deps.alerts.updateFromEngine(open.id, transition);
    return true;
  }

  async function feed(
    signals: Array<Extract<Signal, { patientId: string }>>,
    replaying = false,
    /** Replay only: a signal this rule and subject must not see (it was received before a resolution). */
    skip?: (ruleKey: string, subject: string, index: number) => boolean,
  ) {
    const now = deps.clock.now();
    // Asked once per patient of a batch (a batch of readings holds thousands of one patient's): fewer awaits.
    const owned = new Map<string, boolean>();
    // A database error (a pool wait timing out on an overloaded instance, bench:ingest 4 Dec) skips what it hit and
    // leaves that rule's state as it was, so the next reading meets the rule afresh; before, it ended the whole
    // batch and left the state firing over an alert that was never stored (which then never opened).
    let failed = 0;
    let lastError: unknown = null;
    for (let i = 0; i < signals.length; i++) {
      const s = signals[i];
      let cached: CachedRules;
      try {
        let isMine = owned.get(s.patientId);
        if (isMine === undefined) owned.set(s.patientId, (isMine = await mine(s.patientId)));
        if (!isMine) continue; // another instance evaluates this patient
        const hit = ruleCache.get(s.patientId);
        cached = hit && now - hit.at < RULES_CACHE_MS ? hit : await cachedRulesOf(s.patientId);
      } catch (err) {
        owned.set(s.patientId, false); // not asked again in this batch (each ask could wait as long)
        failed++;
        lastError = err;
        continue;
      }
      for (const rule of candidates(cached, s)) {
        if (!accepts(rule.definition, s)) continue;
        if (replaying && rule.definition.kind !== 'threshold') continue; // only thresholds ignore what is older than their state
        if (s.type === 'news2' && rule.definition.kind === 'news2' && news2Held.has(s.patientId)) continue;
        if (s.type === 'reading' && now - s.ts > MAX_LIVE_READING_AGE_MS && rule.definition.kind !== 'rate-of-change') continue;
        const subject = subjectOf(rule.definition, s);
        if (skip?.(rule.key, subject, i)) continue;
        let t = states.get(s.patientId, rule.key, subject);
        if (!t) states.set((t = { patientId: s.patientId, ruleKey: rule.key, subject, state: initialState(), touchedAt: 0 }));
        t.touchedAt = now;
        const prevFiring = t.state.firing;
        const before = t.state;
        const { state, transition } = evaluate(t.state, s, rule.definition, now);
        t.state = state;
        // Refused (this reading is not the newest stored): the alert is still open, so is the state.
        try {
          if (transition && !(await apply(rule, t, prevFiring, transition, s))) t.state = before;
        } catch (err) {
          t.state = before;
          failed++;
          lastError = err;
        }
      }
    }
    if (failed) log.error({ err: lastError, failed }, 'alert evaluation: signals not evaluated (database); their rules meet the next reading afresh');
  }

  /** Readings as signals, made only for the patients this instance evaluates (with two instances, half of them or fewer). */
  async function feedReadings(readings: StoredReading[]) {
    const owned = new Map<string, boolean>();
    const signals: Array<Extract<Signal, { type: 'reading' }>> = [];
    for (const r of readings) {
      let isMine = owned.get(r.patientId);
      if (isMine === undefined) owned.set(r.patientId, (isMine = await mine(r.patientId)));
      if (isMine) signals.push({ type: 'reading', patientId: r.patientId, deviceId: r.deviceId, code: r.code, value: r.value, ts: r.ts });
    }
    if (signals.length) await feed(signals);
  }

  /**
   * Forgets what no longer matters: expired rule-cache entries, and engine state that is neither firing nor
   * pending nor needed to notice silence (time-based rules), idle for IDLE_STATE_MS or past its rule's
   * trend window, or whose rule is gone. Without this, every patient, device and rule ever seen stayed.
   */
  function evict(now: number) {
    for (const t of states.values()) {
      if (t.state.firing || t.state.since !== null) continue;
      const rule = ruleCache.get(t.patientId)?.rules.find((r) => r.key === t.ruleKey);
      if (!rule || TIME_BASED.has(rule.definition.kind)) continue; // unknown here: keep (tick removes states of removed rules)
      const window = rule?.definition.kind === 'rate-of-change' ? rule.definition.windowMs : 0;
      if (now - t.touchedAt >= Math.max(IDLE_STATE_MS, window)) states.delete(t);
    }
    for (const [patientId, hit] of ruleCache) if (now - hit.at >= RULES_CACHE_MS) ruleCache.delete(patientId);
  }

  async function tick() {
    const now = deps.clock.now();
    for (const t of states.values()) {
      // Asking also claims the patient when its owner died: silence rules keep running for its patients.
      if (!(await mine(t.patientId))) continue;
      const rule = (await rulesOf(t.patientId)).find((r) => r.key === t.ruleKey);
      if (!rule) {
        if (!t.state.firing) states.delete(t); // the rule was removed
        continue;
      }
      // Threshold rules too while a wait is under way (pending, or back in range while firing): the last
      // reading stands until another says otherwise (rule-engine.ts thresholdQuiet).
      const waiting = rule.definition.kind === 'threshold' && (t.state.firing ? t.state.clearSince !== null : t.state.since !== null);
      if (!TIME_BASED.has(rule.definition.kind) && !waiting) continue;
      const prevFiring = t.state.firing;
      const { state, transition } = evaluate(t.state, { type: 'tick', quietMs: Math.max(0, now - t.touchedAt) }, rule.definition, now);
      t.state = state;
      if (transition) await apply(rule, t, prevFiring, transition);
    }
    await deps.alerts.escalateDue();
    evict(now);
  }

  /** Engine state from what is durable: open alerts are firing; devices' last contact seeds missing-data and offline. */
  /** Does this instance evaluate the patient? On the first signal after gaining its bucket, reseeds it. */
  async function mine(patientId: string): Promise<boolean> {
    if (!ownership.ownsNow(patientId) && !(await claim(patientId))) return false;
    const bucket = ownership.bucketOf(patientId);
    if (gained.delete(bucket)) {
      const inBucket = (id: string) => ownership.bucketOf(id) === bucket;
      states.deletePatients(inBucket);
      await seed(inBucket, bucket);
    }
    return true;
  }

  /**
   * Asks for the patient. While this instance has no ownership session (the database is restarting),
   * nobody can say who owns the patient: the signal waits for the session (bounded) instead of being
   * dropped. An AF start is said once; dropped here, its alert was never opened.
   */
  async function claim(patientId: string): Promise<boolean> {
    const deadline = performance.now() + SESSION_WAIT_MS;
    for (;;) {
      if (await ownership.owns(patientId)) {
        sessionGone = false;
        return true;
      }
      const connected = ownership.stats().connected;
      if (connected) sessionGone = false;
      // One wait per outage: after it timed out, signals are not held until the session is back.
      if (connected || sessionGone || closed) return false;
      if (performance.now() > deadline) {
        sessionGone = true;
        return false;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  let sessionGone = false;

  let deviceList: { at: number; list: Promise<Awaited<ReturnType<DevicesRepository['list']>>> } | null = null;
  /** Buckets are gained in bursts (start-up, takeover): one device list serves a burst. */
  function devicesSoon() {
    const now = performance.now();
    if (!deviceList || now - deviceList.at > 5_000) deviceList = { at: now, list: deps.devices.list(null) };
    return deviceList.list;
  }

  /** `bucket`: the one bucket `only` keeps (a gained bucket), so that the replay reads only its readings. */
  async function seed(only: (patientId: string) => boolean = () => true, bucket?: number) {
    const open = deps.alerts.active().filter((a) => only(a.patientId));
    // A firing threshold state also needs the time of the newest stored reading: without it, a late reading
    // (a batch redelivered after its instance died) counted as the present and could resolve the alert.
    const newest = open.length && deps.newestReadings ? await deps.newestReadings([...new Set(open.map((a) => a.patientId))]) : new Map<string, number>();
    for (const a of open) {
      const rule = newest.size ? (await rulesOf(a.patientId)).find((r) => r.key === a.rule) : undefined;
      const lastTs = rule?.definition.kind === 'threshold' ? (newest.get(`${a.patientId}|${rule.definition.code}`) ?? null) : null;
      states.set({
        patientId: a.patientId,
        ruleKey: a.rule,
        subject: a.subject,
        state: { ...initialState(), firing: true, since: Date.parse(a.openedAt), severity: a.severity, value: a.value, lastTs },
        touchedAt: deps.clock.now(),
      });
    }
    for (const d of await devicesSoon()) {
      if (!d.patientId || !d.lastSeenAt || !only(d.patientId)) continue;
      const lastSeen = d.lastSeenAt;
      for (const rule of await rulesOf(d.patientId)) {
        const kind = rule.definition.kind;
        if (kind !== 'missing-data' && !(kind === 'device-offline' && !d.online)) continue;
        const t = states.get(d.patientId, rule.key, d.id) ?? {
          patientId: d.patientId,
          ruleKey: rule.key,
          subject: d.id,
          state: initialState(),
          touchedAt: deps.clock.now(),
        };
        if (kind === 'missing-data') t.state.lastTs ??= lastSeen;
        else t.state.since ??= lastSeen;
        states.set(t);
      }
    }
    await replay(only, bucket);
  }

  type Recent = Array<StoredReading & { receivedAt: number }>;
  let recentPatients: { at: number; byBucket: Promise<Map<number, string[]>> } | null = null;
  /**
   * A gained bucket replays only its own patients' readings. Buckets are gained in bursts (start-up, a takeover, a
   * hand-back): one list of the recently active patients, grouped by bucket, serves a burst (reused for a second).
   * Before, each burst read every patient's recent readings (up to 200,000 rows), and a CPU-starved instance that
   * gained buckets one by one as its backlog reached their patients read them three times in a minute (bench:ingest
   * with each instance capped at a quarter of a core, 4 Dec).
   */
  async function recentOf(recent: NonNullable<typeof deps.recent>, since: number, bucket?: number): Promise<Recent> {
    if (bucket === undefined) return recent.readings(since, [...REPLAY_CODES], REPLAY_MAX);
    const now = performance.now();
    if (!recentPatients || now - recentPatients.at > 1_000) {
      const byBucket = recent.patients(since, [...REPLAY_CODES]).then((ids) => {
        const groups = new Map<number, string[]>();
        for (const id of ids) {
          const b = ownership.bucketOf(id);
          const group = groups.get(b);
          if (group) group.push(id);
          else groups.set(b, [id]);
        }
        return groups;
      });
      recentPatients = { at: now, byBucket };
    }
    const patients = (await recentPatients.byBucket).get(bucket);
    return patients ? recent.readings(since, [...REPLAY_CODES], REPLAY_MAX, patients) : [];
  }

  /**
   * Readings stored in the last REPLAY_MS, for the patients this instance now evaluates, through the threshold
   * rules again, oldest first: an instance that died after acknowledging readings and before evaluating them
   * (the event that feeds the engine is in memory) no longer loses their alerts, and a pending minimum duration
   * resumes where the readings put it. No double alert: an open alert is seeded as firing first, and an alert
   * resolved in the window (by a person or the engine) does not see again what was received before it. Imported
   * history is not replayed (it never raises alerts).
   */
  async function replay(only: (patientId: string) => boolean, bucket?: number) {
    if (!deps.recent) return;
    const since = deps.clock.now() - REPLAY_MS;
    // Resolutions from further back by the most a device clock may run ahead: a reading stamped 5 min ahead is
    // still in the window when the resolution it preceded is not (found by review).
    const [readings, resolved] = await Promise.all([
      recentOf(deps.recent, since, bucket),
      deps.resolvedSince ? deps.resolvedSince(since - READING_MAX_FUTURE_MS) : [],
    ]);
    // Resolved in the window: what that rule saw before the resolution (received before it, whatever the
    // device's clock says its time was) is not replayed to it, so the alert is not raised again from it.
    const resolvedAt = new Map<string, number>();
    for (const r of resolved) {
      const key = `${r.patientId}|${r.rule}|${r.subject}`;
      resolvedAt.set(key, Math.max(resolvedAt.get(key) ?? 0, r.resolvedAt));
    }
    const received: number[] = [];
    const signals: Array<Extract<Signal, { type: 'reading' }>> = [];
    const owned = new Map<string, boolean>();
    for (const r of readings) {
      if (!only(r.patientId)) continue;
      let isOurs = owned.get(r.patientId);
      if (isOurs === undefined) {
        isOurs = ownership.ownsNow(r.patientId);
        // Not owned yet (several instances claim patients on their first signal): ask now. Gaining the bucket
        // seeds it, and that seed replays the bucket's readings itself.
        if (!isOurs) await mine(r.patientId);
        owned.set(r.patientId, isOurs);
      }
      if (!isOurs) continue;
      signals.push({ type: 'reading', patientId: r.patientId, deviceId: r.deviceId, code: r.code, value: r.value, ts: r.ts });
      received.push(r.receivedAt);
    }
    if (readings.length >= REPLAY_MAX) log.warn({ replayed: REPLAY_MAX }, 'alert replay cut: more recent readings than REPLAY_MAX');
    // A NEWS2 alert resolved after the patient's newest reading: the score at start (derived-observations.ts
    // scores recent patients once) is the one it was resolved on, so it must not open it again; a new reading
    // lifts the hold, as a new score would have done before the restart (found by review).
    if (resolved.length) {
      const newest = new Map<string, number>();
      for (const r of readings) newest.set(r.patientId, Math.max(newest.get(r.patientId) ?? 0, r.receivedAt));
      for (const r of resolved) {
        if (!only(r.patientId) || r.resolvedAt < (newest.get(r.patientId) ?? 0)) continue;
        const rule = (await rulesOf(r.patientId)).find((x) => x.key === r.rule);
        if (rule?.definition.kind === 'news2') news2Held.add(r.patientId);
      }
    }
    const skip = (ruleKey: string, subject: string, i: number) => {
      const at = resolvedAt.get(`${signals[i].patientId}|${ruleKey}|${subject}`);
      return at !== undefined && received[i] <= at;
    };
    if (signals.length) await feed(signals, true, resolvedAt.size ? skip : undefined);
  }

  const offs = [
    deps.events.on('readings.stored', (readings: StoredReading[]) => {
      const rows = readings.some((r) => r.method) ? readings.filter((r) => !r.method) : readings;
      if (news2Held.size) for (const r of rows) news2Held.delete(r.patientId); // new data: its NEWS2 counts again
      if (rows.length) void enqueue(() => feedReadings(rows), rows.length);
    }),
    deps.events.on('device.status', (d: DeviceStatus) => {
      if (d.patientId) void enqueue(() => feed([{ type: 'device', patientId: d.patientId!, deviceId: d.deviceId, online: d.online, battery: d.battery }]));
    }),
    deps.events.on('news2.scored', (m) => {
      void enqueue(() => feed([{ type: 'news2', patientId: m.patientId, score: m.score, risk: m.risk, minimumRisk: m.minimumRisk, complete: m.complete }]));
    }),
    deps.events.on('ecg.episode', (m) => {
      void enqueue(() => feed([{ type: m.kind, patientId: m.patientId, deviceId: m.deviceId, state: m.state }]));
    }),
    deps.events.on('alert.changed', (m) => {
      // A person resolved it while the condition may persist: start over, so it re-alerts after the rule's minimum duration.
      if (m.event !== 'resolved') return;
      const a = m.alert as unknown as Alert;
      if (a.resolvedBy !== 'system') states.delete({ patientId: a.patientId, ruleKey: a.rule, subject: a.subject });
    }),
  ];
  const offRules = deps.rules.onChange(() => ruleCache.clear());
  // A bucket of patients changes hands: what this instance remembered of them is stale. Lost: forget it at
  // once (the new owner evaluates). Gained: before its first signal is evaluated (see `mine`), start from
  // what is durable, as at start-up: open alerts are firing, devices' last contact seeds silence rules.
  const gained = new Set<number>();
  const offOwnership = ownership.onChange(({ bucket, owned }) => {
    if (owned) return void gained.add(bucket);
    gained.delete(bucket);
    states.deletePatients((patientId) => ownership.bucketOf(patientId) === bucket);
  });

  return {
    async start() {
      started = true;
      await seed();
      timer = setInterval(() => void enqueue(tick), deps.tickMs);
      timer.unref();
    },
    /** Runs one tick now (tests with a controllable clock). */
    tick: () => enqueue(tick),
    /** null while the evaluation backlog is under backlogMax (nothing to wait for), else resolves when it falls below. */
    belowHighWater(): Promise<void> | null {
      if (backlog < backlogMax || closed) return null;
      return new Promise((resolve) => drained.push(resolve));
    },
    stats: () => ({ backlog, maxBacklogSeen, backlogMax, states: states.size, cachedRules: ruleCache.size }),
    /** Runs eviction now (tests). */
    evict: (at = deps.clock.now()) => evict(at),
    /** Resolves when every signal received so far has been evaluated. */
    idle: () => enqueue(async () => undefined),
    async close() {
      offs.forEach((o) => o());
      offRules();
      offOwnership();
      if (timer) clearInterval(timer);
      await chain;
      closed = true;
      drained.splice(0).forEach((f) => f());
    },
  };
}
