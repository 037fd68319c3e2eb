import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { EventBus, LiveMessage } from '../platform/events.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuthService } from '../auth/auth.service.ts';
import type { Principal, StoredReading } from '../domain/types.ts';
import type { Logger } from '../platform/logger.ts';
import { SESSION_COOKIE } from './principal.ts';
import type { OriginCheck } from '../auth/origin.ts';

const SCOPE_REFRESH_MS = 30_000; // care-team changes reach open dashboards within 30 s
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024; // a client this far behind is dropped rather than slowing everyone

interface Subscriber {
  socket: WebSocket;
  principal: Principal;
  /** The session cookie or bearer token it opened with: re-checked every SCOPE_REFRESH_MS ((d)(5), F5). */
  secret: { kind: 'session' | 'token'; value: string } | null;
  /** null: every patient (admin). */
  patients: Set<string> | null;
  ecgPatients: Set<string>;
}

/**
 * The dashboard's live feed (`GET /api/v1/stream`, WebSocket). Every message names a patient and goes only
 * to sockets whose user may see that patient (the same access policy as the REST routes).
 */
export function registerLiveGateway(app: FastifyInstance, deps: { events: EventBus; access: AccessPolicy; auth: AuthService; logger: Logger; origins?: OriginCheck }) {
  const log = deps.logger.child({ module: 'live' });
  const subscribers = new Set<Subscriber>();

  const refresh = async (s: Subscriber) => {
    const ids = await deps.access.visiblePatientIds(s.principal);
    s.patients = ids === null ? null : new Set(ids);
  };
  const end = (s: Subscriber, why: string) => {
    subscribers.delete(s);
    s.socket.close(4401, why);
  };
  /** Still signed in? A session that expired, went idle, was signed out, or a revoked token closes the socket. */
  const revalidate = async (s: Subscriber) => {
    if (!s.secret) return;
    const p = s.secret.kind === 'session' ? await deps.auth.principalFromSession(s.secret.value) : await deps.auth.principalFromToken(s.secret.value);
    if (!p || p.credential?.stage !== 'full') return end(s, 'session ended');
    s.principal = p;
    await refresh(s);
  };
  const timer = setInterval(() => subscribers.forEach((s) => void revalidate(s).catch(() => undefined)), SCOPE_REFRESH_MS);
  timer.unref();
  // Sign-out, sign-out everywhere, password change, disabling and token revocation close sockets at once.
  const offEnded = deps.auth.onSessionEnded((e) => {
    for (const s of subscribers) {
      const c = s.principal.credential;
      if (s.principal.userId !== e.userId) continue;
      if ('all' in e || ('sessionIds' in e && c?.kind === 'session' && e.sessionIds.includes(c.id)) || ('tokenIds' in e && c?.kind === 'token' && e.tokenIds.includes(c.id))) end(s, 'session ended');
    }
  });

  const sees = (s: Subscriber, patientId: string | null | undefined) => !!patientId && (s.patients === null || s.patients.has(patientId));
  const send = (s: Subscriber, message: unknown) => {
    if (s.socket.readyState !== 1) return;
    if (s.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      log.warn({ user: s.principal.userId }, 'live client too slow; closing');
      s.socket.close(1013, 'too slow');
      return;
    }
    s.socket.send(JSON.stringify(message));
  };
  const broadcast = (patientId: string | null | undefined, message: unknown, filter?: (s: Subscriber) => boolean) => {
    for (const s of subscribers) if (sees(s, patientId) && (!filter || filter(s))) send(s, message);
  };

  const unsubscribe = [
    deps.events.on('readings.stored', (readings: StoredReading[]) => {
      const byPatient = new Map<string, StoredReading[]>();
      for (const r of readings) {
        const rows = byPatient.get(r.patientId);
        if (rows) rows.push(r);
        else byPatient.set(r.patientId, [r]);
      }
      for (const [patientId, rows] of byPatient) {
        broadcast(patientId, {
          type: 'readings',
          patientId,
          readings: rows.map((r) => ({ code: r.code, value: r.value, unit: r.unit, ts: new Date(r.ts).toISOString(), deviceId: r.deviceId, ...(r.method ? { method: r.method } : {}) })),
        });
      }
    }),
    deps.events.on('ecg.stored', (c) =>
      broadcast(c.patientId, { type: 'ecg', patientId: c.patientId, deviceId: c.deviceId, fs: c.fs, lead: c.lead, unit: c.unit, ts: new Date(c.ts).toISOString(), samples: c.samples }, (s) => s.ecgPatients.has(c.patientId)),
    ),
    deps.events.on('device.status', (d) =>
      broadcast(d.patientId, { type: 'device', deviceId: d.deviceId, patientId: d.patientId, online: d.online, battery: d.battery ?? null, lastSeenAt: new Date(d.ts).toISOString() }),
    ),
    deps.events.on('live', (m: LiveMessage) => broadcast(m.patientId, m)),
  ];

  app.get('/api/v1/stream', { websocket: true }, async (socket: WebSocket, req) => {
    // F5: a page on another origin must not ride the user's cookie into the live feed (cross-site WebSocket hijacking).
    const refused = deps.origins?.refuseSocket(req.headers, req.protocol);
    if (refused) {
      socket.close(4403, 'origin not allowed');
      return;
    }
    const query = (req.query as { token?: unknown }).token;
    const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7).trim() : typeof query === 'string' ? query : null;
    const cookie = req.cookies?.[SESSION_COOKIE];
    const secret: Subscriber['secret'] = bearer ? { kind: 'token', value: bearer } : cookie ? { kind: 'session', value: cookie } : null;
    const principal = secret ? (secret.kind === 'token' ? await deps.auth.principalFromToken(secret.value) : await deps.auth.principalFromSession(secret.value)) : null;
    if (!principal || principal.credential?.stage !== 'full') {
      socket.close(4401, 'unauthenticated');
      return;
    }
    const s: Subscriber = { socket, principal, secret, patients: new Set(), ecgPatients: new Set() };
    await refresh(s);
    subscribers.add(s);
    socket.on('message', (raw: Buffer) => {
      let msg: { type?: string; patientId?: string };
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return send(s, { type: 'error', message: 'messages must be JSON' });
      }
      if (msg.type === 'subscribe-ecg' && typeof msg.patientId === 'string') {
        if (sees(s, msg.patientId)) s.ecgPatients.add(msg.patientId);
        else send(s, { type: 'error', message: `patient ${msg.patientId} not found` });
      } else if (msg.type === 'unsubscribe-ecg' && typeof msg.patientId === 'string') s.ecgPatients.delete(msg.patientId);
      else if (msg.type === 'ping') send(s, { type: 'pong' });
    });
    socket.on('close', () => subscribers.delete(s));
    send(s, { type: 'hello', user: principal.email, role: principal.role });
  });

  return {
    clientCount: () => subscribers.size,
    close() {
      clearInterval(timer);
      offEnded();
      unsubscribe.forEach((u) => u());
      for (const s of subscribers) s.socket.close(1001, 'server shutting down');
    },
  };
}
