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
import { AppError } from '../../platform/errors.ts';
import { toHttpError } from '../errors.ts';
import { requirePrincipal, SESSION_COOKIE } from '../principal.ts';

const MAX_SIGNAL_BYTES = 64 * 1024; // an SDP offer with many candidates is ~10 kB

/** Video visits (docs/api.md → Visits): the page redirect, guest invitations, the signalling socket, summary note. */
/** How often the call socket is pinged; a socket with no pong by the next ping is closed. */
const VISIT_PING_MS = 25_000;

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
  },
) {
  // The contract's URL; the web app's own route shows the page (sign-in first when needed).
  app.get(
    '/visits/:id',
    { config: { policy: policy.public('redirects to the web app page, which signs in') }, schema: { hide: true, params: IdParams } },
    async (req, reply) => reply.redirect(`/#/visits/${encodeURIComponent(req.params.id)}`),
  );

  const SCOPE = 'visits they take part in (the visits service checks)';
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
   * Signalling. Authenticates itself (session cookie, ?token= or a guest ?pass=) and authorises the join for
   * this appointment before anything else; close codes: 4401 unauthenticated, 4403/4404 not a participant.
   */
  app.get(
    '/api/v1/visits/:id/signal',
    {
      websocket: true,
      config: { policy: policy.public('authenticates itself (cookie, ?token= or a guest ?pass=) and closes with 4401/4403') },
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
      // The guest pass rides in the WebSocket subprotocol list (`vigil.visit`, `vigil.visit-pass.<pass>`), not the
      // URL, so proxies' access logs do not keep it (found by review); `?pass=` still works for older clients.
      const pass = passFromProtocols(req.headers['sec-websocket-protocol']) ?? req.query.pass;
      let appointment;
      try {
        // A page on another origin must not ride a participant's cookie into the visit (cross-site WebSocket hijacking).
        const refused = deps.origins?.refuseSocket(req.headers, req.protocol);
        if (refused) throw new AppError('FORBIDDEN', refused);
        if (pass) {
          const { guest, appointment: a } = await deps.visits.guestFromPass(pass, id);
          appointment = a;
          who = { kind: 'guest', name: guest.name, ref: null, principal: null, key: `guest:${createHash('sha256').update(pass).digest('hex').slice(0, 32)}` };
        } else {
          const principal =
            req.principal ??
            (req.query.token ? await deps.auth.principalFromToken(req.query.token) : null) ??
            (req.cookies?.[SESSION_COOKIE] ? await deps.auth.principalFromSession(req.cookies[SESSION_COOKIE]!) : null);
          if (!principal) throw new AppError('UNAUTHENTICATED', 'sign in first');
          caller = principal;
          if (principal.credential && principal.credential.stage !== 'full') throw new AppError('UNAUTHENTICATED', 'finish signing in (second factor) first');
          // Joining admits people and writes chat into the record: a read-only token may not (found by review).
          if (principal.credential?.scope === 'read') throw new AppError('FORBIDDEN', 'a read-only token cannot join a visit');
          const r = await deps.appointments.assertParticipant(principal, id);
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
            details: { status: e.status, reason: e.message.slice(0, 120), ip: req.ip, via: caller?.credential?.kind ?? (pass ? 'guest-pass' : 'anonymous') },
          })
          .catch(() => undefined);
        return;
      }
      // Here or at the visit's home instance (visits/visit-cluster.ts): the room logic is the same.
      const peer = await deps.cluster.connect(appointment, who, {
        send: (m) => socket.readyState === 1 && socket.send(JSON.stringify(m)),
        close: (code, reason) => socket.close(code, reason),
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
              socket.close(4401, 'signed out');
          })
        : () => undefined;
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
        offEnded();
        // A lost connection (1006: no close frame; 1005 and the rest) may walk straight back in for a while;
        // a normal close (1000) or a closed tab (1001) may not (found by review: any close counted).
        peer.disconnect(code !== 1000 && code !== 1001);
      });
    },
  );
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
