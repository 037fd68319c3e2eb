import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Appointment, AppointmentsRepository } from '../appointments/appointments.repository.ts';
import type { AuditEntry, AuditService } from '../audit/audit.service.ts';
import type { Queryable } from '../platform/db.ts';
import type { MessagingService } from '../messaging/messaging.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { EventBus } from '../platform/events.ts';
import type { Logger } from '../platform/logger.ts';
import type { Principal } from '../domain/types.ts';
import { newId } from '../platform/ids.ts';
import { VisitSignalData, type VisitRtcConfiguration, type VisitServerMessage } from '../api/contracts/visit-signalling.ts';

/**
 * Video visit rooms: a waiting room, admission by staff, and relay of WebRTC signalling between admitted
 * participants only (a full mesh of at most five: each pair has its own peer connection; beyond five the
 * path is an SFU such as Janus, see src/visits/README.md). Media never passes through the server.
 *
 * The room also keeps the record: the first time staff and the patient (or a guest) are together the
 * visit's Encounter starts; every admission and departure is a participant period; when the last person
 * leaves the Encounter finishes and the appointment is fulfilled. In-call chat goes to the visit's thread.
 *
 * A room lives in this process's memory; with several instances one of them is the visit's home and the
 * others relay their participants to it (visit-cluster.ts).
 */

export type PeerKind = 'patient' | 'staff' | 'guest';
export type PeerState = 'lobby' | 'waiting' | 'in-room';

export interface PeerSocket {
  send(message: VisitServerMessage): void;
  close(code: number, reason: string): void;
}

/**
 * How long a participant whose connection dropped may come back into the room without waiting again, and how
 * long a room emptied only by lost connections is held open for them (2 min; `VIGIL_VISIT_REJOIN_S`).
 */
export const REJOIN_MS = 120_000;

/** The close code of a connection replaced by its own participant reconnecting (a refusal: the old one does not retry). */
export const REPLACED_CODE = 4410;
/** The close code when the home shuts down gracefully: the clients reconnect and the visit goes on (RFC 6455 §7.4.1). */
export const RESTART_CODE = 1012;

/** The rejoin secret compared in constant time (found by review: `===` leaks how much of a guess was right). */
const sameSecret = (given: unknown, secret: string | undefined) =>
  typeof given === 'string' && !!secret && given.length === secret.length && timingSafeEqual(Buffer.from(given), Buffer.from(secret));
/** What the database keeps of a rejoin secret (migrations 042, 044): a digest, looked up as it is (no secret compared). */
const secretHash = (secret: string) => createHash('sha256').update(secret).digest('hex');
/** A dropped admission in a room's memory: the participant and its secret's digest (one per device of an account). */
const dropKey = (key: string, hash: string) => `${key}\u0000${hash}`;

export interface Peer {
  id: string;
  kind: PeerKind;
  name: string;
  /** Who this is across connections (`user:<id>`, or `guest:<pass hash>`), to let a dropped participant back in. */
  key?: string;
  /** Given with admission: only the connection that was admitted can come back with it after a drop. */
  rejoin?: string;
  /** The digest of the secret this connection came back with: spent once it is in (its new admission has its own). */
  rejoinUsed?: string;
  ref: string | null;
  principal: Principal | null;
  state: PeerState;
  socket: PeerSocket;
  media: { audio: boolean; video: boolean };
  participantRow: string | null;
  since: number;
  /** Its ICE configuration with fresh TURN credentials, handed over on admission. */
  rtc: () => VisitRtcConfiguration;
}

interface Room {
  appointment: Appointment;
  peers: Map<string, Peer>;
  encounterId: string | null;
  /** Room events are handled one at a time (admissions, departures and the record must not interleave). */
  queue: Promise<unknown>;
  /** The waiting peers last announced to dashboards (their ids), so only changes are announced. */
  waitingKey?: string;
  /**
   * Admissions whose connection dropped while in the room: participant and digest of the secret the admission gave
   * (dropKey) → until when they may walk back in. Per admission: another device of the account, or another holder
   * of a guest pass, has not got the secret (found by review), and has its own when it was admitted too.
   */
  dropped: Map<string, { until: number }>;
  /**
   * Set while the room is held open after its last person's connection dropped (the clinic's Wi-Fi blips, both
   * sides lose the network at once): the Encounter stays in progress and the appointment unfulfilled until
   * someone comes back (a dropped participant with its secret, or staff) or `rejoinMs` passes. `since`: when the
   * last one dropped.
   */
  held?: { since: number; timer: NodeJS.Timeout };
}

