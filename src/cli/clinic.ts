import type { Role } from '../domain/types.ts';
import type { SmartAppSummary } from '../api/fhir/smart/app-registry.ts';
import { CliError } from './command.ts';
import { cliConfig, findRunningServer } from './runtime.ts';
import { openOfflineServices } from './offline-services.ts';

/**
 * The administrative operations CLI verbs need, carried out either through the running server's API (when
 * one holds the embedded database) or directly on the database when none runs.
 */
export interface Clinic {
  via: 'server' | 'database';
  addUser(u: {
    email: string;
    role: Role;
    password?: string;
    patientId?: string;
    displayName?: string;
  }): Promise<{ id: string; email: string; role: string; password?: string }>;
  createToken(
    email: string,
    name?: string,
    opts?: TokenOptions,
  ): Promise<{ id: string; token: string; scope?: string; expiresAt?: string | null; patientIds?: string[] | null }>;
  listTokens(): Promise<
    Array<{ id: string; email?: string; name: string | null; scope: string; expiresAt: string | null; revokedAt: string | null; lastUsedAt: string | null }>
  >;
  revokeToken(id: string): Promise<void>;
  setDisabled(email: string, disabled: boolean): Promise<void>;
  addPatient(p: { name: string; birthDate?: string; sex?: string; settings?: Record<string, unknown> }): Promise<{ id: string }>;
  addDevice(d: { patientId: string | null; type: string; name?: string }): Promise<{ id: string; secret: string; topic: string }>;
  /** The practitioner id of the clinician with this email; fails naming the email when there is none. */
  clinicianId(email: string): Promise<string>;
  assignClinician(patientId: string, practitionerId: string): Promise<void>;
  listSmartApps(): Promise<SmartAppSummary[]>;
  removeSmartApp(id: string): Promise<{ id: string; revokedTokens: number }>;
  revokeSmartAppTokens(id: string): Promise<{ revokedTokens: number }>;
  close(): Promise<void>;
}

export interface TokenOptions {
  scope?: 'read' | 'write';
  patientIds?: string[] | null;
  ttlDays?: number;
}

export async function openClinic(): Promise<Clinic> {
  const config = cliConfig();
  const server = await findRunningServer(config.dataDir);
  if (server) return remoteClinic(server.url, server.token);
  const offline = await openOfflineServices(config);
  const s = offline.services;
  return {
    via: 'database',
    addUser: (u) => s.auth.createUser({ ...u, patientId: u.patientId ?? null }, 'cli'),
    createToken: (email, name, opts) => s.auth.createToken(email, name ?? null, 'cli', opts),
    listTokens: () => s.auth.listTokens('cli'),
    async revokeToken(id) {
      await s.auth.revokeToken(id, 'cli');
    },
    async setDisabled(email, disabled) {
      const user = await s.repos.users.byEmail(email);
      if (!user) throw new CliError(`no user ${email}`);
      await s.auth.setDisabled(user.userId, disabled, 'cli');
    },
    addPatient: (p) => s.patientService.create(p, 'cli'),
    addDevice: (d) => s.deviceService.provision(d, 'cli'),
    async clinicianId(email) {
      const user = await s.repos.users.byEmail(email);
      if (!user?.practitionerId) throw new CliError(`${email} is not a clinician`);
      return user.practitionerId;
    },
    async assignClinician(patientId, practitionerId) {
      await s.patientService.assignClinician(patientId, practitionerId, 'cli');
    },
    listSmartApps: () => s.smart.apps.list(),
    removeSmartApp: (id) => s.smart.apps.remove(id, 'cli'),
    revokeSmartAppTokens: (id) => s.smart.apps.revokeTokens(id, 'cli'),
    close: () => offline.close(),
  };
}

function remoteClinic(url: string, token: string): Clinic {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    // A content-type without a body (DELETE) is refused by the server: "Body cannot be empty".
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const answer = text ? JSON.parse(text) : {};
    if (!res.ok) throw new CliError(answer?.error?.message ?? `server answered ${res.status}`);
    return answer as T;
  }
  return {
    via: 'server',
    addUser: (u) => call('POST', '/api/v1/users', u),
    createToken: (email, name, opts) => call('POST', '/api/v1/tokens', { email, name, ...opts }),
    listTokens: () => call('GET', '/api/v1/tokens?all=1'),
    async revokeToken(id) {
      await call('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
    },
    async setDisabled(email, disabled) {
      const users = await call<Array<{ id: string; email: string }>>('GET', '/api/v1/users');
      const u = users.find((x) => x.email === email.toLowerCase());
      if (!u) throw new CliError(`no user ${email}`);
      await call('POST', `/api/v1/users/${u.id}/${disabled ? 'disable' : 'enable'}`, {});
    },
    addPatient: (p) => call('POST', '/api/v1/patients', p),
    addDevice: (d) => call('POST', '/api/v1/devices', d),
    async clinicianId(email) {
      const users = await call<Array<{ email: string; practitionerId: string | null }>>('GET', '/api/v1/users');
      const u = users.find((x) => x.email === email.toLowerCase());
      if (!u?.practitionerId) throw new CliError(`${email} is not a clinician`);
      return u.practitionerId;
    },
    async assignClinician(patientId, practitionerId) {
      await call('POST', `/api/v1/patients/${patientId}/care-team`, { practitionerId });
    },
    listSmartApps: () => call('GET', '/api/v1/smart/apps'),
    removeSmartApp: (id) => call('DELETE', `/api/v1/smart/apps/${encodeURIComponent(id)}`),
    revokeSmartAppTokens: (id) => call('POST', `/api/v1/smart/apps/${encodeURIComponent(id)}/revoke`, {}),
    async close() {},
  };
}
