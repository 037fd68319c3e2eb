import type { StatusLog } from './status-log.ts';
import { telemetryBody, type ReadingsUplink } from './uplink.ts';

const REQUEST_TIMEOUT_MS = 10_000;
const PROBE_EVERY_MS = 5_000; // while Vigil is unreachable, try again this often

/** Readings over HTTP (`POST /api/v1/devices/{id}/telemetry`, device secret as bearer; 202 = stored). */
export function httpUplink(opts: { baseUrl: string; deviceId: string; secret: string; status: StatusLog }): ReadingsUplink {
  const url = `${opts.baseUrl.replace(/\/$/, '')}/api/v1/devices/${encodeURIComponent(opts.deviceId)}/telemetry`;
  const listeners: Array<() => void> = [];
  // HTTP has no connection to watch: retry on a timer, which the drain loop treats as "reconnected".
  const timer = setInterval(() => listeners.forEach((l) => l()), PROBE_EVERY_MS);
  timer.unref();

  return {
    describe: `HTTP ${opts.baseUrl}`,
    ready: () => true,
    async send(msg) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(telemetryBody(msg)),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      if (res.status === 202) return 'delivered';
      const text = await res.text().catch(() => '');
      // 401 (wrong secret) and 5xx can be fixed without losing readings: keep them queued.
      if (res.status === 401) throw new Error('Vigil refused the device secret (check --device and VIGIL_DEVICE_SECRET)');
      if (res.status >= 500 || res.status === 429) throw new Error(`Vigil answered ${res.status}`);
      return { rejected: `${res.status} ${text.slice(0, 200)}` };
    },
    onReady: (l) => void listeners.push(l),
    async close() {
      clearInterval(timer);
    },
  };
}
