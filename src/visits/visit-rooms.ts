import { randomBytes } from 'node:crypto';
import type { Appointment, AppointmentsRepository } from '../appointments/appointments.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
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

/** How long a participant whose connection dropped may come back into the room without waiting again. */
export const REJOIN_MS = 120_000;

export interface Peer {
  id: string;
  kind: PeerKind;
  name: string;
  /** Who this is across connections (`user:<id>`, or `guest:<pass hash>`), to let a dropped participant back in. */
  key?: string;
  /** Given with admission: only the connection that was admitted can come back with it after a drop. */
  rejoin?: string;
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
   * Participants whose connection dropped while in the room: key → until when they may walk back in, with the
   * secret their admission gave them (another device of the account, or another holder of a guest pass, has not
   * got it; found by review).
   */
  dropped: Map<string, { until: number; secret: string }>;
}

/** `dropped`: the connection was lost (not a Leave, a closed tab or a server sending them away), see REJOIN_MS. */
export type ConnectedPeer = Peer & { receive(raw: string): void; disconnect(dropped?: boolean): void };

const publicPeer = (p: Peer) => ({ id: p.id, kind: p.kind, name: p.name, state: p.state, media: p.media });

export type RoomStatus = { inRoom: ReturnType<typeof publicPeer>[]; waiting: ReturnType<typeof publicPeer>[] };

export function createVisitRooms(deps: {
  appointments: AppointmentsRepository;
  messaging: MessagingService;
  audit: AuditService;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  maxParticipants: number;
  /** Who is in the room and who waits, after every change (visit-cluster.ts shares it with other instances). */
  onChange?: (appointment: Appointment, status: RoomStatus) => void;
}) {
  const rooms = new Map<string, Room>();
  const log = deps.logger.child({ module: 'visits' });

  const inRoom = (r: Room) => [...r.peers.values()].filter((p) => p.state === 'in-room');
  const waiting = (r: Room) => [...r.peers.values()].filter((p) => p.state === 'waiting');
  const staff = (r: Room) => [...r.peers.values()].filter((p) => p.kind === 'staff');
  const auditActor = (p: Peer) => p.principal ?? ('system' as const);

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
    const done = await deps.audit.change(async (tx, log) => {
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
    for (const [x, row] of done.rows) x.participantRow = row;
    p.state = 'in-room';
    p.since = now;
    // The newcomer makes the offers (one per peer already in the room), so two sides never offer at once.
    p.rejoin = randomBytes(16).toString('base64url');
    p.socket.send({ type: 'admitted', peers: others.map(publicPeer), rtc: p.rtc(), rejoin: p.rejoin });
    broadcast(r, { type: 'peer-joined', peer: publicPeer(p) }, p.id);
    tellStaffWhoWaits(r);
  }

  /**
   * A peer leaves: its participant row's end, `visit.leave` and, when the room empties, the Encounter's end, the
   * appointment's status and `visit.end` commit in one transaction ((d)(2)).
   */
  async function depart(r: Room, p: Peer, droppedConnection = false) {
    // A dropped connection (Wi-Fi, a restart) is not a goodbye: the same person may come straight back in.
    if (droppedConnection && p.state === 'in-room' && p.key && p.rejoin) r.dropped.set(p.key, { until: deps.clock.now() + REJOIN_MS, secret: p.rejoin });
    if (p.state === 'in-room') {
      const last = inRoom(r).length === 1 && r.encounterId ? r.encounterId : null;
      const now = deps.clock.now();
      await deps.audit.change(async (tx, log) => {
        if (p.participantRow) await deps.appointments.participantLeft(p.participantRow, now, tx);
        log({
          actor: auditActor(p),
          action: 'visit.leave',
          entityType: 'Appointment',
          entityId: r.appointment.id,
          patientId: r.appointment.patientId,
          details: { kind: p.kind },
        });
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
    } else p.state = 'lobby';
    tellStaffWhoWaits(r);
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
      if (!r) rooms.set(appointment.id, (r = { appointment, peers: new Map(), encounterId: null, queue: Promise.resolve(), dropped: new Map() }));
      else r.appointment = { ...appointment, threadId: appointment.threadId ?? r.appointment.threadId };
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
            if (p.kind === 'staff') {
              if (inRoom(room).length >= deps.maxParticipants)
                return socket.send({ type: 'error', message: `the visit is full (${deps.maxParticipants} people)` });
              return enter(room, p);
            }
            // Back within REJOIN_MS of a dropped connection: straight in, as before the drop (no second admission).
            const back = p.key ? room.dropped.get(p.key) : undefined;
            if (back && back.until > deps.clock.now() && msg.rejoin === back.secret && inRoom(room).length < deps.maxParticipants) {
              room.dropped.delete(p.key!);
              return enter(room, p);
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
                await depart(room, p, dropped);
              } finally {
                // Gone either way: a departure the audit could not record leaves no ghost in the room.
                room.peers.delete(p.id);
                if (room.peers.size === 0) rooms.delete(appointment.id);
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
      for (const p of rooms.get(appointmentId)?.peers.values() ?? []) p.socket.close(code, reason);
    },

    /** People in each visit right now (for the dashboard and tests). */
    status(appointmentId: string): RoomStatus {
      const r = rooms.get(appointmentId);
      return r ? { inRoom: inRoom(r).map(publicPeer), waiting: waiting(r).map(publicPeer) } : { inRoom: [], waiting: [] };
    },

    close() {
      for (const r of rooms.values()) for (const p of r.peers.values()) p.socket.close(1001, 'server shutting down');
      rooms.clear();
    },
  };
}

export type VisitRooms = ReturnType<typeof createVisitRooms>;
