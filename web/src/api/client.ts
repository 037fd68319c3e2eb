import { toPanelView, type PanelPatient, type PatientDetail } from './views.ts';
import type {
  PanelPatient as PanelPatientWire,
  PatientDetail as PatientDetailWire,
  AdminStats,
  CreatedDevice,
  DemoInfo,
  Derived,
  PatientSettings,
  DeviceSummary,
  EcgStrip,
  Me,
  ReadingSeries,
  Rejection,
  DemoMail,
  SignInStage,
} from '@contracts';

const BASE = '/api/v1';

/** An API error as the server reports it: `{"error": {"code", "message"}}` with the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called whenever a request comes back 401 (session expired), so the app can show the login page. */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(BASE + path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'Cannot reach the Vigil server');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // A non-JSON body (proxy error page) is reported as the status alone.
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (
      res.status === 401 &&
      path !== '/auth/login' &&
      !path.startsWith('/auth/mfa') &&
      !path.startsWith('/auth/passkey') &&
      !path.startsWith('/auth/password')
    )
      unauthorizedListeners.forEach((l) => l());
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? res.statusText ?? 'Request failed');
  }
  return json as T;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

export const api = {
  login: (email: string, password: string) => request<{ user: Me; stage?: SignInStage }>('POST', '/auth/login', { email, password }),
  // [sec] second factor (ONC §170.315(d)(13)): a code at sign-in, or enrolment of an authenticator app.
  mfaCode: (code: string) => request<{ user: Me; stage: SignInStage }>('POST', '/auth/mfa', { code }),
  mfaBeginTotp: () => request<{ secret: string; uri: string }>('POST', '/auth/mfa/totp'),
  mfaConfirmTotp: (code: string) => request<{ recoveryCodes: string[] }>('POST', '/auth/mfa/totp/confirm', { code }),
  logout: () => request<void>('POST', '/auth/logout'),
  me: () => request<Me>('GET', '/me'),
  /** Demo logins; the route exists only on a demo clinic, so a 404 means "none". */
  demo: async (): Promise<DemoInfo | null> => {
    try {
      return await request<DemoInfo>('GET', '/demo');
    } catch {
      return null;
    }
  },

  patients: async (signal?: AbortSignal) => (await request<PanelPatientWire[]>('GET', '/patients', undefined, signal)).map((p): PanelPatient => toPanelView(p)),
  patient: async (id: string, signal?: AbortSignal) =>
    toPanelView(await request<PatientDetailWire>('GET', `/patients/${enc(id)}`, undefined, signal)) as PatientDetail,
  readings: (id: string, p: { code: string; from: number; to?: number; maxPoints?: number }, signal?: AbortSignal) =>
    request<ReadingSeries>('GET', `/patients/${enc(id)}/readings${query(p)}`, undefined, signal),
  ecg: (id: string, seconds: number, signal?: AbortSignal) => request<EcgStrip>('GET', `/patients/${enc(id)}/ecg${query({ seconds })}`, undefined, signal),
  derived: (id: string, signal?: AbortSignal) => request<Derived>('GET', `/patients/${enc(id)}/derived`, undefined, signal),
  updateSettings: (id: string, patch: Record<string, unknown>) => request<PatientSettings>('PATCH', `/patients/${enc(id)}/settings`, patch),

  devices: (patientId?: string, signal?: AbortSignal) => request<DeviceSummary[]>('GET', `/devices${query({ patient: patientId })}`, undefined, signal),
  addDevice: (body: { patientId: string; type: string; name?: string }) => request<CreatedDevice>('POST', '/devices', body),

  /** The demo clinic's local mailbox (404 outside the demo). */
  demoMailbox: (signal?: AbortSignal) => request<DemoMail[]>('GET', '/demo/mailbox', undefined, signal),
  rejections: (limit = 100, signal?: AbortSignal) => request<Rejection[]>('GET', `/admin/rejections${query({ limit })}`, undefined, signal),
  stats: (signal?: AbortSignal) => request<AdminStats>('GET', '/admin/stats', undefined, signal),
};
