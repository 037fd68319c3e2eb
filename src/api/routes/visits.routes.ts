import { createHash } from 'node:crypto';
import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import {
  AppointmentIdParams,
  CallNow,
  CallNowBody,
  GuestPass,
  GuestPassBody,
  IdParams,
  Invite,
  InviteBody,
  SignalQuery,
  SummaryBody,
  VisitEncounter,
  VisitPage,
  VisitSummary,
  WaitingVisits,
} from '../contracts/index.ts';
import type { WebSocket } from 'ws';
import type { AuditService } from '../../audit/audit.service.ts';
import type { AuthService } from '../../auth/auth.service.ts';
import type { AppointmentsService } from '../../appointments/appointments.service.ts';
import type { VisitsService } from '../../visits/visits.service.ts';
import type { VisitRooms } from '../../visits/visit-rooms.ts';
import type { VisitCluster } from '../../visits/visit-cluster.ts';
import type { OriginCheck } from '../../auth/origin.ts';
import type { Principal } from '../../domain/types.ts';
import type { EventBus } from '../../platform/events.ts';
import { AppError } from '../../platform/errors.ts';
import { toHttpError } from '../errors.ts';
import { requirePrincipal, SESSION_COOKIE } from '../principal.ts';

const MAX_SIGNAL_BYTES = 64 * 1024; // an SDP offer with many candidates is ~10 kB

/** How often the call socket is pinged; a socket with no pong by the next ping is closed. */
const VISIT_PING_MS = 25_000;
/** How often an open call socket's credential and its right to the visit are checked again (as live-gateway.ts). */
const RECHECK_MS = 30_000;

/** Video visits (docs/api.md → Visits): the page redirect, guest invitations, the signalling socket, summary note. */

