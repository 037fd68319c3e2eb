import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from '../domain/types.ts';
import type { AppointmentsService } from '../appointments/appointments.service.ts';
import type { AppointmentsRepository } from '../appointments/appointments.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { MessagingService } from '../messaging/messaging.service.ts';
import type { Clock } from '../platform/clock.ts';
import { AppError, badRequest, forbidden, notFound } from '../platform/errors.ts';
import type { VisitsConfig } from './visits.config.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { WaitingVisit } from './visit-rooms.ts';

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const GUEST_PASS_MS = 4 * 3600_000;

export interface GuestPass {
  appointmentId: string;
  name: string;
  expiresAt: number;
}

/**
 * Visit access: who may open a visit (its patient, staff who may see the patient, a guest with a pass),
 * one-time guest links (only their hash is stored; redeeming marks them used in the same statement), and
 * the visit summary note, kept in the visit's message thread (sealed like every message).
 */
export function createVisitsService(deps: {
  appointments: AppointmentsService;
  repo: AppointmentsRepository;
  messaging: MessagingService;
  audit: AuditService;
  clock: Clock;
  config: VisitsConfig;
  baseUrl: () => string;
  access: AccessPolicy;
  /** Visits with someone waiting now, on any instance, for these patients (null: all): visit-cluster.ts. */
  waitingRooms: (patientIds: string[] | null) => Promise<WaitingVisit[]>;
}) {
  return {
    /**
     * The visits someone waits in now, for the staff banner to show after a reload or a reconnect (the live
     * `visit.waiting` events only say what changes): staff only, and only patients the caller may see (their
     * care team, an emergency grant; admins all). With the patient's name the banner shows.
     */
    async waiting(p: Principal) {
      deps.access.assertStaff(p);
      const list = await deps.waitingRooms(await deps.access.visiblePatientIds(p));
      const appointments = new Map((await deps.repo.byIds(list.map((w) => w.appointmentId))).map((a) => [a.id, a]));
      return list.flatMap((w) => {
        const a = appointments.get(w.appointmentId);
        return a && a.status !== 'cancelled' ? [{ ...w, patientName: a.patientName }] : [];
      });
    },

    async invite(p: Principal, appointmentId: string, input: { name?: string }) {
      const { appointment } = await deps.appointments.assertParticipant(p, appointmentId);
      if (appointment.status === 'fulfilled') throw new AppError('CONFLICT', 'this visit has already taken place');
      const name = (input.name ?? '').trim().slice(0, 80) || 'Guest';
      const token = randomBytes(24).toString('base64url');
      const now = deps.clock.now();
      const expiresAt = Math.max(now, appointment.end) + deps.config.inviteTtlS * 1000;
      await deps.audit.change(async (tx, log) => {
        await deps.repo.addInvite({ tokenHash: hash(token), appointmentId, displayName: name, createdBy: p.userId, expiresAt }, tx);
        log({
          actor: p,
          action: 'visit.invite',
          entityType: 'Appointment',
          entityId: appointmentId,
          patientId: appointment.patientId,
          details: { guest: name, expiresAt: new Date(expiresAt).toISOString() },
        });
      });
      // The token travels in the fragment: browsers never send it to a server (no access logs, no Referer).
      return { url: `${deps.baseUrl()}/#/join/${encodeURIComponent(appointmentId)}/${token}`, expiresAt: new Date(expiresAt).toISOString(), name };
    },

    /** Exchanges a one-time link for a guest pass (a second use of the link is refused). */
    async redeem(appointmentId: string, input: { token: string; name?: string }) {
      if (input.token.length < 20 || input.token.length > 100) throw badRequest('token must be the code from the invitation link');
      const invite = await deps.repo.redeemInvite(hash(input.token), appointmentId, deps.clock.now());
      if (!invite) throw new AppError('UNAUTHENTICATED', 'this invitation link has expired or has already been used; ask the care team for a new one');
      const appointment = await deps.repo.byId(appointmentId);
      if (!appointment || appointment.status === 'cancelled') throw notFound(`visit ${appointmentId}`);
      await deps.repo.sweepGuestPasses(deps.clock.now());
      const pass = randomBytes(24).toString('base64url');
      // The name staff gave the invitation stays visible: a guest may add theirs, not pass as someone else
      // (found by review: "Dr Smith" typed on an interpreter's link replaced "Interpreter" in the waiting room).
      const typed = (input.name ?? '').trim().slice(0, 80);
      const given = invite.displayName;
      const name = !typed || typed === given ? given : given === 'Guest' ? typed : `${typed} (invited as ${given})`;
      // In the database (only its hash), so the guest's signalling socket may land on any instance.
      await deps.audit.change(async (tx, log) => {
        await deps.repo.addGuestPass({ passHash: hash(pass), appointmentId, name, expiresAt: deps.clock.now() + GUEST_PASS_MS }, tx);
        log({
          actor: 'system',
          action: 'visit.invite.redeem',
          entityType: 'Appointment',
          entityId: appointmentId,
          patientId: appointment.patientId,
          details: { guest: name },
        });
      });
      return { pass, name, appointmentId };
    },

    /** The guest and the appointment a pass admits to the lobby of; throws when the pass is not valid for it. */
    async guestFromPass(pass: string, appointmentId: string) {
      const g = await deps.repo.guestPass(hash(pass), deps.clock.now());
      if (!g || g.appointmentId !== appointmentId) throw new AppError('UNAUTHENTICATED', 'this guest pass is not valid for this visit');
      const appointment = await deps.repo.byId(appointmentId);
      if (!appointment || appointment.status === 'cancelled') throw notFound(`visit ${appointmentId}`);
      // A pass opens one visit, not whatever follows it: once the visit is over it opens nothing (found by review).
      if (appointment.status === 'fulfilled' || appointment.status === 'noshow')
        throw new AppError('UNAUTHENTICATED', 'this visit has ended; ask the care team for a new link if you need to join again');
      return { guest: g, appointment };
    },

    /** What the visit page needs to know before connecting. */
    async page(p: Principal, appointmentId: string) {
      const { appointment, kind } = await deps.appointments.assertParticipant(p, appointmentId);
      await deps.audit.record({ actor: p, action: 'visit.open', entityType: 'Appointment', entityId: appointmentId, patientId: appointment.patientId });
      return { appointment, you: { kind, name: p.displayName } };
    },

    async summary(p: Principal, appointmentId: string, text: string) {
      const { appointment, kind } = await deps.appointments.assertParticipant(p, appointmentId);
      if (kind !== 'staff') throw forbidden('only the care team writes the visit summary');
      if (!text.trim()) throw badRequest('text is required: the visit summary');
      let threadId = appointment.threadId;
      if (!threadId) {
        threadId = await deps.messaging.ensureThread(appointment.patientId, `Video visit ${new Date(appointment.start).toISOString().slice(0, 10)}`, p.userId);
        await deps.repo.setThread(appointment.id, threadId);
      }
      const message = await deps.messaging.postAs(
        threadId,
        appointment.patientId,
        { kind: 'staff', name: p.displayName, ref: p.practitionerId ? `Practitioner/${p.practitionerId}` : null, userId: p.userId },
        { text: text.slice(0, 5000), category: 'visit-summary' },
        p,
      );
      return message;
    },

    /**
     * "Call now" (from an alert or the patient page): a visit starting now, and a message in the patient's
     * thread with the link, which also reaches the patient's open portal live.
     */
    async callNow(p: Principal, patientId: string, reason?: string, inThread?: string) {
      const appointment = await deps.appointments.create(
        p,
        { patientId, start: deps.clock.now(), description: reason?.slice(0, 200) || 'Call from your care team' },
        { overlapping: 'allowed' }, // an urgent call goes ahead over a booking
      );
      const threadId = inThread ?? (await deps.messaging.defaultThread(p, patientId));
      await deps.repo.setThread(appointment.id, threadId);
      await deps.messaging.send(p, threadId, {
        text: `${p.displayName} is calling you for a video visit now. Open Vigil and press Join: ${deps.baseUrl()}/visits/${appointment.id}`,
        category: 'notification',
      });
      return { appointment: { ...appointment, threadId }, url: `/visits/${appointment.id}` };
    },

    /** "Start a visit from this message": a visit now, its link posted in the message's own thread. */
    async callFromMessage(p: Principal, messageId: string, reason?: string) {
      const m = await deps.messaging.byId(p, messageId);
      return this.callNow(p, m.patientId, reason || `About your message of ${m.sentAt.slice(0, 10)}`, m.threadId);
    },

    async encounter(p: Principal, appointmentId: string) {
      const { appointment } = await deps.appointments.assertParticipant(p, appointmentId);
      return deps.repo.encounterOf(appointment.id);
    },
  };
}

export type VisitsService = ReturnType<typeof createVisitsService>;
