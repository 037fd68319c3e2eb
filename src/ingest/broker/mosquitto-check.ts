import { readFile } from 'node:fs/promises';
import mqtt from 'mqtt';

/**
 * Behind an external Mosquitto a device's PUBACK comes from the broker, so what Vigil has not consumed yet
 * is only as safe as the broker keeps it (issue 11 defect 8). Mosquitto's defaults do not keep it:
 * `max_queued_messages 1000` per session (the rest is dropped), `persistence false` (a restart loses the
 * queue), `autosave_interval 1800` (a crash loses up to 30 min). Vigil cannot ask a broker for its
 * configuration over MQTT, so it reads the file when it is given one (VIGIL_MOSQUITTO_CONF) and says what
 * loses acknowledged readings. Mosquitto's man page (mosquitto.conf(5)) is the reference for each option.
 */
export function checkMosquittoConfig(text: string): string[] {
  const options = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [key, ...rest] = line.split(/\s+/);
    options.set(key, rest.join(' ')); // the last occurrence wins, as in Mosquitto for these global options
  }
  const warnings: string[] = [];
  const queued = options.has('max_queued_messages') ? Number(options.get('max_queued_messages')) : 1000;
  if (queued !== 0) {
    warnings.push(
      `max_queued_messages is ${queued}${options.has('max_queued_messages') ? '' : ' (Mosquitto default)'}: past that many messages waiting for Vigil, Mosquitto drops readings it has already acknowledged to devices. Set max_queued_messages 0 (no limit).`,
    );
  }
  const bytes = Number(options.get('max_queued_bytes') ?? 0);
  if (bytes !== 0)
    warnings.push(`max_queued_bytes is ${bytes}: past that many bytes waiting for Vigil, Mosquitto drops acknowledged readings. Set max_queued_bytes 0.`);
  if (options.get('persistence') !== 'true') {
    warnings.push('persistence is off: a broker restart loses every reading waiting for Vigil. Set persistence true (and persistence_location).');
  } else {
    const autosave = options.has('autosave_interval') ? Number(options.get('autosave_interval')) : 1800;
    if (autosave > 60 || autosave === 0) {
      warnings.push(
        `autosave_interval is ${autosave} s${options.has('autosave_interval') ? '' : ' (Mosquitto default)'}: a broker crash loses what arrived since the last save. Set autosave_interval 10 or less (or autosave_on_changes).`,
      );
    }
  }
  if (options.has('include_dir'))
    warnings.push(`include_dir ${options.get('include_dir')} is not read by this check: make sure no file there lowers these limits.`);
  return warnings;
}

/**
 * At start with MQTT_URL: which broker is it ($SYS/broker/version, published by Mosquitto), and, when its
 * configuration file is given, what in it loses acknowledged readings. Returns the warnings (also logged).
 */
export async function checkExternalBroker(deps: { url: string; confPath?: string; logger: { warn(obj: object, msg: string): void } }): Promise<string[]> {
  const warnings: string[] = [];
  if (deps.confPath) {
    try {
      warnings.push(...checkMosquittoConfig(await readFile(deps.confPath, 'utf8')));
    } catch (err) {
      warnings.push(`VIGIL_MOSQUITTO_CONF: cannot read ${deps.confPath} (${(err as Error).message})`);
    }
  } else {
    const version = await brokerVersion(deps.url);
    if (version?.toLowerCase().startsWith('mosquitto')) {
      warnings.push(
        `the broker is ${version}; Vigil cannot see its configuration. Mosquitto's defaults drop acknowledged readings past 1,000 queued per session and lose its queue on restart: set VIGIL_MOSQUITTO_CONF to its mosquitto.conf to have it checked (docs/scaling.md).`,
      );
    }
  }
  for (const w of warnings) deps.logger.warn({ broker: 'mosquitto' }, `external broker: ${w}`);
  return warnings;
}

/** `$SYS/broker/version` if the broker publishes it within 1.5 s (Mosquitto does, retained), else null. */
async function brokerVersion(url: string): Promise<string | null> {
  const client = mqtt.connect(url, { clientId: `vigil-probe-${Math.random().toString(36).slice(2, 10)}`, reconnectPeriod: 0, connectTimeout: 3_000 });
  try {
    return await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 1_500);
      client.on('error', () => resolve(null));
      client.on('message', (_topic, payload) => {
        clearTimeout(timer);
        resolve(payload.toString());
      });
      client.on('connect', () => client.subscribe('$SYS/broker/version'));
    });
  } finally {
    client.end(true);
  }
}
