import { ApiError } from '../../api/client.ts';
import type { Alert, AlertRule, LiveMessageOf } from '@contracts';

/** Alerts, rules and the live `alert` message, as the server's contract defines them (src/api/contracts). */
export type { Alert, AlertRule } from '@contracts';
export type AlertEvent = LiveMessageOf<'alert'>;

export const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const;

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch('/api/v1' + path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => undefined);
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? res.statusText);
  return json as T;
}

export const alertsApi = {
  list: (status = 'active') => call<Alert[]>('GET', `/alerts?status=${status}`),
  acknowledge: (id: string) => call<Alert>('POST', `/alerts/${id}/acknowledge`, {}),
  resolve: (id: string, note?: string) => call<Alert>('POST', `/alerts/${id}/resolve`, { note }),
  snooze: (id: string, minutes: number, reason: string) => call<Alert>('POST', `/alerts/${id}/snooze`, { minutes, reason }),
  rules: () => call<{ rules: AlertRule[] }>('GET', '/alert-rules'),
  pushKey: () => call<{ publicKey: string }>('GET', '/alerts/push-key'),
  subscribePush: (sub: unknown) => call<unknown>('POST', '/me/push-subscriptions', sub),
  saveRule: (key: string, body: { scope: string; scopeId?: string; enabled: boolean; definition: unknown }) =>
    call<AlertRule>('PUT', `/alert-rules/${encodeURIComponent(key)}`, body),
};

/** Inbox order: most severe first, then the longest waiting. */
export function byUrgency(a: Alert, b: Alert): number {
  return SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.openedAt.localeCompare(b.openedAt);
}
