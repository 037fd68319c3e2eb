import { randomBytes } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { PatientCipher } from '../platform/encryption/index.ts';
import type { Principal } from '../domain/types.ts';
import type { Appointment, AppointmentsRepository } from '../appointments/appointments.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { ConnectedPeer, PeerKind, PeerSocket, RoomStatus, VisitRooms, WaitingVisit } from './visit-rooms.ts';
import type { VisitRtcConfiguration, VisitServerMessage } from '../api/contracts/visit-signalling.ts';

export const VISIT_CHANNEL = 'vigil_visits';
const HEARTBEAT_MS = 5_000;
const STALE_S = 15;

type Who = { kind: PeerKind; name: string; ref: string | null; principal: Principal | null; key?: string };
type Mail =
  | { t: 'open'; conn: string; from: string; appointment: Appointment; who: Who }
  | { t: 'msg'; conn: string; raw: string }
  | { t: 'close'; conn: string; dropped?: boolean }
  | { t: 'send'; conn: string; m: VisitServerMessage }
  | { t: 'kick'; conn: string; code: number; reason: string };

export interface VisitConnection {
  receive(raw: string): void;
  disconnect(dropped?: boolean): void;
}

/**
 * Visits across several instances on one PostgreSQL (README → scaling). The room logic (visit-rooms.ts)
 * runs on one instance per visit, its home, claimed in `visit_room_homes` by the first participant to
 * connect and kept by a heartbeat; a home silent for 15 s is taken over by the next connection. A participant
 * whose WebSocket lands elsewhere is relayed: their messages go to the home and the home's messages come
 * back as rows in `visit_mail`, sealed with the patient's key (SDP, ICE and in-call chat never sit in the
 * database or the notification queue in plaintext), announced by `NOTIFY vigil_visits, '<instance>'`, and
 * read in id order, so each connection's messages keep their order. On PGlite (one process) and without
 * LISTEN support everything is local.
 */