/** `dropped`: the connection was lost (not a Leave, a closed tab or a server sending them away), see REJOIN_MS. */
export type ConnectedPeer = Peer & { receive(raw: string): void; disconnect(dropped?: boolean): void };

const publicPeer = (p: Peer) => ({ id: p.id, kind: p.kind, name: p.name, state: p.state, media: p.media });

/** A visit with someone in its waiting room: what `visit.waiting` announces, as a list. */
export type WaitingVisit = { appointmentId: string; patientId: string; waiting: number; kinds: PeerKind[] };

export type RoomStatus = { inRoom: ReturnType<typeof publicPeer>[]; waiting: ReturnType<typeof publicPeer>[] };

export function createVisitRooms(deps: {
  appointments: AppointmentsRepository;
  messaging: MessagingService;
  audit: AuditService;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  maxParticipants: number;
  /** REJOIN_MS unless configured (`VIGIL_VISIT_REJOIN_S`; tests shorten it). */
  rejoinMs?: number;
  /** Who is in the room and who waits, after every change (visit-cluster.ts shares it with other instances). */
  onChange?: (appointment: Appointment, status: RoomStatus) => void;
}) {
  const rooms = new Map<string, Room>();
  /** Set by a graceful shutdown (`close`): departures are not recorded any more, the visits stay in progress. */
  let closing: Promise<void> | null = null;
  const log = deps.logger.child({ module: 'visits' });
  const rejoinMs = deps.rejoinMs ?? REJOIN_MS;

  const inRoom = (r: Room) => [...r.peers.values()].filter((p) => p.state === 'in-room');
  const waiting = (r: Room) => [...r.peers.values()].filter((p) => p.state === 'waiting');
  const staff = (r: Room) => [...r.peers.values()].filter((p) => p.kind === 'staff');
  const auditActor = (p: Peer) => p.principal ?? ('system' as const);
  /** A participant's period in the call ends at `now`, with its `visit.leave` entry, in the caller's transaction. */
  async function recordLeave(tx: Queryable, log: (e: AuditEntry) => void, r: Room, p: Peer, now: number, reason?: string) {
    if (p.participantRow) await deps.appointments.participantLeft(p.participantRow, now, tx);
    log({
      actor: auditActor(p),
      action: 'visit.leave',
      entityType: 'Appointment',
      entityId: r.appointment.id,
      patientId: r.appointment.patientId,
      details: { kind: p.kind, ...(reason ? { reason } : {}) },
    });
  }

  /** Tells the staff in the visit, the cluster, and (when it changed) every dashboard watching the patient. */
  function tellStaffWhoWaits(r: Room) {
    const list = waiting(r).map(publicPeer);
    for (const s of staff(r)) s.socket.send({ type: 'waiting', waiting: list });
    deps.onChange?.(r.appointment, { inRoom: inRoom(r).map(publicPeer), waiting: list });
    const key = list.map((p) => p.id).join();
    if (key !== r.waitingKey) {
      r.waitingKey = key;
      deps.events.emit('visit.waiting', {
        patientId: r.appointment.patientId,
        appointmentId: r.appointment.id,
        waiting: list.length,
        kinds: [...new Set(list.map((p) => p.kind))],
      });
    }
  }

  function broadcast(r: Room, message: VisitServerMessage, except?: string) {
    for (const p of inRoom(r)) if (p.id !== except) p.socket.send(message);
  }

  /**
   * Admits a peer: its participant row (and, once staff and the patient or a guest are together, the Encounter,
   * the appointment's status and the others' rows) commit in one transaction with `visit.join` (and `visit.start`)
   * ((d)(2)). The room changes only after the commit: if the audit cannot be written the peer stays where it was.
   */
  async function enter(r: Room, p: Peer, admittedBy?: Peer) {
    const others = inRoom(r);
    const now = deps.clock.now();
    const people = [...others, p];
    const startNow = !r.encounterId && people.some((x) => x.kind === 'staff') && people.some((x) => x.kind !== 'staff');
    const secret = randomBytes(16).toString('base64url');
    const done = await deps.audit.change(async (tx, log) => {
      // Its secret outlives this process: back after the home restarted or died, it comes straight in too.
      if (p.key) await deps.appointments.saveRejoin(r.appointment.id, p.key, secretHash(secret), null, tx);
      if (p.key && p.rejoinUsed) await deps.appointments.forgetRejoin(r.appointment.id, p.key, p.rejoinUsed, tx);
      let encounterId = r.encounterId;
      if (startNow) {
        encounterId = await deps.appointments.startEncounter(
          { id: newId('enc'), appointmentId: r.appointment.id, patientId: r.appointment.patientId, at: now },
          tx,
        );
        if (r.appointment.status === 'booked') await deps.appointments.setStatus(r.appointment.id, 'arrived', null, tx);
        log({
          actor: auditActor(p),
          action: 'visit.start',
          entityType: 'Encounter',
          entityId: encounterId,
          patientId: r.appointment.patientId,
          details: { appointmentId: r.appointment.id },
        });
      }
      const rows: Array<[Peer, string]> = [];
      if (encounterId) {
        for (const x of startNow ? people : [p]) {
          if (!x.participantRow)
            rows.push([
              x,
              await deps.appointments.participantJoined({ encounterId, kind: x.kind, ref: x.ref, display: x.name, at: x === p ? now : x.since }, tx),
            ]);
        }
      }
      log({
        actor: auditActor(p),
        action: 'visit.join',
        entityType: 'Appointment',
        entityId: r.appointment.id,
        patientId: r.appointment.patientId,
        // Who let them in ((d)(2): a guest has no account, so the staff member who admitted them answers for it).
        details: { kind: p.kind, name: p.name, ...(admittedBy ? { admittedBy: admittedBy.principal?.userId ?? null, admittedByName: admittedBy.name } : {}) },
      });
      return { encounterId, rows };
    });
    r.encounterId = done.encounterId;
    if (p.key && p.rejoinUsed) r.dropped.delete(dropKey(p.key, p.rejoinUsed));
    p.rejoinUsed = undefined;
    for (const [x, row] of done.rows) x.participantRow = row;
    // Someone came back while the room was held: the same visit goes on (same Encounter, still not fulfilled).
    release(r);
    p.state = 'in-room';
    p.since = now;
    // The newcomer makes the offers (one per peer already in the room), so two sides never offer at once.
    p.rejoin = secret;
    p.socket.send({ type: 'admitted', peers: others.map(publicPeer), rtc: p.rtc(), rejoin: p.rejoin });
    broadcast(r, { type: 'peer-joined', peer: publicPeer(p) }, p.id);
    tellStaffWhoWaits(r);
  }

  /**
   * The participant whose connection is `old` reconnected with its admission's secret before the server noticed the
   * old one was gone (a phone changing networks: the half-open socket lingers until the ping times out, 25–50 s,
   * and the client is back within seconds; found by review: they waited to be let in while their ghost stayed in the
   * call). The new connection takes the old one's place: the same participant period (nothing recorded as a leave
   * and a join, `visit.rejoin` in the audit trail), the others see the old peer go and the new one come (their browsers
   * make the call's connections afresh with the new id), and the old socket is closed.
   */
  async function replace(r: Room, old: Peer, p: Peer) {
    const secret = randomBytes(16).toString('base64url');
    if (p.key) {
      // before anything changes: the new connection's secret in, the replaced one's out
      await deps.appointments.saveRejoin(r.appointment.id, p.key, secretHash(secret), null);
      if (old.rejoin) await deps.appointments.forgetRejoin(r.appointment.id, p.key, secretHash(old.rejoin));
    }
    await deps.audit.record({
      actor: auditActor(p),
      action: 'visit.rejoin',
      entityType: 'Appointment',
      entityId: r.appointment.id,
      patientId: r.appointment.patientId,
      details: { kind: p.kind, name: p.name },
    });
    const row = old.participantRow;
    r.peers.delete(old.id);
    old.state = 'lobby'; // its socket's close (whenever it comes) is then no departure
    old.participantRow = null;
    old.socket.close(REPLACED_CODE, 'you joined the visit again from a new connection');
    p.participantRow = row;
    p.state = 'in-room';
    p.since = old.since;
    p.media = old.media;
    p.rejoin = secret;
    const others = inRoom(r).filter((x) => x.id !== p.id);
    p.socket.send({ type: 'admitted', peers: others.map(publicPeer), rtc: p.rtc(), rejoin: p.rejoin });
    broadcast(r, { type: 'peer-left', id: old.id }, p.id);
    broadcast(r, { type: 'peer-joined', peer: publicPeer(p) }, p.id);
    tellStaffWhoWaits(r);
  }

  /**
   * A peer leaves: its participant row's end, `visit.leave` and, when the room empties, the Encounter's end, the
   * appointment's status and `visit.end` commit in one transaction ((d)(2)).
   */
  async function depart(r: Room, p: Peer, droppedConnection = false) {
    // A dropped connection (Wi-Fi, a restart) is not a goodbye: the same person may come straight back in.
    const canRejoin = droppedConnection && p.state === 'in-room' && !!p.key && !!p.rejoin;
    const until = deps.clock.now() + rejoinMs;
    const admission = p.rejoin ? secretHash(p.rejoin) : null;
    if (canRejoin) r.dropped.set(dropKey(p.key!, admission!), { until });
    if (p.state === 'in-room') {
      const emptied = inRoom(r).length === 1 && r.encounterId ? r.encounterId : null;
      // The last person's connection was lost (not a Leave, a closed tab or the server sending them away): the
      // visit is held open for them rather than ended (found by review: a Wi-Fi blip on both sides ended it).
      const hold = emptied && canRejoin;
      const last = hold ? null : emptied;
      const now = deps.clock.now();
      await deps.audit.change(async (tx, log) => {
        // Its saved secret (migration 042) as its memory here: back within the window after a drop, gone after a goodbye.
        if (p.key && admission && canRejoin) await deps.appointments.holdRejoin(r.appointment.id, p.key, admission, until, tx);
        else if (p.key && admission) await deps.appointments.forgetRejoin(r.appointment.id, p.key, admission, tx);
        await recordLeave(tx, log, r, p, now);
        if (last) {
          await deps.appointments.finishEncounter(last, now, tx);
          await deps.appointments.fulfil(r.appointment.id, tx);
          log({
            actor: auditActor(p),
            action: 'visit.end',
            entityType: 'Encounter',
            entityId: last,
            patientId: r.appointment.patientId,
            details: { appointmentId: r.appointment.id },
          });
        }
      });
      p.state = 'lobby';
      p.participantRow = null;
      broadcast(r, { type: 'peer-left', id: p.id });
      if (last) {
        r.appointment = { ...r.appointment, status: 'fulfilled' };
        r.encounterId = null;
      }
      if (hold) {
        release(r);
        const timer = setTimeout(() => expire(r), rejoinMs);
        timer.unref();
        r.held = { since: now, timer };
      }
    } else p.state = 'lobby';
    tellStaffWhoWaits(r);
  }

  /** The hold ends because someone came back (or the room is going away): nothing is recorded. */
  function release(r: Room) {
    if (!r.held) return;
    clearTimeout(r.held.timer);
    r.held = undefined;
  }

  /** Nobody came back within the hold: the visit ends as it would have when the last one dropped. */
  function expire(r: Room) {
    r.queue = r.queue
      .then(() => endHeld(r))
      .catch((err) => log.error({ err }, 'ending a held visit failed'))
      .finally(() => {
        if (!r.held && r.peers.size === 0 && rooms.get(r.appointment.id) === r) rooms.delete(r.appointment.id);
      });
  }

  /**
   * Ends a held visit: the Encounter finishes at the moment the last person dropped (`held.since`), not when the
   * hold ran out. The hold is only a grace for reconnecting; nobody was in the call during it, and the record's
   * length (and every participant period, which ended at the drop) should say how long people were together.
   * Appointment fulfilled (unless cancelled meanwhile: fulfil leaves a cancelled one alone) and `visit.end` in
   * the same transaction, as when the last person leaves.
   */
  async function endHeld(r: Room) {
    const held = r.held;
    const encounterId = r.encounterId;
    if (!held || !encounterId || inRoom(r).length) return release(r);
    await deps.audit.change(async (tx, log) => {
      await deps.appointments.finishEncounter(encounterId, held.since, tx);
      await deps.appointments.fulfil(r.appointment.id, tx);
      log({
        actor: 'system',
        action: 'visit.end',
        entityType: 'Encounter',
        entityId: encounterId,
        patientId: r.appointment.patientId,
        details: { appointmentId: r.appointment.id, reason: 'connections lost; nobody came back' },
      });
    });
    release(r);
    if (r.appointment.status !== 'cancelled') r.appointment = { ...r.appointment, status: 'fulfilled' };
    r.encounterId = null;
    r.dropped.clear();
    tellStaffWhoWaits(r);
  }

  /**
   * The home shuts down with people in the call: each in-room participant's period ends now, with `visit.leave`
   * (reason: restart), in one transaction; the Encounter and the appointment stay as they are (in progress).
   */
  async function suspend(r: Room) {
    const now = deps.clock.now();
    // Each may come straight back, wherever the visit goes on, within the rejoin window (as after a drop): the same
    // statement a room opening at a new home runs, for those in the visit (their saved secrets have no window yet).
    await deps.appointments.startRejoinWindow(r.appointment.id, now + rejoinMs);
    const gone = inRoom(r).filter((p) => p.participantRow);
    if (!gone.length) return;
    await deps.audit.change(async (tx, log) => {
      for (const p of gone) await recordLeave(tx, log, r, p, now, 'server restarting');
    });
    for (const p of gone) p.participantRow = null;
  }

  async function chat(r: Room, p: Peer, text: unknown) {
    if (typeof text !== 'string' || !text.trim()) return p.socket.send({ type: 'error', message: 'chat text must be a non-empty string' });
    if (!r.appointment.threadId) {
      const threadId = await deps.messaging.ensureThread(
        r.appointment.patientId,
        `Video visit ${new Date(r.appointment.start).toISOString().slice(0, 10)}`,
        'system',
      );
      await deps.appointments.setThread(r.appointment.id, threadId);
      r.appointment = { ...r.appointment, threadId };
    }
    const sender = p.principal
      ? { kind: p.kind, name: p.name, ref: p.ref, userId: p.principal.userId }
      : { kind: 'guest' as const, name: `${p.name} (guest)`, ref: null, userId: null };
    const message = await deps.messaging.postAs(
      r.appointment.threadId!,
      r.appointment.patientId,
      sender,
      { text: text.slice(0, 2000), category: 'visit-chat' },
      p.principal ?? 'system',
    );
    broadcast(r, { type: 'chat', message });
  }

  return {
    /** A participant's socket connects (already authorised for this appointment): it starts in the lobby. */
    connect(
      appointment: Appointment,
      who: { kind: PeerKind; name: string; ref: string | null; principal: Principal | null; key?: string },
      socket: PeerSocket,
      rtc: (peerId: string) => VisitRtcConfiguration,
    ): ConnectedPeer {
      let r = rooms.get(appointment.id);
      // Shutting down: nothing new opens here; the client reconnects (to another instance, or this one restarted).
      if (closing) socket.close(RESTART_CODE, 'the server is restarting; reconnecting');
      if (!r) {
        r = { appointment, peers: new Map(), encounterId: null, queue: Promise.resolve(), dropped: new Map() };
        if (!closing) rooms.set(appointment.id, r);
        // Before any message of the room is handled (they queue behind it).
        r.queue = deps.appointments
          .startRejoinWindow(appointment.id, deps.clock.now() + rejoinMs)
          .catch((err) => log.error({ err }, 'starting the rejoin window failed'));
      } else r.appointment = { ...appointment, threadId: appointment.threadId ?? r.appointment.threadId };
      const room = r;
      const p: Peer = {
        id: randomBytes(6).toString('hex'),
        ...who,
        state: 'lobby',
        socket,
        media: { audio: true, video: appointment.mode === 'video' },
        participantRow: null,
        since: deps.clock.now(),
        rtc: () => rtc(p.id),
      };
      room.peers.set(p.id, p);
      // TURN credentials only on admission (found by review: anyone holding a guest link got a working relay
      // while still in the waiting room). Staff, who admit, get them at once.
      const lobbyRtc = p.rtc();
      socket.send({
        type: 'hello',
        you: publicPeer(p),
        mode: appointment.mode,
        rtc: p.kind === 'staff' ? lobbyRtc : { ...lobbyRtc, iceServers: lobbyRtc.iceServers.filter((s) => !s.credential) },
        inRoom: inRoom(room).map(publicPeer),
        waiting: p.kind === 'staff' ? waiting(room).map(publicPeer) : [],
      });

      const handle = async (msg: {
        type?: unknown;
        to?: unknown;
        data?: unknown;
        id?: unknown;
        text?: unknown;
        audio?: unknown;
        video?: unknown;
        rejoin?: unknown;
      }) => {
        switch (msg.type) {
          case 'join': {
            if (p.state !== 'lobby') return;
            // Back from a network change the server has not noticed yet: its old connection still counts as in
            // the visit. Same person (account or guest pass) and the secret of that connection's admission: it is
            // replaced (another device of the account, or another holder of the pass, has not got the secret).
            const ghost = p.key ? inRoom(room).find((x) => x !== p && x.key === p.key && sameSecret(msg.rejoin, x.rejoin)) : undefined;
            if (ghost) return replace(room, ghost, p);
            // The secret it came back with, if any, is spent by whichever admission follows: straight in below, staff
            // walking in, or admitted from the waiting room (found by review: those two left it behind).
            const used = p.key && typeof msg.rejoin === 'string' ? secretHash(msg.rejoin) : null;
            if (used) p.rejoinUsed = used;
            if (p.kind === 'staff') {
              if (inRoom(room).length >= deps.maxParticipants)
                return socket.send({ type: 'error', message: `the visit is full (${deps.maxParticipants} people)` });
              return enter(room, p);
            }
            // Back within REJOIN_MS of a dropped connection: straight in, as before the drop (no second admission).
            const back = used ? room.dropped.get(dropKey(p.key!, used)) : undefined;
            if (back && back.until > deps.clock.now() && inRoom(room).length < deps.maxParticipants) return enter(room, p);
            // This room's home restarted or died since the admission (its memory is gone): the saved secret, while the
            // visit is in progress and, after a drop, within the rejoin window.
            if (!back && used && inRoom(room).length < deps.maxParticipants) {
              const saved = await deps.appointments.rejoinOf(room.appointment.id, p.key!, used);
              if (saved && (saved.until === null || saved.until > deps.clock.now())) return enter(room, p);
            }
            p.state = 'waiting';
            socket.send({ type: 'waiting-room', message: 'Please wait: your care team has been told you are here and will let you in.' });
            tellStaffWhoWaits(room);
            return;
          }
          case 'admit': {
            if (p.kind !== 'staff') return socket.send({ type: 'error', message: 'only the care team can admit people' });
            const target = typeof msg.id === 'string' ? room.peers.get(msg.id) : undefined;
            if (!target || target.state !== 'waiting') return socket.send({ type: 'error', message: 'nobody with that id is waiting' });
            const needed = (p.state === 'in-room' ? 0 : 1) + 1;
            if (inRoom(room).length + needed > deps.maxParticipants)
              return socket.send({ type: 'error', message: `the visit is full (${deps.maxParticipants} people)` });
            if (p.state !== 'in-room') await enter(room, p); // admitting someone takes the clinician in too
            return enter(room, target, p);
          }
          case 'signal': {
            const to = typeof msg.to === 'string' ? room.peers.get(msg.to) : undefined;
            if (p.state !== 'in-room' || !to || to.state !== 'in-room')
              return socket.send({ type: 'error', message: 'signalling is only between people in the visit' });
            const data = VisitSignalData.safeParse(msg.data);
            if (!data.success) return socket.send({ type: 'error', message: 'signal data must be a session description or an ICE candidate' });
            return to.socket.send({ type: 'signal', from: p.id, data: data.data });
          }
          case 'media': {
            p.media = { audio: msg.audio !== false, video: msg.video !== false };
            return broadcast(room, { type: 'media', id: p.id, media: p.media }, p.id);
          }
          case 'chat':
            if (p.state !== 'in-room') return socket.send({ type: 'error', message: 'join the visit to chat' });
            return chat(room, p, msg.text);
          case 'leave':
            return depart(room, p);
          case 'ping':
            return socket.send({ type: 'pong' });
          default:
            return socket.send({ type: 'error', message: `unknown message type ${JSON.stringify(msg.type)}` });
        }
      };

      return Object.assign(p, {
        /** Messages are handled in arrival order, one at a time per room. */
        receive(raw: string) {
          let msg: Parameters<typeof handle>[0];
          try {
            msg = JSON.parse(raw);
          } catch {
            return socket.send({ type: 'error', message: 'messages must be JSON' });
          }
          room.queue = room.queue
            .then(() => handle(msg))
            .catch((err) => {
              log.error({ err }, 'visit message failed');
              socket.send({ type: 'error', message: 'that did not work; please try again' });
            });
        },
        disconnect(dropped = false) {
          room.queue = room.queue
            .then(async () => {
              try {
                // Shutting down: `close` records the room as suspended, not as people leaving (the visit goes on).
                if (!closing) await depart(room, p, dropped);
              } finally {
                // Gone either way: a departure the audit could not record leaves no ghost in the room.
                room.peers.delete(p.id);
                // A held room stays (its home keeps the visit) until someone comes back or the hold runs out.
                if (room.peers.size === 0 && !room.held && rooms.get(appointment.id) === room) rooms.delete(appointment.id);
              }
            })
            .catch((err) => log.error({ err }, 'visit disconnect failed'));
        },
      });
    },

    /** Whether this instance hosts the visit's room right now. */
    hosts: (appointmentId: string) => rooms.has(appointmentId),

    /** The visits whose rooms live here. */
    ids: () => [...rooms.keys()],

    /** Sends everyone out of a visit (cancelled while people were in it): their sockets close with `code`. */
    end(appointmentId: string, code: number, reason: string) {
      const r = rooms.get(appointmentId);
      if (!r) return;
      for (const p of r.peers.values()) p.socket.close(code, reason);
      // Held for people who will not be let back in (the signalling route refuses a cancelled visit): ended now.
      if (r.held) expire(r);
    },

    /** The visits hosted here with someone in their waiting room (the staff banner's list after a reload). */
    waitingNow(): WaitingVisit[] {
      return [...rooms.values()]
        .map((r) => ({ r, list: waiting(r) }))
        .filter(({ list }) => list.length > 0)
        .map(({ r, list }) => ({
          appointmentId: r.appointment.id,
          patientId: r.appointment.patientId,
          waiting: list.length,
          kinds: [...new Set(list.map((p) => p.kind))],
        }));
    },

    /** People in each visit right now (for the dashboard and tests). */
    status(appointmentId: string): RoomStatus {
      const r = rooms.get(appointmentId);
      return r ? { inRoom: inRoom(r).map(publicPeer), waiting: waiting(r).map(publicPeer) } : { inRoom: [], waiting: [] };
    },

    /**
     * A graceful shutdown (SIGTERM, a deploy) is not the end of anyone's visit (found by review: the visit ended and
     * the appointment was fulfilled as the sockets closed). Everyone is told to reconnect (1012), their participant
     * periods end now (the record says when they were together), and the Encounter stays in progress: they come
     * back on another instance or the restarted one (staff walk in, and let the others in), and if nobody does
     * within the rejoin window the orphan sweep (visit-cluster.ts) ends it at this moment, as for a dead home.
     */
    close() {
      closing ??= (async () => {
        const all = [...rooms.values()];
        rooms.clear();
        for (const r of all) {
          release(r);
          for (const p of r.peers.values()) p.socket.close(RESTART_CODE, 'the server is restarting; reconnecting');
        }
        await Promise.all(all.map((r) => (r.queue = r.queue.then(() => suspend(r)).catch((err) => log.error({ err }, 'recording a suspended visit failed')))));
      })();
      return closing;
    },
  };
}

export type VisitRooms = ReturnType<typeof createVisitRooms>;
