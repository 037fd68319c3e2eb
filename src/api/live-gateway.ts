import type { WebSocket } from 'ws';
import type { EventBus } from '../platform/events.ts';
import type { Api } from './http-server.ts';
import { policy } from './policy.ts';
import { LIVE_PROTOCOL_VERSION, LiveClientMessage, StreamQuery, LiveServerMessage, type LiveMessageOf } from './contracts/index.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuthService } from '../auth/auth.service.ts';
import type { Principal, StoredReading } from '../domain/types.ts';
import type { Logger } from '../platform/logger.ts';
import { SESSION_COOKIE } from './principal.ts';
import { readingsJson, readingsMessage } from './live-readings-json.ts';
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

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The dashboard's live feed (`GET /api/v1/stream`, WebSocket). Domain events (platform/events.ts) are mapped
 * here, and only here, to the versioned wire union (api/contracts/live.ts). Every message names a patient
 * and goes only to sockets whose user may see that patient (the same access policy as the REST routes).
 */
export function registerLiveGateway(
  app: Api,
  deps: {
    events: EventBus;
    access: AccessPolicy;
    auth: AuthService;
    logger: Logger;
    origins?: OriginCheck;
    /** [sec] a consent given or revoked: that user's feeds re-read their scope at once */ scopeChanges?: {
      onScopeChanged(l: (userId: string) => void): () => void;
    };
    /** Tests and CI (VIGIL_STRICT_RESPONSES): every message is checked against the wire union; drift is logged and the client told. */
    strict?: boolean;
  },
) {
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
  type Pass = { principals: Map<string, Promise<Principal | null>>; scopes: Map<string, Promise<string[] | null>> };
  const revalidate = async (s: Subscriber, pass?: Pass) => {
    if (!s.secret) return;
    // Within one pass, sockets opened with the same credential share one lookup (a user's tabs, a wallboard).
    const key = `${s.secret.kind}:${s.secret.value}`;
    let found = pass?.principals.get(key);
    if (!found) {
      found = s.secret.kind === 'session' ? deps.auth.principalFromSession(s.secret.value) : deps.auth.principalFromToken(s.secret.value);
      pass?.principals.set(key, found);
    }
    const p = await found;
    if (!p || p.credential?.stage !== 'full') return end(s, 'session ended');
    s.principal = p;
    let scope = pass?.scopes.get(key);
    if (!scope) {
      scope = deps.access.visiblePatientIds(p);
      pass?.scopes.set(key, scope);
    }
    const ids = await scope;
    s.patients = ids === null ? null : new Set(ids);
  };
  // Re-checked a few at a time, not all at once: a thousand sockets revalidating together would queue every
  // live message (and the database) behind two thousand lookups each time the timer fires.
  let revalidating = false;
  const timer = setInterval(() => {
    if (revalidating) return;
    revalidating = true;
    void (async () => {
      const all = [...subscribers];
      const pass: Pass = { principals: new Map(), scopes: new Map() };
      for (let i = 0; i < all.length; i += 8) await Promise.all(all.slice(i, i + 8).map((s) => revalidate(s, pass).catch(() => undefined)));
    })().finally(() => (revalidating = false));
  }, SCOPE_REFRESH_MS);
  timer.unref();
  // Sign-out, sign-out everywhere, password change, disabling and token revocation close sockets at once.
  const offEnded = deps.auth.onSessionEnded((e) => {
    for (const s of subscribers) {
      const c = s.principal.credential;
      if (s.principal.userId !== e.userId) continue;
      if (
        'all' in e ||
        ('sessionIds' in e && c?.kind === 'session' && e.sessionIds.includes(c.id)) ||
        ('tokenIds' in e && c?.kind === 'token' && e.tokenIds.includes(c.id))
      )
        end(s, 'session ended');
    }
  });

  const offScope = deps.scopeChanges?.onScopeChanged((userId) => {
    // Nothing flows to that user's sockets until their scope is re-read (a revoked consent stops the feed at once).
    for (const s of subscribers) {
      if (s.principal.userId !== userId) continue;
      s.patients = new Set();
      void refresh(s).catch(() => undefined);
    }
  });

  const sees = (s: Subscriber, patientId: string | null | undefined) => !!patientId && (s.patients === null || s.patients.has(patientId));
  /**
   * Tests and CI (strict): a message that does not match the wire union is not sent; it is logged and the
   * client gets an `error` naming the field. Off in production (no per-message cost). Returns the drift, or null.
   */
  const driftOf = (message: LiveServerMessage): string | null => {
    if (!deps.strict) return null;
    const checked = LiveServerMessage.safeParse(message);
    if (checked.success) return null;
    const issue = checked.error.issues[0];
    const drift = `live message "${message.type}" does not match its contract at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`;
    log.error({ drift }, 'live contract drift');
    return drift;
  };
  const tellDrift = (s: Subscriber, drift: string) => {
    if (s.socket.readyState === 1) s.socket.send(JSON.stringify({ type: 'error', message: drift }));
  };
  /** `message` may come already encoded (a broadcast encodes once for every socket); it always goes as a text frame. */
  const send = (s: Subscriber, message: LiveServerMessage | Buffer) => {
    if (s.socket.readyState !== 1) return;
    if (s.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      log.warn({ user: s.principal.userId }, 'live client too slow; closing');
      s.socket.close(1013, 'too slow');
      return;
    }
    if (Buffer.isBuffer(message)) return s.socket.send(message, { binary: false });
    const drift = driftOf(message);
    if (drift) return tellDrift(s, drift);
    s.socket.send(JSON.stringify(message));
  };
  /**
   * `message` may be a function that builds it: then it is built only if some socket gets it (ingest emits
   * thousands of readings a second). `bytes`: the same message's JSON written directly as UTF-8, used when
   * messages are not checked against the contract (production; tests check the object).
   */
  const broadcast = (
    patientId: string | null | undefined,
    message: LiveServerMessage | (() => LiveServerMessage),
    filter?: (s: Subscriber) => boolean,
    bytes?: () => Buffer,
  ) => {
    // Checked (strict) and encoded once (JSON, then UTF-8 bytes), on the first socket that gets it, not once
    // per socket: with a thousand dashboards open, per-socket work in this loop is what delays the last socket.
    let encoded: Buffer | null = null;
    let drift: string | null | undefined;
    for (const s of subscribers) {
      if (!sees(s, patientId) || (filter && !filter(s))) continue;
      if (bytes && !deps.strict) {
        send(s, (encoded ??= bytes()));
        continue;
      }
      if (typeof message === 'function') message = message();
      if (drift === undefined) drift = driftOf(message);
      if (drift) tellDrift(s, drift);
      else send(s, (encoded ??= Buffer.from(JSON.stringify(message), 'utf8')));
    }
  };

  const unsubscribe = [
    deps.events.on('readings.stored', (readings: StoredReading[]) => {
      if (subscribers.size === 0) return;
      const byPatient = new Map<string, StoredReading[]>();
      for (const r of readings) {
        const rows = byPatient.get(r.patientId);
        if (rows) rows.push(r);
        else byPatient.set(r.patientId, [r]);
      }
      for (const [patientId, rows] of byPatient)
        broadcast(
          patientId,
          () => readingsMessage(patientId, rows),
          undefined,
          () => readingsJson(patientId, rows),
        );
    }),
    deps.events.on('ecg.stored', (c) =>
      broadcast(
        c.patientId,
        {
          type: 'ecg',
          patientId: c.patientId,
          deviceId: c.deviceId,
          fs: c.fs,
          lead: c.lead,
          unit: c.unit,
          ts: new Date(c.ts).toISOString(),
          samples: c.samples,
        },
        (s) => s.ecgPatients.has(c.patientId),
      ),
    ),
    deps.events.on('device.status', (d) => {
      if (d.patientId)
        broadcast(d.patientId, {
          type: 'device',
          deviceId: d.deviceId,
          patientId: d.patientId,
          online: d.online,
          battery: d.battery ?? null,
          lastSeenAt: iso(d.ts),
        });
    }),
    deps.events.on('news2.scored', (e) =>
      broadcast(e.patientId, {
        type: 'news2',
        patientId: e.patientId,
        score: e.score,
        partialScore: e.partialScore,
        risk: e.risk,
        minimumRisk: e.minimumRisk,
        complete: e.complete,
        components: e.components,
      }),
    ),
    deps.events.on('ecg.episode', (e) =>
      broadcast(e.patientId, {
        type: e.kind === 'af' ? 'ecg.af' : 'ecg.vf',
        patientId: e.patientId,
        deviceId: e.deviceId,
        state: e.state,
        at: iso(e.at),
        ...(e.startedAt !== undefined ? { start: iso(e.startedAt) } : {}),
        ...(e.confidence !== undefined ? { confidence: e.confidence } : {}),
        ...(e.reason ? { reason: e.reason } : {}),
      }),
    ),
    deps.events.on('alert.changed', (e) => broadcast(e.patientId, { type: 'alert', event: e.event, patientId: e.patientId, alert: e.alert })),
    deps.events.on('message.sent', (e) =>
      broadcast(e.patientId, { type: 'message', patientId: e.patientId, threadId: e.threadId, message: e.message as LiveMessageOf<'message'>['message'] }),
    ),
    deps.events.on('message.read', (e) => broadcast(e.patientId, { type: 'message.read', ...e })),
    deps.events.on('appointment.changed', (e) =>
      broadcast(e.patientId, { type: 'appointment', patientId: e.patientId, appointment: e.appointment as LiveMessageOf<'appointment'>['appointment'] }),
    ),
    deps.events.on('visit.waiting', (e) => broadcast(e.patientId, { type: 'visit.waiting', ...e })),
    deps.events.on('command.changed', (e) => {
      if (e.patientId) broadcast(e.patientId, { type: 'command', patientId: e.patientId, command: e.command });
    }),
  ];

  app.get(
    '/api/v1/stream',
    {
      websocket: true,
      config: { policy: policy.public('authenticates itself (cookie, bearer or ?token=) and closes with 4401') },
      schema: { summary: 'Live feed (WebSocket, protocol in api/contracts/live.ts)', querystring: StreamQuery },
    },
    async (socket: WebSocket, req) => {
      // F5: a page on another origin must not ride the user's cookie into the live feed (cross-site WebSocket hijacking).
      const refused = deps.origins?.refuseSocket(req.headers, req.protocol);
      if (refused) {
        socket.close(4403, 'origin not allowed');
        return;
      }
      const query = req.query.token;
      const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7).trim() : typeof query === 'string' ? query : null;
      const cookie = req.cookies?.[SESSION_COOKIE];
      const secret: Subscriber['secret'] = bearer ? { kind: 'token', value: bearer } : cookie ? { kind: 'session', value: cookie } : null;
      const principal = secret
        ? secret.kind === 'token'
          ? await deps.auth.principalFromToken(secret.value)
          : await deps.auth.principalFromSession(secret.value)
        : null;
      if (!principal || principal.credential?.stage !== 'full') {
        socket.close(4401, 'unauthenticated');
        return;
      }
      const s: Subscriber = { socket, principal, secret, patients: new Set(), ecgPatients: new Set() };
      await refresh(s);
      subscribers.add(s);
      socket.on('message', (raw: Buffer) => {
        let json: unknown;
        try {
          json = JSON.parse(raw.toString());
        } catch {
          return send(s, { type: 'error', message: 'messages must be JSON' });
        }
        const parsed = LiveClientMessage.safeParse(json);
        if (!parsed.success) return; // unknown messages are ignored (a newer client may send more)
        const msg = parsed.data;
        if (msg.type === 'subscribe-ecg') {
          if (sees(s, msg.patientId)) s.ecgPatients.add(msg.patientId);
          else send(s, { type: 'error', message: `patient ${msg.patientId} not found` });
        } else if (msg.type === 'unsubscribe-ecg') s.ecgPatients.delete(msg.patientId);
        else if (msg.type === 'ping') send(s, { type: 'pong' });
      });
      socket.on('close', () => subscribers.delete(s));
      send(s, { type: 'hello', protocol: LIVE_PROTOCOL_VERSION, user: principal.email, role: principal.role });
    },
  );

  return {
    clientCount: () => subscribers.size,
    /** Does some open dashboard here show this patient? (the relay brings other instances' readings only for those) */
    watches: (patientId: string) => {
      for (const s of subscribers) if (sees(s, patientId)) return true;
      return false;
    },
    close() {
      clearInterval(timer);
      offEnded();
      offScope?.();
      unsubscribe.forEach((u) => u());
      for (const s of subscribers) s.socket.close(1001, 'server shutting down');
    },
  };
}
