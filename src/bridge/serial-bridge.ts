import type { DurableQueue } from './durable-queue.ts';
import { parseLine, type BridgeReading } from './line-parser.ts';
import type { CompiledParser } from './parser-spec.ts';
import { openSerialLink } from './serial-link.ts';
import type { StatusLog } from './status-log.ts';
import type { CommandAnswer, CommandChannel, IncomingCommand, ReadingsUplink } from './uplink.ts';

const MEASURE_ANSWER_TIMEOUT_MS = 15_000; // a cuff inflates and reads in well under 15 s
const RETRY_DRAIN_MS = 2_000; // while Vigil is unreachable, try the oldest message again this often
const REMEMBERED_COMMANDS = 200; // ids already handled: a redelivered command is not run twice
const MAX_INTERVAL_S = 24 * 3600;

/**
 * One bedside device on a serial port, presented to Vigil as that device: lines from the port become
 * readings in the durable queue, drained in order to Vigil; commands from Vigil become lines to the port,
 * answered done/failed. Nothing here knows whether the uplink is MQTT or HTTP.
 */
export function startSerialBridge(opts: {
  serialPath: string;
  baudRate: number;
  parser: CompiledParser;
  queue: DurableQueue;
  uplink: ReadingsUplink;
  commands: CommandChannel | null;
  status: StatusLog;
  /** Ask the device to measure on this period (ms); 0 = only on command. SET_INTERVAL changes it. */
  measureEveryMs?: number;
  measureTimeoutMs?: number;
}) {
  const { parser, queue, uplink, status } = opts;
  const answerTimeoutMs = opts.measureTimeoutMs ?? MEASURE_ANSWER_TIMEOUT_MS;
  let waiting: { commandId: string | null; resolve(r: { readings?: BridgeReading[]; error?: string }): void } | null = null;
  let commandChain: Promise<unknown> = Promise.resolve();
  const handled: string[] = [];
  let periodic: NodeJS.Timeout | null = null;
  let stopped = false;

  // --- readings: serial → queue → Vigil -------------------------------------------------------------
  let draining: Promise<void> | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let unreachableSince: number | null = null;

  function drain(): Promise<void> {
    draining ??= drainLoop().finally(() => {
      draining = null;
      // A reading appended while the loop was finishing would otherwise wait for the next trigger.
      if (queue.peek() && uplink.ready() && !retryTimer && !stopped) void drain();
    });
    return draining;
  }

  async function drainLoop() {
    let delivered = 0;
    for (let msg = queue.peek(); msg && !stopped; msg = queue.peek()) {
      if (!uplink.ready()) {
        if (unreachableSince === null) status(`Vigil not connected (${uplink.describe}); ${queue.size()} reading(s) kept locally`);
        unreachableSince ??= Date.now();
        return scheduleRetry();
      }
      try {
        const outcome = await uplink.send(msg);
        if (outcome !== 'delivered') status(`Vigil refused reading seq ${msg.seq} (${outcome.rejected}); dropped from the queue`);
        await queue.ack(msg.seq);
        delivered++;
      } catch (err) {
        if (unreachableSince === null) status(`Vigil unreachable via ${uplink.describe} (${(err as Error).message}); ${queue.size()} reading(s) kept locally`);
        unreachableSince ??= Date.now();
        return scheduleRetry();
      }
    }
    if (unreachableSince !== null && delivered > 0) status(`Vigil reachable again: delivered ${delivered} queued reading(s)`);
    unreachableSince = null;
  }

  function scheduleRetry() {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void drain();
    }, RETRY_DRAIN_MS);
  }
  uplink.onReady(() => void drain());

  async function onLine(line: string) {
    const parsed = parseLine(parser, line);
    if (parsed.kind === 'empty') return;
    if (parsed.kind === 'unknown') return status(`ignored a line the parser "${parser.name}" does not know: ${JSON.stringify(line.slice(0, 80))}`);
    if (parsed.kind === 'error') {
      status(`device reported an error: ${parsed.message}`);
      waiting?.resolve({ error: parsed.message });
      return;
    }
    const commandId = waiting?.commandId ?? null;
    // Durable first: once append resolves, the reading survives a crash, a pulled cable or Vigil being down.
    const msg = await queue.append({ ts: new Date().toISOString(), readings: parsed.readings, ...(commandId ? { command: commandId } : {}) });
    status(`reading ${describe(parsed.readings)} (seq ${msg.seq}${commandId ? `, for command ${commandId}` : ''})`);
    waiting?.resolve({ readings: parsed.readings });
    void drain();
  }

  const link = openSerialLink({
    path: opts.serialPath,
    baudRate: opts.baudRate,
    lineEnding: parser.lineEnding,
    framing: parser.serial,
    status,
    // A measurement in progress cannot finish on a pulled cable: say so now rather than after the timeout.
    onLost: () => waiting?.resolve({ error: `serial device ${opts.serialPath} disconnected during the measurement` }),
    onLine: (line) => void onLine(line).catch((err) => status(`could not store a reading: ${(err as Error).message}`)),
  });

  // --- measuring: on command or on a period ---------------------------------------------------------
  /** Writes the device's MEASURE line and waits for its reading (or error line). One at a time. */
  function measure(commandId: string | null): Promise<CommandAnswer> {
    const run = commandChain.then(async (): Promise<CommandAnswer> => {
      const line = parser.commands.MEASURE;
      if (!line) return { status: 'failed', message: `parser "${parser.name}" has no MEASURE line for this device` };
      let settle!: (r: { readings?: BridgeReading[]; error?: string }) => void;
      const answer = new Promise<{ readings?: BridgeReading[]; error?: string }>((resolve) => {
        const timer = setTimeout(() => resolve({ error: `no reading from the device within ${answerTimeoutMs / 1000} s` }), answerTimeoutMs);
        settle = (r) => (clearTimeout(timer), resolve(r));
      });
      waiting = { commandId, resolve: settle };
      if (!(await link.writeLine(line))) {
        settle({});
        waiting = null;
        return { status: 'failed', message: `serial device ${opts.serialPath} is not connected (cable unplugged?)` };
      }
      const result = await answer;
      waiting = null;
      if (result.readings) return { status: 'done', message: describe(result.readings) };
      return { status: 'failed', message: result.error ?? 'no answer' };
    });
    commandChain = run.catch(() => undefined);
    return run;
  }

  function setPeriod(ms: number) {
    if (periodic) clearInterval(periodic);
    periodic = null;
    if (ms > 0) {
      periodic = setInterval(() => void measure(null).then((a) => a.status === 'failed' && status(`scheduled measurement failed: ${a.message}`)), ms);
      periodic.unref();
    }
  }
  setPeriod(opts.measureEveryMs ?? 0);

  // --- commands: Vigil → serial → answer ------------------------------------------------------------
  async function runCommand(cmd: IncomingCommand): Promise<CommandAnswer> {
    switch (cmd.name) {
      case 'MEASURE':
        return measure(cmd.id);
      case 'SET_INTERVAL': {
        const seconds = Number(cmd.args.seconds);
        if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_INTERVAL_S)
          return { status: 'failed', message: `SET_INTERVAL needs args.seconds from 0 to ${MAX_INTERVAL_S}` };
        setPeriod(seconds * 1000);
        return { status: 'done', message: seconds ? `measuring every ${seconds} s` : 'measuring on request only' };
      }
      case 'SYNC_TIME':
        return { status: 'done', message: `readings are timestamped by the bridge clock (${new Date().toISOString()})` };
      default: {
        const line = parser.commands[cmd.name];
        if (!line) return { status: 'failed', message: `${cmd.name} is not supported by parser "${parser.name}"` };
        return (await link.writeLine(line))
          ? { status: 'done', message: `sent "${line}" to the device` }
          : { status: 'failed', message: `serial device ${opts.serialPath} is not connected` };
      }
    }
  }

  opts.commands?.onCommand((cmd) => {
    if (handled.includes(cmd.id)) return; // QoS 1 may deliver twice; Vigil may re-send after a reconnect
    handled.push(cmd.id);
    if (handled.length > REMEMBERED_COMMANDS) handled.shift();
    status(`command ${cmd.name} (${cmd.id}) from Vigil`);
    void runCommand(cmd)
      .then(async (answer) => {
        await drain(); // the reading reaches Vigil before the answer that points at it
        await opts.commands!.answer(cmd.id, answer);
        status(`command ${cmd.name} (${cmd.id}) ${answer.status}: ${answer.message}`);
      })
      .catch((err) => status(`could not answer command ${cmd.id}: ${(err as Error).message}`));
  });

  status(`bridging ${opts.serialPath} (${opts.baudRate} baud, parser "${parser.name}") to ${uplink.describe}; ${queue.size()} queued reading(s) from before`);
  void drain();

  return {
    /** Triggers a measurement as if Vigil had asked (for `--every` and tests). */
    measure: () => measure(null),
    pending: () => queue.size(),
    async stop() {
      stopped = true;
      setPeriod(0);
      if (retryTimer) clearTimeout(retryTimer);
      waiting?.resolve({ error: 'bridge stopping' });
      await link.close();
      await draining;
    },
  };
}

const KEYS: Record<string, string> = {
  '8310-5': 'temp',
  '8480-6': 'sys',
  '8462-4': 'dia',
  '8867-4': 'hr',
  '59408-5': 'spo2',
  '2339-0': 'glucose',
  '29463-7': 'weight',
};
function describe(readings: BridgeReading[]): string {
  return readings.map((r) => `${KEYS[r.code] ?? r.code} ${r.value} ${r.unit}`).join(', ');
}
