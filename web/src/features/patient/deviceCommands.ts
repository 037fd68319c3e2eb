import { ApiError } from '../../api/client.ts';
import type { Command } from '@contracts';

/** A device command as `GET /api/v1/commands/{id}` and the live stream (`type: "command"`) report it (src/api/contracts). */
export type DeviceCommandView = Command;

export const isFinal = (c: Pick<DeviceCommandView, 'status'>) => c.status === 'done' || c.status === 'failed' || c.status === 'expired';

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/api/v1' + path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Cannot reach the Vigil server');
  }
  const json = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? res.statusText);
  return json as T;
}

export const deviceCommands = {
  send: (deviceId: string, name: string, args: Record<string, unknown> = {}) =>
    call<{ id: string; status: DeviceCommandView['status'] }>('POST', `/devices/${encodeURIComponent(deviceId)}/commands`, { name, args }),
  get: (id: string) => call<DeviceCommandView>('GET', `/commands/${encodeURIComponent(id)}`),
};

const UNITS: Record<string, string> = { Cel: '°C', 'mm[Hg]': 'mmHg', '/min': 'bpm' };

/** "36.8 °C" or "128/82 mmHg · 71 bpm": the measured values, for the status line. */
export function describeReadings(readings: DeviceCommandView['readings']): string {
  const by = new Map(readings.map((r) => [r.code, r]));
  const sys = by.get('8480-6');
  const dia = by.get('8462-4');
  const parts: string[] = [];
  if (sys && dia) parts.push(`${sys.value}/${dia.value} mmHg`);
  for (const r of readings) if (r !== sys && r !== dia) parts.push(`${r.value} ${UNITS[r.unit] ?? r.unit}`);
  return parts.join(' · ');
}
