import path from 'node:path';
import { CliError, requireFlag, type CliCommand } from '../command.ts';
import { cliConfig } from '../runtime.ts';
import { openDurableQueue } from '../../bridge/durable-queue.ts';
import { connectMqttUplink } from '../../bridge/mqtt-uplink.ts';
import { httpUplink } from '../../bridge/http-uplink.ts';
import { loadParser, ParserSpecError } from '../../bridge/parser-spec.ts';
import { parseLine } from '../../bridge/line-parser.ts';
import { startSerialBridge } from '../../bridge/serial-bridge.ts';
import { stderrStatus } from '../../bridge/status-log.ts';

const HELP = `Usage: vigil bridge serial --path DEV --baud N --device ID [--mqtt URL] [--http URL]
                           [--parser FILE] [--queue DIR] [--every SECONDS]

Bridges one bedside device on a serial port to Vigil, as that device (see src/bridge/README.md):
  - writes "MEASURE" (CR LF) when Vigil sends a MEASURE command (or every --every seconds),
  - reads lines such as "TEMP 36.8 C", "BP 128/82 HR 71", "SPO2 97 HR 72", "GLU 110 mg/dL",
  - forwards them to Vigil, keeping them in a local queue (--queue) while Vigil is unreachable,
  - reopens the port when the cable is pulled and plugged back in.

  --path DEV       serial device, e.g. /dev/ttyUSB0 (it may be absent at start: the bridge waits for it)
  --baud N         baud rate, e.g. 9600
  --device ID      the Vigil device id (vigil device add …); its secret comes from VIGIL_DEVICE_SECRET,
                   never from the command line
  --mqtt URL       Vigil's MQTT broker (default: this machine's Vigil, mqtt://127.0.0.1:VIGIL_MQTT_PORT);
                   also carries commands from Vigil
  --http URL       send readings over HTTP to this Vigil instead (commands then need --mqtt as well)
  --parser FILE    JSON parser spec for devices that speak another line format
  --queue DIR      local queue directory (default: VIGIL_DATA_DIR/bridge/<device id>)
  --every SECONDS  also measure on this period (Vigil's SET_INTERVAL changes it)
  --try LINE       only check a parser: print what LINE parses to (JSON) and exit (1 when not understood)

Status lines go to stderr. Stops cleanly on Ctrl-C / SIGTERM; queued readings are kept for the next run.`;

const command: CliCommand = {
  name: 'bridge serial',
  summary: 'bridge a bedside device on a serial port (line protocol) to Vigil, with a local durable queue',
  help: HELP,
  async run(args, io) {
    if (typeof args.flags.try === 'string') return tryLine(args.flags.parser, args.flags.try, io.stdout);
    const serialPath = requireFlag(args, 'path');
    const baudRate = Number(requireFlag(args, 'baud'));
    if (!Number.isInteger(baudRate) || baudRate <= 0) throw new CliError(`--baud must be a positive whole number (got "${args.flags.baud}")`);
    const deviceId = requireFlag(args, 'device');
    const secret = process.env.VIGIL_DEVICE_SECRET?.trim();
    if (!secret) throw new CliError('set VIGIL_DEVICE_SECRET to the device secret (it is never taken from the command line)');
    if (args.flags.secret !== undefined) throw new CliError('--secret is not accepted (command lines are visible to other users); use VIGIL_DEVICE_SECRET');
    const every = args.flags.every === undefined ? 0 : Number(args.flags.every);
    if (!Number.isFinite(every) || every < 0) throw new CliError(`--every must be a number of seconds (got "${args.flags.every}")`);

    const config = cliConfig();
    const flagUrl = (name: string) => (typeof args.flags[name] === 'string' ? (args.flags[name] as string) : undefined);
    const httpUrl = flagUrl('http');
    const mqttUrl = flagUrl('mqtt') ?? (httpUrl ? undefined : (config.mqttUrl ?? `mqtt://127.0.0.1:${config.mqttPort || 1883}`));
    const queueDir = flagUrl('queue') ?? path.join(config.dataDir, 'bridge', deviceId);

    const parser = await parserFrom(flagUrl('parser'));
    const status = stderrStatus(io.stderr);
    const queue = await openDurableQueue(queueDir);
    const mqtt = mqttUrl ? connectMqttUplink({ url: mqttUrl, deviceId, secret, status }) : null;
    const uplink = httpUrl ? httpUplink({ baseUrl: httpUrl, deviceId, secret, status }) : mqtt!;
    if (!mqtt) status('no --mqtt: commands from Vigil (MEASURE now) are not relayed');
    status(`local queue in ${queueDir}`);
    const bridge = startSerialBridge({ serialPath, baudRate, parser, queue, uplink, commands: mqtt, status, measureEveryMs: every * 1000 });

    await new Promise<void>((resolve) => {
      const stop = async (signal: string) => {
        status(`${signal}: stopping; ${bridge.pending()} reading(s) stay queued for the next run`);
        await bridge.stop();
        await uplink.close();
        if (mqtt && mqtt !== uplink) await mqtt.close();
        await queue.close();
        resolve();
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
    return 0;
  },
};
async function parserFrom(file: string | undefined) {
  try {
    return await loadParser(file);
  } catch (err) {
    if (err instanceof ParserSpecError) throw new CliError(err.message);
    throw err;
  }
}

/** `--try LINE`: lets whoever writes a parser spec check it against lines copied from the device. */
async function tryLine(file: string | boolean | undefined, line: string, stdout: NodeJS.WritableStream): Promise<number> {
  const parsed = parseLine(await parserFrom(typeof file === 'string' ? file : undefined), line);
  stdout.write(JSON.stringify(parsed) + '\n');
  return parsed.kind === 'readings' || parsed.kind === 'error' ? 0 : 1;
}

export default command;