export function visitRoutes(
  app: Api,
  deps: {
    visits: VisitsService;
    rooms: VisitRooms;
    cluster: VisitCluster;
    appointments: AppointmentsService;
    auth: AuthService;
    audit: AuditService;
    origins?: OriginCheck;
    /** `careteam.removed`: that patient's open call sockets are checked at once. */
    events?: EventBus;
    /** How often open call sockets are checked again (ms; RECHECK_MS unless configured, `VIGIL_VISIT_RECHECK_S`). */
    recheckMs?: number;
  },
) {
  // The contract's URL; the web app's own route shows the page (sign-in first when needed).
  app.get(
    '/visits/:id',
    { config: { policy: policy.public('redirects to the web app page, which signs in') }, schema: { hide: true, params: IdParams } },
    async (req, reply) => reply.redirect(`/#/visits/${encodeURIComponent(req.params.id)}`),
  );

  const SCOPE = 'visits they take part in (the visits service checks)';
  // Before /api/v1/visits/:id in reading order; Fastify prefers the static path anyway.
  app.get(
    '/api/v1/visits/waiting',
    {
      config: { policy: policy.staff('visits of the patients they may see (care team, emergency grants; admins all)') },
      schema: {
        summary: "Visits with someone in the waiting room now, on any instance: the staff banner's list after a reload or reconnect",
        response: { 200: WaitingVisits },
      },
    },
    async (req) => deps.visits.waiting(requirePrincipal(req)),
  );
  app.get(
    '/api/v1/visits/:id',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: {
        summary: 'What the visit page needs: the appointment, who you are, who is in the room and waiting',
        params: AppointmentIdParams,
        response: { 200: VisitPage },
      },
    },
    async (req) => {
      const page = await deps.visits.page(requirePrincipal(req), req.params.id);
      return { ...page, ...(await deps.cluster.status(page.appointment.id, page.appointment.patientId)) };
    },
  );
  app.post(
    '/api/v1/visits/:id/invites',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: {
        summary: 'A one-time guest link (interpreter, family member): expires, needs no account',
        params: AppointmentIdParams,
        body: InviteBody,
        response: { 201: Invite },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.visits.invite(requirePrincipal(req), req.params.id, req.body ?? {})),
  );
  app.post(
    '/api/v1/visits/:id/guest-pass',
    {
      config: { policy: policy.public('redeems a one-time invitation token') },
      schema: {
        summary: "Exchange a guest link's token (once) for a pass to the visit's waiting room",
        params: AppointmentIdParams,
        body: GuestPassBody,
        response: { 201: GuestPass },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.visits.redeem(req.params.id, req.body)),
  );
  app.post(
    '/api/v1/visits/:id/summary',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: {
        summary: "The visit summary note (staff), kept in the visit's thread",
        params: AppointmentIdParams,
        body: SummaryBody,
        response: { 201: VisitSummary },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.visits.summary(requirePrincipal(req), req.params.id, req.body.text)),
  );
  app.post(
    '/api/v1/patients/:id/call-now',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: {
        summary: "Call now: a visit starting now, with a message carrying the link in the patient's thread",
        params: IdParams,
        body: CallNowBody,
        response: { 201: CallNow },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.visits.callNow(requirePrincipal(req), req.params.id, req.body?.reason)),
  );
  app.get(
    '/api/v1/visits/:id/encounter',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: "The visit's Encounter: who joined, when, for how long", params: AppointmentIdParams, response: { 200: VisitEncounter } },
    },
    async (req) => (await deps.visits.encounter(requirePrincipal(req), req.params.id)) ?? { status: 'not-started' as const },
  );

  /**
   * Signalling. Authenticates itself (session cookie, bearer or ?token=, or a guest pass in the subprotocol list) and
   * authorises the join for this appointment before anything else, and again every `recheckMs` while open; close
   * codes: 4400 a pass in the URL, 4401 unauthenticated (or the session, token or pass no longer valid), 4403/4404
   * not (or no longer) a participant, 4409 cancelled.
   */
  const recheckMs = deps.recheckMs ?? RECHECK_MS;
  /** Open call sockets here, by patient: a care-team removal re-checks that patient's sockets at once. */
  const open = new Map<string, Set<() => void>>();
  const offRemoved = deps.events?.on('careteam.removed', (e) => open.get(e.patientId)?.forEach((recheck) => recheck()));
  app.addHook('onClose', async () => offRemoved?.());
  app.get(
    '/api/v1/visits/:id/signal',
    {
      websocket: true,
      config: { policy: policy.public('authenticates itself (cookie, bearer, ?token= or a guest pass subprotocol) and closes with 4401/4403') },
      schema: {
        summary: 'Visit signalling (WebSocket): waiting room, admission, SDP/ICE relay between admitted participants',
        params: AppointmentIdParams,
        querystring: SignalQuery,
      },
    },
    async (socket: WebSocket, req) => {
      const id = req.params.id;
      let who: { kind: 'patient' | 'staff' | 'guest'; name: string; ref: string | null; principal: Principal | null; key: string };
      let caller: Principal | null = null; // for the audit entry of a refusal
      // The guest pass rides in the WebSocket subprotocol list (`vigil.visit`, `vigil.visit-pass.<pass>`), never the
      // URL: proxies' access logs keep query strings (found by review). `?pass=` is refused, not read.
      const pass = passFromProtocols(req.headers['sec-websocket-protocol']);
      const cookie = req.cookies?.[SESSION_COOKIE];
      let appointment;
      try {
        // A page on another origin must not ride a participant's cookie into the visit (cross-site WebSocket hijacking).
        const refused = deps.origins?.refuseSocket(req.headers, req.protocol);
        if (refused) throw new AppError('FORBIDDEN', refused);
        if (req.query.pass !== undefined)
          throw new AppError('BAD_REQUEST', 'a guest pass goes in the WebSocket subprotocol (vigil.visit-pass.<pass>), not the URL');
        if (pass) {
          const { guest, appointment: a } = await deps.visits.guestFromPass(pass, id);
          appointment = a;
          who = { kind: 'guest', name: guest.name, ref: null, principal: null, key: `guest:${createHash('sha256').update(pass).digest('hex').slice(0, 32)}` };
        } else {
          const principal =
            req.principal ??
            (req.query.token ? await deps.auth.principalFromToken(req.query.token) : null) ??
            (cookie ? await deps.auth.principalFromSession(cookie) : null);
          if (!principal) throw new AppError('UNAUTHENTICATED', 'sign in first');
          caller = principal;
          const r = await participant(principal, id);
          appointment = r.appointment;
          who = {
            kind: r.kind,
            name: principal.displayName,
            ref: r.kind === 'patient' ? `Patient/${principal.patientId}` : principal.practitionerId ? `Practitioner/${principal.practitionerId}` : null,
            principal,
            key: `user:${principal.userId}`,
          };
        }
      } catch (err) {
        const e = toHttpError(err);
        socket.close(4000 + e.status, e.message.slice(0, 120));
        // A refused call socket is a refused access like any other ((d)(2); found by review: HTTP refusals were
        // audited, these were not). The socket's principal, when it had one, is the actor.
        await deps.audit
          .record({
            actor: caller ?? 'system',
            action: 'access.refused',
            entityType: '/api/v1/visits/:id/signal',
            entityId: id,
            outcome: 'failure',
            details: {
              status: e.status,
              reason: e.message.slice(0, 120),
              ip: req.ip,
              via: caller?.credential?.kind ?? (pass || req.query.pass !== undefined ? 'guest-pass' : 'anonymous'),
            },
          })
          .catch(() => undefined);
        return;
      }
      // What the socket was opened with, to check it again while the call goes on (as the live stream does). A SMART
      // app's token is looked up elsewhere (principal-cache.ts): its rights to the visit are still checked again.
      const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7).trim() : req.query.token;
      const kind = who.principal?.smart ? undefined : who.principal?.credential?.kind;
      const credential = kind === 'session' && cookie ? { kind, value: cookie } : kind === 'token' && bearer ? { kind, value: bearer } : null;
      // Here or at the visit's home instance (visits/visit-cluster.ts): the room logic is the same.
      let sentAway = false; // closed by the server (a cancelled visit, sign-out, shutdown): not a lost connection
      const sendAway = (code: number, reason: string) => {
        sentAway = true;
        socket.close(code, reason.slice(0, 120));
        // A half-open socket (a phone that changed networks) never answers the close: it goes after 5 s anyway.
        setTimeout(() => socket.readyState !== socket.CLOSED && socket.terminate(), 5_000).unref();
      };
      const peer = await deps.cluster.connect(appointment, who, {
        send: (m) => socket.readyState === 1 && socket.send(JSON.stringify(m)),
        close: sendAway,
      });
      socket.on('message', (raw: Buffer) => {
        if (raw.length > MAX_SIGNAL_BYTES) return socket.send(JSON.stringify({ type: 'error', message: 'message too large' }));
        peer.receive(raw.toString());
      });
      // Sign-out, sign-out everywhere, disabling and token revocation end the call at once, as they end the live stream.
      const c = who.principal?.credential;
      const offEnded = who.principal
        ? deps.auth.onSessionEnded((e) => {
            if (e.userId !== who.principal!.userId) return;
            if (
              'all' in e ||
              ('sessionIds' in e && c?.kind === 'session' && e.sessionIds.includes(c.id)) ||
              ('tokenIds' in e && c?.kind === 'token' && e.tokenIds.includes(c.id))
            )
              sendAway(4401, 'signed out');
          })
        : () => undefined;
      /**
       * Still allowed in? (found by review: an open socket was never checked again, so a clinician taken off the
       * care team kept seeing who waits, admitting, getting TURN credentials and writing into the patient's thread.)
       * The credential first (a session expired or idle, a token revoked or expired: 4401), then the right to this
       * visit (off the care team: 4403); a guest's pass (expired, revoked, the visit over). A cancelled visit is
       * ended by the heartbeat (4409); a failure of the check itself (the database busy) sends nobody away.
       */
      let checking = false;
      const recheck = () => {
        if (checking || sentAway) return;
        checking = true;
        void stillAllowed()
          .then((refusal) => refusal && !sentAway && sendAway(refusal.code, refusal.reason))
          .catch(() => undefined)
          .finally(() => (checking = false));
      };
      const stillAllowed = async (): Promise<{ code: number; reason: string } | null> => {
        try {
          if (pass) {
            await deps.visits.guestFromPass(pass, id);
            return null;
          }
          let principal = who.principal!;
          if (credential) {
            const now =
              credential.kind === 'token' ? await deps.auth.principalFromToken(credential.value) : await deps.auth.principalFromSession(credential.value);
            if (!now) return { code: 4401, reason: 'your session has ended; sign in again' };
            principal = now;
          }
          await participant(principal, id);
          return null;
        } catch (err) {
          const e = toHttpError(err);
          if (e.status === 401) return { code: 4401, reason: e.message };
          if (e.status === 403 || e.status === 404) return { code: 4403, reason: 'you are no longer allowed in this visit' };
          return null;
        }
      };
      const recheckTimer = setInterval(recheck, recheckMs);
      recheckTimer.unref();
      const watching = open.get(appointment.patientId) ?? new Set();
      open.set(appointment.patientId, watching.add(recheck));
      // Keep-alive: an idle call socket was cut by proxies' idle timeouts (nginx: 60 s), and a phone that changed
      // networks left a half-open socket and a ghost in the room. A ping every 25 s; no pong by the next: gone.
      let alive = true;
      socket.on('pong', () => (alive = true));
      const keepAlive = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, VISIT_PING_MS);
      keepAlive.unref();
      socket.on('close', (code: number) => {
        clearInterval(keepAlive);
        clearInterval(recheckTimer);
        watching.delete(recheck);
        if (!watching.size && open.get(appointment.patientId) === watching) open.delete(appointment.patientId);
        offEnded();
        // A lost connection (1006: no close frame; 1005 and the rest) may walk straight back in for a while;
        // a normal close (1000), a closed tab (1001) or the server sending them away may not (found by review:
        // any close counted; a cancelled visit's 4409, echoed back by the client, then held the room open).
        peer.disconnect(!sentAway && code !== 1000 && code !== 1001);
      });
    },
  );

  /** May this principal take part in this visit now? (at the socket's opening and at every re-check) */
  async function participant(principal: Principal, id: string) {
    if (principal.credential && principal.credential.stage !== 'full') throw new AppError('UNAUTHENTICATED', 'finish signing in (second factor) first');
    // Joining admits people and writes chat into the record: a read-only token may not (found by review).
    if (principal.credential?.scope === 'read') throw new AppError('FORBIDDEN', 'a read-only token cannot join a visit');
    return deps.appointments.assertParticipant(principal, id);
  }
}

const PASS_PROTOCOL = 'vigil.visit-pass.';
/** The guest pass from `Sec-WebSocket-Protocol: vigil.visit, vigil.visit-pass.<pass>` (the server answers `vigil.visit`). */
function passFromProtocols(header: string | string[] | undefined): string | undefined {
  const offered = [header ?? []].flat().flatMap((h) => h.split(','));
  return offered
    .map((p) => p.trim())
    .find((p) => p.startsWith(PASS_PROTOCOL))
    ?.slice(PASS_PROTOCOL.length);
}
