/**
 * The simulator: for each patient one physiological model, for each device one MQTT connection that
 * samples the model on the device's schedule and answers commands (interfaces.md §3).
 *
 * Time: simulated time runs `speed` times faster than the injected clock, from the moment of `start()`.
 * Timestamps, device intervals and scenario timelines are all in simulated time, so a test at speed 20
 * sees twenty seconds of device behaviour per second.
 */
import { connectDevice, type DeviceCommand, type DeviceConnection, type SimLogger, type CommandResult } from './device-connection.ts';
import { createVitalsModel, measureBp, measureTemperature, measureVitals, measureWeight, type TrueVitals, type VitalsModel } from './physiology/vitals.ts';
import { createCgmModel, CGM_INTERVAL_MS, type CgmModel } from './cgm-model.ts';
import { createEcgModel, type EcgModel } from './ecg-model.ts';
import { scenarioEffects, type ScenarioEffects } from './scenarios.ts';
import { createRng, hashSeed, type Rng, DAY_MS, HOUR_MS } from './random.ts';
import type { DeviceKind, SimDevice, SimPatient } from './types.ts';

/** Default measurement intervals, seconds of simulated time: demo cadence (BP every ~2 min, etc.). */
export const DEMO_INTERVALS_S: Record<DeviceKind, number> = {
  vitals: 5,
  bp: 120,
  cgm: CGM_INTERVAL_MS / 1000,
  ecg: 1, // chunk length
  scale: 180,
  thermometer: 60,
};

/** A realistic home-monitoring cadence: BP twice a day, weight daily, temperature 4× a day. */
export const REALISTIC_INTERVALS_S: Record<DeviceKind, number> = {
  vitals: 5,
  bp: 12 * 3600,
  cgm: CGM_INTERVAL_MS / 1000,
  ecg: 1,
  scale: 24 * 3600,
  thermometer: 6 * 3600,
};

/** Battery drain, % per simulated hour. */
const BATTERY_DRAIN_PER_H: Record<DeviceKind, number> = { vitals: 1.2, bp: 0.1, cgm: 0.4, ecg: 2.5, scale: 0.05, thermometer: 0.05 };
const ECG_FS = 250; // Hz
const ECG_MAX_CHUNK_S = 10;
/** A device that falls this many intervals behind (e.g. a stalled event loop) skips ahead instead of bursting. */
const MAX_CATCH_UP = 5;

export interface SimulatorOptions {
  mqttUrl: string;
  patients: SimPatient[];
  /** Time acceleration (simulated seconds per real second), default 1. */
  speed?: number;
  /** Real clock, epoch ms (default Date.now). */
  clock?: () => number;
  logger?: SimLogger;
  /** Interval overrides in simulated seconds; defaults are `DEMO_INTERVALS_S`. */
  intervals?: Partial<Record<DeviceKind, number>>;
  /** CGM history to publish at start, days (default 14; 0 disables). */
  backfillDays?: number;
  /** Upper bound on backfill messages per real second, per simulator (default 200). */
  backfillRatePerSecond?: number;
  /** Status (online, battery) period, simulated seconds (default 60). */
  statusEverySeconds?: number;
  /** Seed for all models (default 1); each patient and device derives its own stream from it. */
  seed?: number;
}

export interface SimulatorStats {
  devices: number;
  connected: number;
  simulatedTime: string;
  published: { telemetry: number; ecg: number; status: number; results: number };
  backfill: { queued: number; sent: number };
  commands: { received: number; done: number; failed: number };
}

export interface Simulator {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): SimulatorStats;
}

interface PatientRuntime {
  patient: SimPatient;
  vitals: VitalsModel;
}

interface DeviceRuntime {
  device: SimDevice;
  patient: PatientRuntime;
  conn: DeviceConnection | null;
  rng: Rng;
  seq: number;
  intervalMs: number;
  nextDueMs: number;
  timer: NodeJS.Timeout | null;
  battery: number;
  batteryAtMs: number;
  ecg: EcgModel | null;
  cgm: CgmModel | null;
  /** Recent command ids and their results, so a redelivered QoS 1 command is answered, not re-run. */
  answered: Map<string, CommandResult>;
}