export function createVisitCluster(deps: {
  db: Db;
  rooms: VisitRooms;
  cipher: PatientCipher;
  instanceId: string;
  logger: Logger;
  rtc: (peerId: string) => VisitRtcConfiguration;
  /** For ending visits whose home is gone (`endOrphans`). */
  appointments: AppointmentsRepository;
  audit: AuditService;
  clock: Clock;
  /** How long a room emptied by lost connections is held (visit-rooms.ts); an orphan waits as long. */
  rejoinMs: number;
}) {
  const me = deps.instanceId;
  const log = deps.logger.child({ module: 'visit-cluster', instance: me });
  const enabled = typeof deps.db.listen === 'function';
  /** Relayed participants hosted here: connection id → the room's peer and the instance relaying it. */
  const hosted = new Map<string, ConnectedPeer & { patientId: string; from: string }>();
  /** Relaying instances found gone at the last heartbeat (gone twice in a row: their participants leave). */
  let missing = new Set<string>();
  /** Participants connected here whose room is elsewhere: connection id → their socket and home. */
  const away = new Map<string, { socket: PeerSocket; home: string; appointmentId: string; patientId: string }>();
  let unlisten: (() => Promise<void>) | null = null;
  let inbound: Promise<void> = Promise.resolve();
  let outbound: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;

  /** Queues one mail (in order) to an instance; the payload is sealed for the visit's patient. */
  function post(to: string, patientId: string, mail: Mail) {
    outbound = outbound
      .then(async () => {
        const sealed = await deps.cipher.seal(patientId, Buffer.from(JSON.stringify(mail)), 'visit-mail');
        await deps.db.query('INSERT INTO visit_mail (to_instance, patient_id, payload) VALUES ($1, $2, $3)', [to, patientId, sealed]);
        await deps.db.query('SELECT pg_notify($1, $2)', [VISIT_CHANNEL, to]);
      })
      .catch((err: Error) => log.error({ err: err.message }, 'visit mail not sent'));
  }

  /** Reads this instance's mail in id order and acts on it. */
  function drain() {
    inbound = inbound
      .then(async () => {
        for (;;) {
          const rows = await deps.db.query<{ patient_id: string; payload: Uint8Array }>(
            `DELETE FROM visit_mail WHERE id IN (SELECT id FROM visit_mail WHERE to_instance = $1 ORDER BY id LIMIT 200) RETURNING id, patient_id, payload`,
            [me],
          );
          if (!rows.length) return;
          const sorted = (rows as Array<{ id: string | number; patient_id: string; payload: Uint8Array }>).sort((a, b) => Number(a.id) - Number(b.id));
          for (const r of sorted) handle(JSON.parse((await deps.cipher.open(r.patient_id, r.payload, 'visit-mail')).toString('utf8')) as Mail);
        }
      })
      .catch((err: Error) => log.error({ err: err.message }, 'visit mail not read'));
  }

  function handle(m: Mail) {
    switch (m.t) {
      case 'open': {
        const from = m.from;
        const patientId = m.appointment.patientId;
        const socket: PeerSocket = {
          send: (msg) => post(from, patientId, { t: 'send', conn: m.conn, m: msg }),
          close: (code, reason) => post(from, patientId, { t: 'kick', conn: m.conn, code, reason }),
        };
        hosted.set(m.conn, { ...deps.rooms.connect(m.appointment, m.who, socket, deps.rtc), patientId, from });
        return;
      }
      case 'msg':
        return hosted.get(m.conn)?.receive(m.raw);
      case 'close':
        hosted.get(m.conn)?.disconnect(m.dropped);
        hosted.delete(m.conn);
        return;
      case 'send':
        return away.get(m.conn)?.socket.send(m.m);
      case 'kick': {
        const a = away.get(m.conn);
        if (!a) return;
        away.delete(m.conn);
        a.socket.close(m.code, m.reason);
        // The home sent them away (a cancelled visit): it still hosts their peer until told the socket is gone
        // (found by review: nothing told it, so they stayed in the room for good).
        return post(a.home, a.patientId, { t: 'close', conn: m.conn });
      }
    }
  }

  /** This instance hosts the visit unless another live instance already does. */
  async function homeOf(appointmentId: string): Promise<string> {
    const [r] = await deps.db.query<{ instance_id: string }>(
      `INSERT INTO visit_room_homes (appointment_id, instance_id, heartbeat_at) VALUES ($1, $2, now())
       ON CONFLICT (appointment_id) DO UPDATE SET instance_id = EXCLUDED.instance_id, heartbeat_at = now()
         WHERE visit_room_homes.instance_id = EXCLUDED.instance_id OR visit_room_homes.heartbeat_at < now() - make_interval(secs => ${STALE_S})
       RETURNING instance_id`,
      [appointmentId, me],
    );
    if (r) return r.instance_id;
    const [h] = await deps.db.query<{ instance_id: string }>('SELECT instance_id FROM visit_room_homes WHERE appointment_id = $1', [appointmentId]);
    return h?.instance_id ?? me;
  }

  /**
   * Participants relayed by an instance that died (kill -9: no 'close' mail) would stay "in the room" for good,
   * and the Encounter never finish (found by review). An instance is alive while its ownership session is
   * connected (cluster/ownership.ts names it `vigil-owner-<id>`); one gone at two heartbeats in a row (a
   * reconnecting session is back within one) has its participants leave, recorded as any departure.
   */
  async function releaseDeadRelays() {
    const froms = [...new Set([...hosted.values()].map((h) => h.from))];
    if (!froms.length) return void (missing = new Set());
    const session = (id: string) => `vigil-owner-${id}`.slice(0, 63); // PostgreSQL keeps 63 bytes of application_name
    const rows = await deps.db.query<{ application_name: string }>(
      'SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name = ANY($1)',
      [froms.map(session)],
    );
    const gone = new Set(froms.filter((f) => !rows.some((r) => r.application_name === session(f))));
    for (const [conn, h] of hosted) {
      if (!gone.has(h.from) || !missing.has(h.from)) continue;
      log.warn({ relay: h.from }, 'the instance relaying a visit participant is gone; they leave the room');
      hosted.delete(conn);
      // Should the relay be alive after all (its session was only away), its participant is told to reconnect.
      h.socket.close(1012, 'the visit moved to another server; reconnecting');
      h.disconnect(true);
    }
    missing = gone;
  }

  /**
   * A visit cancelled while people are in it ends for them (found by review: the call went on, and the room
   * stayed open to new joiners): checked here at every heartbeat, on one instance and on several.
   */
  async function endCancelled() {
    const ids = deps.rooms.ids();
    if (!ids.length) return;
    const rows = await deps.db.query<{ id: string }>(`SELECT id FROM appointments WHERE id = ANY($1) AND status = 'cancelled'`, [ids]);
    for (const r of rows) deps.rooms.end(r.id, 4409, 'this visit was cancelled');
  }

  /**
   * A visit whose room is gone with nobody back is ended here (found by review: a home killed while it held a
   * room emptied by lost connections, or with people in it who never reconnected, left the Encounter in progress
   * and the appointment unfulfilled for good). A visit is orphaned when no instance hosts it (no home row with a
   * heartbeat within 15 s; on PGlite, not in this process's rooms: it restarted) and nothing happened in it for
   * the rejoin window, so whoever reconnects within that window still finds the visit going on. The Encounter ends
   * at its last sign of life (`orphanEncounters`). Any instance may do it; the guarded update lets one succeed.
   */
  async function endOrphans() {
    const orphans = await deps.appointments.orphanEncounters(deps.rooms.ids(), STALE_S, deps.clock.now() - deps.rejoinMs);
    for (const o of orphans) {
      await deps.audit.change(async (tx, record) => {
        if (!(await deps.appointments.finishOrphan(o.id, o.endAt, STALE_S, tx))) return;
        await deps.appointments.fulfil(o.appointmentId, tx);
        record({
          actor: 'system',
          action: 'visit.end',
          entityType: 'Encounter',
          entityId: o.id,
          patientId: o.patientId,
          details: { appointmentId: o.appointmentId, reason: 'its room was lost and nobody came back' },
        });
      });
      log.warn({ appointmentId: o.appointmentId }, 'a visit left in progress without a room was ended');
    }
  }

  async function beat() {
    // Its own failure must not stop the heartbeat (another instance would take the visit over).
    await endCancelled().catch((err: Error) => log.warn({ err: err.message }, 'cancelled-visit check failed'));
    await endOrphans().catch((err: Error) => log.warn({ err: err.message }, 'orphaned-visit check failed'));
    if (!enabled) return;
    // Only the rooms that live here are kept; a row for a visit whose room has emptied goes after 30 s (a row
    // just claimed for a room about to open is younger than that). Found by review: rows were kept for good.
    const ids = deps.rooms.ids();
    await deps.db.query('UPDATE visit_room_homes SET heartbeat_at = now() WHERE instance_id = $1 AND appointment_id = ANY($2)', [me, ids]);
    await deps.db.query(
      `DELETE FROM visit_room_homes WHERE (instance_id = $1 AND NOT (appointment_id = ANY($2)) AND heartbeat_at < now() - interval '30 seconds')
          OR heartbeat_at < now() - interval '1 hour'`,
      [me, ids],
    );
    await releaseDeadRelays();
    // Mail for an instance that died unread: nobody will read it.
    await deps.db.query(`DELETE FROM visit_mail WHERE created_at < now() - interval '2 minutes'`);
    // Participants relayed to a home that stopped beating reconnect (and the next connection takes the visit over).
    const homes = [...new Set([...away.values()].map((a) => a.appointmentId))];
    if (!homes.length) return;
    const live = await deps.db.query<{ appointment_id: string; instance_id: string }>(
      `SELECT appointment_id, instance_id FROM visit_room_homes WHERE appointment_id = ANY($1) AND heartbeat_at >= now() - make_interval(secs => ${STALE_S})`,
      [homes],
    );
    for (const [conn, a] of away) {
      if (!live.some((l) => l.appointment_id === a.appointmentId && l.instance_id === a.home)) {
        away.delete(conn);
        a.socket.close(1012, 'the visit moved to another server; reconnecting');
      }
    }
  }

  return {
    enabled,

    /** The home records who is in and who waits (sealed), for requests that reach another instance. */
    publish(appointment: Appointment, status: RoomStatus) {
      if (!enabled) return;
      outbound = outbound
        .then(async () => {
          const sealed = await deps.cipher.seal(appointment.patientId, Buffer.from(JSON.stringify(status)), 'visit-presence');
          await deps.db.query('UPDATE visit_room_homes SET presence = $3 WHERE appointment_id = $1 AND instance_id = $2', [appointment.id, me, sealed]);
        })
        .catch((err: Error) => log.warn({ err: err.message }, 'visit presence not recorded'));
    },

    /** Who is in the visit and who waits: from the room here, or as its live home last recorded it. */
    async status(appointmentId: string, patientId: string): Promise<RoomStatus> {
      if (!enabled || deps.rooms.hosts(appointmentId)) return deps.rooms.status(appointmentId);
      const [r] = await deps.db.query<{ presence: Uint8Array | null }>(
        `SELECT presence FROM visit_room_homes WHERE appointment_id = $1 AND heartbeat_at >= now() - make_interval(secs => ${STALE_S})`,
        [appointmentId],
      );
      if (!r?.presence) return { inRoom: [], waiting: [] };
      return JSON.parse((await deps.cipher.open(patientId, r.presence, 'visit-presence')).toString('utf8')) as RoomStatus;
    },

    /**
     * The visits with someone waiting now, on every instance, for the patients in `patientIds` (null: all): the
     * rooms hosted here from memory, the others as their live homes last recorded them (`presence`, sealed,
     * written after every change; a home silent for 15 s counts as gone). Waiting state lives only in the home's
     * memory, and every home already records it for `status`, so no instance is asked anything.
     */
    async waiting(patientIds: string[] | null): Promise<WaitingVisit[]> {
      const seen = (id: string) => patientIds === null || patientIds.includes(id);
      const here = deps.rooms.waitingNow().filter((w) => seen(w.patientId));
      if (!enabled || (patientIds !== null && !patientIds.length)) return here;
      const rows = await deps.db.query<{ appointment_id: string; patient_id: string; presence: Uint8Array }>(
        `SELECT h.appointment_id, a.patient_id, h.presence FROM visit_room_homes h JOIN appointments a ON a.id = h.appointment_id
          WHERE h.presence IS NOT NULL AND h.heartbeat_at >= now() - make_interval(secs => ${STALE_S})
            AND NOT (h.appointment_id = ANY($1)) AND ($2::text[] IS NULL OR a.patient_id = ANY($2))`,
        [deps.rooms.ids(), patientIds],
      );
      const elsewhere: WaitingVisit[] = [];
      for (const r of rows) {
        const status = JSON.parse((await deps.cipher.open(r.patient_id, r.presence, 'visit-presence')).toString('utf8')) as RoomStatus;
        if (status.waiting.length)
          elsewhere.push({
            appointmentId: r.appointment_id,
            patientId: r.patient_id,
            waiting: status.waiting.length,
            kinds: [...new Set(status.waiting.map((p) => p.kind as PeerKind))],
          });
      }
      return [...here, ...elsewhere];
    },

    async start() {
      if (!enabled) {
        timer = setInterval(() => void beat().catch((err: Error) => log.warn({ err: err.message }, 'visit check failed')), HEARTBEAT_MS);
        timer.unref();
        return;
      }
      unlisten = await deps.db.listen!(VISIT_CHANNEL, (payload) => {
        if (payload === me || payload === '') drain();
      });
      drain();
      timer = setInterval(() => void beat().catch((err: Error) => log.warn({ err: err.message }, 'visit heartbeat failed')), HEARTBEAT_MS);
      timer.unref();
    },

    /** Connects an authorised participant to the visit, here or at its home. */
    async connect(appointment: Appointment, who: Who, socket: PeerSocket): Promise<VisitConnection> {
      const home = enabled ? await homeOf(appointment.id) : me;
      if (home === me) return deps.rooms.connect(appointment, who, socket, deps.rtc);
      const conn = randomBytes(9).toString('base64url');
      const patientId = appointment.patientId;
      away.set(conn, { socket, home, appointmentId: appointment.id, patientId });
      post(home, patientId, { t: 'open', conn, from: me, appointment, who });
      return {
        receive: (raw) => post(home, patientId, { t: 'msg', conn, raw }),
        disconnect: (dropped?: boolean) => {
          if (away.delete(conn)) post(home, patientId, { t: 'close', conn, dropped });
        },
      };
    },

    async close() {
      if (timer) clearInterval(timer);
      // This relay shutting down is a lost connection for its participants, not a goodbye: they reconnect.
      for (const [conn, a] of away) post(a.home, a.patientId, { t: 'close', conn, dropped: true });
      away.clear();
      await outbound;
      await unlisten?.();
      await inbound;
      if (enabled) await deps.db.query('DELETE FROM visit_room_homes WHERE instance_id = $1', [me]).catch(() => undefined);
    },
  };
}

export type VisitCluster = ReturnType<typeof createVisitCluster>;