const noopLogger: SimLogger = { info() {}, warn() {} };

export function createSimulator(opts: SimulatorOptions): Simulator {
  const speed = opts.speed ?? 1;
  if (!(speed > 0)) throw new Error('simulator speed must be > 0');
  const clock = opts.clock ?? Date.now;
  const logger = opts.logger ?? noopLogger;
  const intervalsS = { ...DEMO_INTERVALS_S, ...opts.intervals };
  const backfillDays = opts.backfillDays ?? 14;
  const backfillRate = opts.backfillRatePerSecond ?? 200;
  const statusEveryMs = (opts.statusEverySeconds ?? 60) * 1000;
  const seed = opts.seed ?? 1;

  let realStart = 0;
  let simStart = 0;
  let running = false;
  const timers = new Set<NodeJS.Timeout>();
  const published = { telemetry: 0, ecg: 0, status: 0, results: 0 };
  const backfill = { queued: 0, sent: 0 };
  const commands = { received: 0, done: 0, failed: 0 };

  const simNow = (): number => simStart + (clock() - realStart) * speed;
  const effectsAt = (p: PatientRuntime, tMs: number): ScenarioEffects => scenarioEffects(p.patient.scenario, tMs - simStart);
  const trueVitals = (p: PatientRuntime, tMs: number): TrueVitals => p.vitals.at(tMs, effectsAt(p, tMs));
  const later = (fn: () => void, simDelayMs: number): NodeJS.Timeout => {
    const t = setTimeout(
      () => {
        timers.delete(t);
        fn();
      },
      Math.max(0, simDelayMs / speed),
    );
    timers.add(t);
    return t;
  };

  const patients: PatientRuntime[] = opts.patients.map((patient) => ({
    patient,
    vitals: createVitalsModel(patient.profile, hashSeed(patient.patientId, seed)),
  }));
  const devices: DeviceRuntime[] = patients.flatMap((p) =>
    p.patient.devices.map((device) => {
      const rng = createRng(hashSeed(device.deviceId, seed));
      return {
        device,
        patient: p,
        conn: null,
        rng,
        seq: 0,
        intervalMs: intervalsS[device.kind] * 1000,
        nextDueMs: 0,
        timer: null,
        battery: Math.round(rng.uniform(60, 100)),
        batteryAtMs: 0,
        ecg:
          device.kind === 'ecg' ? createEcgModel({ seed: hashSeed(device.deviceId, seed + 1), fs: ECG_FS, rAmplitude: p.patient.profile.ecgAmplitude }) : null,
        cgm: device.kind === 'cgm' ? createCgmModel(p.patient.profile, hashSeed(device.deviceId, seed + 2)) : null,
        answered: new Map(),
      } satisfies DeviceRuntime;
    }),
  );

  // ── measurements ────────────────────────────────────────────────────────────────────────────────
  /** The device's flat-form reading at `tMs` (ECG devices report the heart rate they see). */
  function measure(d: DeviceRuntime, tMs: number): Record<string, number> {
    const v = trueVitals(d.patient, tMs);
    switch (d.device.kind) {
      case 'vitals':
        return measureVitals(v, d.rng);
      case 'bp':
        return measureBp(v, d.rng);
      case 'scale':
        return measureWeight(v, d.rng);
      case 'thermometer':
        return measureTemperature(v, d.rng);
      case 'cgm':
        return { glucose: d.cgm!.read(tMs, effectsAt(d.patient, tMs)) };
      case 'ecg':
        return { hr: Math.round(v.hr + (v.af ? 6 : 1) * d.rng.normal()) };
    }
  }

  function nextSeq(d: DeviceRuntime): number {
    d.seq += 1;
    return d.seq;
  }

  function sendTelemetry(d: DeviceRuntime, tMs: number, values: Record<string, number>, extra: Record<string, string> = {}, qos: 0 | 1 = 0): Promise<void> {
    published.telemetry += 1;
    return d.conn?.publish('telemetry', { ts: new Date(tMs).toISOString(), seq: nextSeq(d), ...values, ...extra }, qos) ?? Promise.resolve();
  }

  function sendEcgChunk(d: DeviceRuntime, tMs: number): void {
    const v = trueVitals(d.patient, tMs);
    const samples = d.ecg!.next(Math.round((ECG_FS * d.intervalMs) / 1000), { hr: v.hr, rr: v.rr, af: v.af });
    published.ecg += 1;
    void d.conn?.publish('ecg', { ts: tMs, seq: nextSeq(d), fs: ECG_FS, lead: 'II', unit: 'uV', samples });
  }

  function tick(d: DeviceRuntime, tMs: number): void {
    // An ECG chunk's ts is its first sample; the chunk ends at tMs + interval.
    if (d.device.kind === 'ecg') sendEcgChunk(d, tMs);
    else void sendTelemetry(d, tMs, measure(d, tMs));
  }

  function schedule(d: DeviceRuntime): void {
    if (!running) return;
    let n = 0;
    while (d.nextDueMs <= simNow() && n < MAX_CATCH_UP) {
      tick(d, d.nextDueMs);
      d.nextDueMs += d.intervalMs;
      n += 1;
    }
    if (d.nextDueMs <= simNow()) d.nextDueMs = simNow() + d.intervalMs;
    d.timer = later(() => schedule(d), d.nextDueMs - simNow());
  }

  function reschedule(d: DeviceRuntime, dueMs: number): void {
    if (d.timer) {
      clearTimeout(d.timer);
      timers.delete(d.timer);
    }
    d.nextDueMs = dueMs;
    schedule(d);
  }

  // ── status ──────────────────────────────────────────────────────────────────────────────────────
  function batteryNow(d: DeviceRuntime): number {
    const t = simNow();
    d.battery -= (BATTERY_DRAIN_PER_H[d.device.kind] * (t - d.batteryAtMs)) / HOUR_MS;
    d.batteryAtMs = t;
    if (d.battery < 5) d.battery = 100; // the patient charges it
    return Math.round(d.battery);
  }

  function sendStatus(d: DeviceRuntime): void {
    published.status += 1;
    void d.conn?.publishStatus({ online: true, battery: batteryNow(d) });
  }

  function statusLoop(d: DeviceRuntime): void {
    if (!running) return;
    sendStatus(d);
    later(() => statusLoop(d), statusEveryMs);
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────────
  async function answer(d: DeviceRuntime, commandId: string, result: CommandResult): Promise<void> {
    d.answered.set(commandId, result);
    if (d.answered.size > 100) d.answered.delete(d.answered.keys().next().value as string);
    if (result.status === 'done') commands.done += 1;
    else commands.failed += 1;
    published.results += 1;
    await d.conn?.publishResult(commandId, result);
  }

  async function runCommand(d: DeviceRuntime, cmd: DeviceCommand): Promise<CommandResult> {
    switch (cmd.name) {
      case 'MEASURE': {
        const t = simNow();
        const values = measure(d, t);
        // QoS 1: the platform links this reading to the command, so it must arrive.
        await sendTelemetry(d, t, values, { command: cmd.id }, 1);
        const text = Object.entries(values)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ');
        return { status: 'done', message: `measured ${text}` };
      }
      case 'SET_INTERVAL': {
        const seconds = cmd.args.seconds;
        const max = d.device.kind === 'ecg' ? ECG_MAX_CHUNK_S : 7 * 24 * 3600;
        if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 1 || seconds > max) {
          return { status: 'failed', message: `SET_INTERVAL needs args.seconds, a number from 1 to ${max}` };
        }
        d.intervalMs = seconds * 1000;
        // ECG keeps its stream contiguous; others take their next reading one new interval from now.
        if (d.device.kind !== 'ecg') reschedule(d, simNow() + d.intervalMs);
        return { status: 'done', message: `interval set to ${seconds} s` };
      }
      case 'SYNC_TIME':
        return { status: 'done', message: `clock is ${new Date(simNow()).toISOString()}` };
      case 'IDENTIFY':
        return { status: 'done', message: `${d.device.kind} device ${d.device.deviceId} (vigil-sim 1.0), blinking` };
      default:
        return { status: 'failed', message: `unknown command "${cmd.name}"` };
    }
  }

  function onCommand(d: DeviceRuntime, cmd: DeviceCommand): void {
    commands.received += 1;
    logger.info({ deviceId: d.device.deviceId, commandId: cmd.id, name: cmd.name }, 'command received');
    const previous = d.answered.get(cmd.id);
    if (previous) {
      void d.conn?.publishResult(cmd.id, previous);
      return;
    }
    void runCommand(d, cmd)
      .catch((err: unknown) => ({ status: 'failed' as const, message: `device error: ${(err as Error).message}` }))
      .then((result) => answer(d, cmd.id, result));
  }

  // ── CGM history ─────────────────────────────────────────────────────────────────────────────────
  /** Generates `backfillDays` of CGM readings up to now and publishes them at a bounded rate. */
  function startBackfill(d: DeviceRuntime, nowMs: number): number {
    if (backfillDays <= 0) return nowMs;
    const messages: object[] = [];
    let t = nowMs - backfillDays * DAY_MS;
    for (; t < nowMs; t += CGM_INTERVAL_MS) {
      messages.push({ ts: new Date(t).toISOString(), seq: nextSeq(d), glucose: d.cgm!.read(t, effectsAt(d.patient, t)) });
    }
    backfill.queued += messages.length;
    const batch = Math.max(1, Math.round(backfillRate / 10)); // every 100 ms real time
    let i = 0;
    const sendBatch = (): void => {
      if (!running) return;
      for (const end = Math.min(messages.length, i + batch); i < end; i++) {
        void d.conn?.publish('telemetry', messages[i]!, 1);
        backfill.sent += 1;
        published.telemetry += 1;
      }
      if (i < messages.length) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          sendBatch();
        }, 100);
        timers.add(timer);
      }
    };
    sendBatch();
    return t; // first live reading continues the 5-minute grid
  }

  return {
    async start() {
      if (running) return;
      realStart = clock();
      simStart = realStart;
      running = true;
      // Sequence numbers continue across restarts: start from deciseconds since 2025-01-01 (fits int32
      // until 2031), so a platform that de-duplicates on (device, seq) does not drop a restarted device.
      const seqBase = Math.max(0, Math.floor((simStart - Date.UTC(2025, 0, 1)) / 100));
      const results = await Promise.allSettled(
        devices.map(async (d) => {
          d.seq = seqBase;
          d.batteryAtMs = simStart;
          d.conn = await connectDevice({
            mqttUrl: opts.mqttUrl,
            deviceId: d.device.deviceId,
            secret: d.device.secret,
            logger,
            onCommand: (cmd) => onCommand(d, cmd),
            onBadCommand: (error, id) => {
              logger.warn({ deviceId: d.device.deviceId, commandId: id, error }, 'bad command');
              if (id) void answer(d, id, { status: 'failed', message: error });
            },
            onConnect: () => {
              if (running && d.conn) sendStatus(d);
            },
          });
        }),
      );
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length === devices.length && devices.length > 0) {
        running = false;
        await Promise.allSettled(devices.map((d) => d.conn?.close()));
        throw failed[0]!.reason as Error;
      }
      for (const f of failed) logger.warn({ err: (f.reason as Error).message }, 'device not started');
      for (const d of devices) {
        if (!d.conn) continue;
        statusLoop(d);
        const now = simNow();
        reschedule(d, d.device.kind === 'cgm' ? startBackfill(d, now) : now);
      }
      logger.info({ devices: devices.length, connected: devices.filter((d) => d.conn).length, speed }, 'simulator started');
    },

    async stop() {
      if (!running) return;
      running = false;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled(devices.map((d) => d.conn?.close()));
      for (const d of devices) d.conn = null;
      logger.info({ published }, 'simulator stopped');
    },

    stats() {
      return {
        devices: devices.length,
        connected: devices.filter((d) => d.conn?.connected()).length,
        simulatedTime: new Date(running ? simNow() : simStart).toISOString(),
        published: { ...published },
        backfill: { ...backfill },
        commands: { ...commands },
      };
    },
  };
}
