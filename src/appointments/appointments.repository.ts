import type { Db, Queryable } from '../platform/db.ts';
import { sealedTextColumn, type PatientCipherAdmin } from '../platform/encryption/index.ts';

/** SQL for appointments, clinician availability, encounters and their participants. */

export type AppointmentStatus = 'proposed' | 'booked' | 'arrived' | 'fulfilled' | 'cancelled' | 'noshow';

export interface Appointment {
  id: string;
  patientId: string;
  patientName: string;
  practitionerId: string | null;
  practitionerName: string | null;
  status: AppointmentStatus;
  mode: 'video' | 'audio';
  start: number;
  end: number;
  description: string | null;
  threadId: string | null;
  createdBy: string;
  createdAt: number;
  /** Bumped on every change by a trigger (migrations 038, 039: not by the reminder mark); the FHIR meta.versionId and lastUpdated. */
  version: number;
  updatedAt: number;
  cancelReason: string | null;
}

export interface Availability {
  id: string;
  practitionerId: string;
  practitionerName: string;
  start: number;
  end: number;
  slotMinutes: number;
  /** When the block was opened (blocks are never edited). */
  createdAt: number;
  /** The practitioner's name changed or any of its blocks (in this window or not) opened: a Schedule's meta. */
  practitionerUpdatedAt: number;
}

export interface Encounter {
  id: string;
  appointmentId: string | null;
  patientId: string;
  status: 'in-progress' | 'finished';
  start: number;
  end: number | null;
  participants: Array<{ kind: 'patient' | 'staff' | 'guest'; ref: string | null; display: string; joinedAt: number; leftAt: number | null }>;
}

/** A visit is over (its Encounter $1 finished): nobody comes back into it with an admission's secret (migration 042). */
const FORGET_REJOINS_OF_ENCOUNTER = 'DELETE FROM visit_rejoin WHERE appointment_id = (SELECT appointment_id FROM encounters WHERE id = $1)';
const ms = (d: Date | string | null) => (d === null ? null : new Date(d).getTime());
const iso = (t: number) => new Date(t).toISOString();

type ApptRow = {
  id: string;
  patient_id: string;
  patient_name: string;
  practitioner_id: string | null;
  practitioner_name: string | null;
  status: AppointmentStatus;
  mode: 'video' | 'audio';
  start_at: Date;
  end_at: Date;
  description: string | null;
  thread_id: string | null;
  created_by: string;
  created_at: Date;
  version: number;
  updated_at: Date | null;
  cancel_reason: string | null;
};
const toAppt = (r: ApptRow): Appointment => ({
  id: r.id,
  patientId: r.patient_id,
  patientName: r.patient_name,
  practitionerId: r.practitioner_id,
  practitionerName: r.practitioner_name,
  status: r.status,
  mode: r.mode,
  start: ms(r.start_at)!,
  end: ms(r.end_at)!,
  description: r.description,
  threadId: r.thread_id,
  createdBy: r.created_by,
  createdAt: ms(r.created_at)!,
  version: Number(r.version ?? 1),
  updatedAt: ms(r.updated_at ?? r.created_at)!,
  cancelReason: r.cancel_reason,
});
const SELECT_APPT = `SELECT a.*, p.name AS patient_name, pr.name AS practitioner_name FROM appointments a JOIN patients p ON p.id = a.patient_id LEFT JOIN practitioners pr ON pr.id = a.practitioner_id`;

export type NewAppointmentRow = Omit<Appointment, 'patientName' | 'practitionerName' | 'createdAt' | 'cancelReason' | 'version' | 'updatedAt'>;
/** A row whose description is sealed (`sealed()`): what `insert` takes. */
export type SealedAppointmentRow = NewAppointmentRow & { sealed: true };

/** The appointment's description (what the patient wrote when booking) is sealed with the patient's key. */
export function createAppointmentsRepository(db: Db, cipher: Pick<PatientCipherAdmin, 'sealText' | 'openText'>) {
  const descriptions = sealedTextColumn(cipher, 'appointment.description');
  const reasons = sealedTextColumn(cipher, 'appointment.cancelReason');
  const opened = (rows: ApptRow[]): Promise<Appointment[]> =>
    Promise.all(
      rows.map(async (r) => ({
        ...toAppt(r),
        description: await descriptions.open(r.patient_id, r.description, r.id),
        cancelReason: await reasons.open(r.patient_id, r.cancel_reason, r.id),
      })),
    );
  return {
    /**
     * The row to insert, its description sealed. Call it before the transaction that inserts: sealing may read
     * or create the patient's key with `db`, which on PGlite would wait behind that very transaction.
     */
    async sealed(a: NewAppointmentRow): Promise<SealedAppointmentRow> {
      return { ...a, description: await descriptions.seal(a.patientId, a.description, a.id), sealed: true };
    },

    async insert(a: SealedAppointmentRow, q: Queryable = db): Promise<void> {
      await q.query(
        `INSERT INTO appointments (id, patient_id, practitioner_id, status, mode, start_at, end_at, description, thread_id, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [a.id, a.patientId, a.practitionerId, a.status, a.mode, iso(a.start), iso(a.end), a.description, a.threadId, a.createdBy],
      );
    },

    /** Appointments by id, in the order given (FHIR search pages). */
    async byIds(ids: string[]): Promise<Appointment[]> {
      if (!ids.length) return [];
      const byId = new Map((await opened(await db.query<ApptRow>(`${SELECT_APPT} WHERE a.id = ANY($1)`, [ids]))).map((a) => [a.id, a]));
      return ids.map((id) => byId.get(id)).filter((a): a is Appointment => !!a);
    },

    async byId(id: string, q: Queryable = db): Promise<Appointment | null> {
      const [r] = await q.query<ApptRow>(`${SELECT_APPT} WHERE a.id = $1`, [id]);
      return r ? (await opened([r]))[0] : null;
    },

    async list(q: {
      patientIds: string[] | null;
      practitionerId?: string;
      from?: number;
      to?: number;
      statuses?: string[];
      limit?: number;
      offset?: number;
    }): Promise<{ total: number; rows: Appointment[] }> {
      const params = [
        q.patientIds,
        q.practitionerId ?? null,
        q.from !== undefined ? iso(q.from) : null,
        q.to !== undefined ? iso(q.to) : null,
        q.statuses ?? null,
      ];
      const where = `($1::text[] IS NULL OR a.patient_id = ANY($1)) AND ($2::text IS NULL OR a.practitioner_id = $2) AND ($3::timestamptz IS NULL OR a.end_at > $3) AND ($4::timestamptz IS NULL OR a.start_at < $4) AND ($5::text[] IS NULL OR a.status = ANY($5))`;
      const [c] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM appointments a WHERE ${where}`, params);
      const rows = await db.query<ApptRow>(`${SELECT_APPT} WHERE ${where} ORDER BY a.start_at, a.id LIMIT $6 OFFSET $7`, [
        ...params,
        q.limit ?? 200,
        q.offset ?? 0,
      ]);
      return { total: Number(c?.n ?? 0), rows: await opened(rows) };
    },

    /** Booked appointments of this practitioner overlapping [start, end), for double-booking checks. */
    async overlapping(practitionerId: string, start: number, end: number, exceptId?: string, q: Queryable = db): Promise<Appointment[]> {
      const rows = await q.query<ApptRow>(
        `${SELECT_APPT} WHERE a.practitioner_id = $1 AND a.status IN ('booked', 'arrived') AND a.start_at < $3 AND a.end_at > $2 AND a.id IS DISTINCT FROM $4`,
        [practitionerId, iso(start), iso(end), exceptId ?? null],
      );
      // Times only (a conflict check, inside the booking's transaction): the description is not opened here.
      return rows.map((r) => ({ ...toAppt(r), description: null, cancelReason: null }));
    },

    /** A cancel reason sealed for `setStatus` (before its transaction, as `sealed`): the patient's words too. */
    sealReason: (patientId: string, appointmentId: string, reason: string | null) => reasons.seal(patientId, reason, appointmentId),

    /** `cancelReason` as `sealReason` made it. */
    async setStatus(id: string, status: AppointmentStatus, cancelReason?: string | null, q: Queryable = db): Promise<void> {
      await q.query('UPDATE appointments SET status = $2, cancel_reason = COALESCE($3, cancel_reason) WHERE id = $1', [id, status, cancelReason ?? null]);
    },

    /** The visit took place: only from booked or arrived, so a cancellation made during the call stays (found by review). */
    async fulfil(id: string, q: Queryable = db): Promise<void> {
      await q.query(`UPDATE appointments SET status = 'fulfilled' WHERE id = $1 AND status IN ('booked', 'arrived')`, [id]);
    },

    /**
     * One change as one statement, so that it is one version (the trigger of migrations 038/039 counts
     * statements): new times (the reminder mark cleared: the moved visit is reminded again), a status with its
     * sealed reason (`sealReason`), a new sealed description (`sealDescription`; null clears it). With
     * `expectVersion`, only while the row is still at that version (FHIR If-Match): false when it is not.
     */
    async change(
      id: string,
      c: { start?: number; end?: number; status?: AppointmentStatus; cancelReason?: string | null; description?: { sealed: string | null } },
      q: Queryable = db,
      expectVersion?: number,
    ): Promise<boolean> {
      const rows = await q.query<{ id: string }>(
        `UPDATE appointments SET start_at = COALESCE($2::timestamptz, start_at), end_at = COALESCE($3::timestamptz, end_at),
           reminder_sent_at = CASE WHEN $2::timestamptz IS NULL THEN reminder_sent_at ELSE NULL END,
           status = COALESCE($4::text, status), cancel_reason = COALESCE($5::text, cancel_reason),
           description = CASE WHEN $6::boolean THEN $7::text ELSE description END
         WHERE id = $1 AND ($8::integer IS NULL OR version = $8::integer) RETURNING id`,
        [
          id,
          c.start === undefined ? null : iso(c.start),
          c.end === undefined ? null : iso(c.end),
          c.status ?? null,
          c.cancelReason ?? null,
          c.description !== undefined,
          c.description?.sealed ?? null,
          expectVersion ?? null,
        ],
      );
      return rows.length > 0;
    },

    /** A description sealed for `change` (before its transaction, as `sealed`). */
    sealDescription: (patientId: string, appointmentId: string, text: string | null) => descriptions.seal(patientId, text, appointmentId),

    /**
     * Names the user whose change this transaction makes, for the version the trigger captures (its provenance,
     * `fhir_versions.actor_user_id`). Transaction-local; a change made without it (the visit room) has none.
     */
    async actingAs(tx: Queryable, userId: string): Promise<void> {
      await tx.query("SELECT set_config('vigil.actor', $1, true)", [userId]);
    },

    /**
     * Versions the trigger captured (migration 039) and not yet sealed into `fhir_versions`, oldest first,
     * opened: the appointment as it was at each (with today's patient and practitioner names).
     */
    async pendingVersions(id: string): Promise<Array<{ appointment: Appointment; method: 'POST' | 'PUT' | 'SNAPSHOT'; actorUserId: string | null }>> {
      const rows = await db.query<{
        method: 'POST' | 'PUT' | 'SNAPSHOT';
        actor_user_id: string | null;
        body: ApptRow;
        patient_name: string;
        practitioner_name: string | null;
      }>(
        `SELECT v.method, v.actor_user_id, v.body, p.name AS patient_name, pr.name AS practitioner_name FROM appointment_versions_pending v
         JOIN patients p ON p.id = v.body->>'patient_id' LEFT JOIN practitioners pr ON pr.id = v.body->>'practitioner_id'
         WHERE v.appointment_id = $1 ORDER BY v.version`,
        [id],
      );
      const apps = await opened(rows.map((r) => ({ ...r.body, patient_name: r.patient_name, practitioner_name: r.practitioner_name })));
      return rows.map((r, i) => ({ appointment: apps[i], method: r.method, actorUserId: r.actor_user_id }));
    },

    /** A captured version is now in `fhir_versions`. */
    async versionStored(id: string, version: number): Promise<void> {
      await db.query('DELETE FROM appointment_versions_pending WHERE appointment_id = $1 AND version = $2', [id, version]);
    },

    async setThread(id: string, threadId: string, q: Queryable = db): Promise<void> {
      await q.query('UPDATE appointments SET thread_id = $2 WHERE id = $1', [id, threadId]);
    },

    /** Booked appointments starting within the window whose reminder has not gone; marks them as reminded. */
    async claimReminders(from: number, to: number, q: Queryable = db): Promise<Appointment[]> {
      const rows = await q.query<{ id: string }>(
        `UPDATE appointments SET reminder_sent_at = now() WHERE status = 'booked' AND reminder_sent_at IS NULL AND start_at >= $1 AND start_at < $2 RETURNING id`,
        [iso(from), iso(to)],
      );
      const out: Appointment[] = [];
      for (const r of rows) {
        const a = await this.byId(r.id, q);
        if (a) out.push(a);
      }
      return out;
    },

    /** Gives a claimed reminder back (its email could not be sent), so the next pass tries again. */
    async unclaimReminder(id: string, q: Queryable = db): Promise<void> {
      await q.query('UPDATE appointments SET reminder_sent_at = NULL WHERE id = $1', [id]);
    },

    /** Guest passes (a redeemed link's session for the visit's waiting room): only the hash is stored, valid on every instance. */
    async addGuestPass(g: { passHash: string; appointmentId: string; name: string; expiresAt: number }, q: Queryable = db): Promise<void> {
      await q.query('INSERT INTO visit_guest_passes (pass_hash, appointment_id, name, expires_at) VALUES ($1, $2, $3, $4)', [
        g.passHash,
        g.appointmentId,
        g.name,
        iso(g.expiresAt),
      ]);
    },
    async guestPass(passHash: string, now: number): Promise<{ appointmentId: string; name: string; expiresAt: number } | null> {
      const [r] = await db.query<{ appointment_id: string; name: string; expires_at: Date }>(
        'SELECT appointment_id, name, expires_at FROM visit_guest_passes WHERE pass_hash = $1 AND expires_at > $2',
        [passHash, iso(now)],
      );
      return r ? { appointmentId: r.appointment_id, name: r.name, expiresAt: ms(r.expires_at)! } : null;
    },
    async sweepGuestPasses(now: number): Promise<void> {
      await db.query('DELETE FROM visit_guest_passes WHERE expires_at <= $1', [iso(now)]);
    },

    // Availability (Schedule / Slot)
    async addAvailability(a: { id: string; practitionerId: string; start: number; end: number; slotMinutes: number }, q: Queryable = db): Promise<void> {
      await q.query('INSERT INTO availability (id, practitioner_id, start_at, end_at, slot_minutes) VALUES ($1, $2, $3, $4, $5)', [
        a.id,
        a.practitionerId,
        iso(a.start),
        iso(a.end),
        a.slotMinutes,
      ]);
    },

    async availability(q: { practitionerIds: string[] | null; from: number; to: number }, tx: Queryable = db): Promise<Availability[]> {
      const rows = await tx.query<{
        id: string;
        practitioner_id: string;
        practitioner_name: string;
        start_at: Date;
        end_at: Date;
        slot_minutes: number;
        created_at: Date;
        practitioner_updated_at: Date;
      }>(
        `SELECT v.*, pr.name AS practitioner_name,
                GREATEST(COALESCE(pr.updated_at, pr.created_at), (SELECT max(a2.created_at) FROM availability a2 WHERE a2.practitioner_id = v.practitioner_id))
                  AS practitioner_updated_at
         FROM availability v JOIN practitioners pr ON pr.id = v.practitioner_id
         WHERE ($1::text[] IS NULL OR v.practitioner_id = ANY($1)) AND v.end_at > $2 AND v.start_at < $3 ORDER BY v.start_at`,
        [q.practitionerIds, iso(q.from), iso(q.to)],
      );
      return rows.map((r) => ({
        id: r.id,
        practitionerId: r.practitioner_id,
        practitionerName: r.practitioner_name,
        start: ms(r.start_at)!,
        end: ms(r.end_at)!,
        slotMinutes: r.slot_minutes,
        createdAt: ms(r.created_at)!,
        practitionerUpdatedAt: ms(r.practitioner_updated_at)!,
      }));
    },

    /**
     * When each practitioner's free and busy time last changed (an appointment booked, moved or cancelled before it
     * began, wherever it was: migration 043), the lower bound of a Slot's `meta.lastUpdated`: a booking moved away
     * from a slot freed it, and its row no longer overlaps the slot to say so. Nothing about visits taking place.
     */
    async latestAppointmentChange(practitionerIds: string[]): Promise<Map<string, number>> {
      if (!practitionerIds.length) return new Map();
      const rows = await db.query<{ practitioner_id: string; at: Date }>(
        `SELECT practitioner_id, max(COALESCE(slot_changed_at, updated_at, created_at)) AS at FROM appointments
         WHERE practitioner_id = ANY($1::text[]) GROUP BY practitioner_id`,
        [practitionerIds],
      );
      return new Map(rows.map((r) => [r.practitioner_id, ms(r.at)!]));
    },

    // Encounters
    async encounterOf(appointmentId: string): Promise<Encounter | null> {
      const [r] = await db.query<{ id: string }>('SELECT id FROM encounters WHERE appointment_id = $1', [appointmentId]);
      return r ? this.encounter(r.id) : null;
    },

    async encounter(id: string): Promise<Encounter | null> {
      const [r] = await db.query<{
        id: string;
        appointment_id: string | null;
        patient_id: string;
        status: 'in-progress' | 'finished';
        started_at: Date;
        ended_at: Date | null;
      }>('SELECT * FROM encounters WHERE id = $1', [id]);
      if (!r) return null;
      const parts = await db.query<{ kind: 'patient' | 'staff' | 'guest'; ref: string | null; display: string; joined_at: Date; left_at: Date | null }>(
        'SELECT kind, ref, display, joined_at, left_at FROM encounter_participants WHERE encounter_id = $1 ORDER BY id',
        [id],
      );
      return {
        id: r.id,
        appointmentId: r.appointment_id,
        patientId: r.patient_id,
        status: r.status,
        start: ms(r.started_at)!,
        end: ms(r.ended_at),
        participants: parts.map((p) => ({ kind: p.kind, ref: p.ref, display: p.display, joinedAt: ms(p.joined_at)!, leftAt: ms(p.left_at) })),
      };
    },

    /** The encounter of this appointment, started now if it has none (one per appointment). */
    async startEncounter(e: { id: string; appointmentId: string; patientId: string; at: number }, q: Queryable = db): Promise<string> {
      await q.query(
        `INSERT INTO encounters (id, appointment_id, patient_id, status, started_at) VALUES ($1, $2, $3, 'in-progress', $4) ON CONFLICT (appointment_id) DO UPDATE SET status = 'in-progress', ended_at = NULL`,
        [e.id, e.appointmentId, e.patientId, iso(e.at)],
      );
      const [r] = await q.query<{ id: string }>('SELECT id FROM encounters WHERE appointment_id = $1', [e.appointmentId]);
      return r.id;
    },

    async finishEncounter(id: string, at: number, q: Queryable = db): Promise<void> {
      await q.query(`UPDATE encounters SET status = 'finished', ended_at = $2 WHERE id = $1`, [id, iso(at)]);
      await q.query(FORGET_REJOINS_OF_ENCOUNTER, [id]);
    },

    // Rejoin secrets of a visit's participants, one per admission (migrations 042, 044; visit-rooms.ts)
    async saveRejoin(appointmentId: string, key: string, secretHash: string, until: number | null, q: Queryable = db): Promise<void> {
      await q.query(
        `INSERT INTO visit_rejoin (appointment_id, participant_key, secret_hash, until) VALUES ($1, $2, $3, $4)
         ON CONFLICT (appointment_id, participant_key, secret_hash) DO UPDATE SET until = excluded.until`,
        [appointmentId, key, secretHash, until === null ? null : iso(until)],
      );
    },
    /** The participant dropped: back by `until` with the secret it was admitted with. */
    async holdRejoin(appointmentId: string, key: string, secretHash: string, until: number, q: Queryable = db): Promise<void> {
      await q.query('UPDATE visit_rejoin SET until = $4 WHERE appointment_id = $1 AND participant_key = $2 AND secret_hash = $3', [
        appointmentId,
        key,
        secretHash,
        iso(until),
      ]);
    },
    /** That admission's secret is spent (a goodbye, or a new admission replaced it); the account's other devices keep theirs. */
    async forgetRejoin(appointmentId: string, key: string, secretHash: string, q: Queryable = db): Promise<void> {
      await q.query('DELETE FROM visit_rejoin WHERE appointment_id = $1 AND participant_key = $2 AND secret_hash = $3', [appointmentId, key, secretHash]);
    },
    /**
     * Whoever is in the visit as its home knows (`until` NULL) has the rejoin window from now: when a room opens at
     * a new home (the old one died or restarted: not for as long as the visit goes on elsewhere, found by review),
     * and when the home shuts down gracefully with people in the call.
     */
    async startRejoinWindow(appointmentId: string, until: number): Promise<void> {
      await db.query('UPDATE visit_rejoin SET until = $2 WHERE appointment_id = $1 AND until IS NULL', [appointmentId, iso(until)]);
    },
    /** Whether this participant was admitted with this secret (its digest), and until when, if the visit is still in progress. */
    async rejoinOf(appointmentId: string, key: string, secretHash: string): Promise<{ until: number | null } | null> {
      const [r] = await db.query<{ until: Date | null }>(
        `SELECT v.until FROM visit_rejoin v JOIN encounters e ON e.appointment_id = v.appointment_id AND e.status = 'in-progress'
         WHERE v.appointment_id = $1 AND v.participant_key = $2 AND v.secret_hash = $3`,
        [appointmentId, key, secretHash],
      );
      return r ? { until: ms(r.until) } : null;
    },

    /**
     * Visits left in progress with no room anywhere: not hosted here (`hostedHere`), no home instance with a
     * heartbeat within `staleS` (its home died, or the one process restarted), and quiet since before
     * `quietBefore`. `endAt` is the last sign of life: the last departure when everyone had gone (a room held
     * after lost connections), else the latest of the dead home's last heartbeat and the participants' times.
     */
    async orphanEncounters(hostedHere: string[], staleS: number, quietBefore: number, q: Queryable = db) {
      const rows = await q.query<{ id: string; appointment_id: string; patient_id: string; end_at: Date }>(
        `SELECT e.id, e.appointment_id, e.patient_id,
                CASE WHEN bool_and(p.left_at IS NOT NULL) THEN max(p.left_at)
                     ELSE greatest(e.started_at, max(p.joined_at), max(p.left_at), max(h.heartbeat_at)) END AS end_at
           FROM encounters e
           LEFT JOIN encounter_participants p ON p.encounter_id = e.id
           LEFT JOIN visit_room_homes h ON h.appointment_id = e.appointment_id
          WHERE e.status = 'in-progress' AND e.appointment_id IS NOT NULL AND NOT (e.appointment_id = ANY($1))
            AND NOT EXISTS (SELECT 1 FROM visit_room_homes f WHERE f.appointment_id = e.appointment_id AND f.heartbeat_at >= now() - make_interval(secs => $2))
          GROUP BY e.id
         HAVING greatest(e.started_at, max(p.joined_at), max(p.left_at), max(h.heartbeat_at)) < $3`,
        [hostedHere, staleS, iso(quietBefore)],
      );
      return rows.map((r) => ({ id: r.id, appointmentId: r.appointment_id, patientId: r.patient_id, endAt: ms(r.end_at)! }));
    },

    /**
     * Finishes an orphaned Encounter at `at` (and the periods of whoever was still in it) unless it is no longer
     * in progress or a live home has picked the visit up meanwhile; true when it did.
     */
    async finishOrphan(id: string, at: number, staleS: number, q: Queryable = db): Promise<boolean> {
      const done = await q.query(
        `UPDATE encounters e SET status = 'finished', ended_at = $2 WHERE e.id = $1 AND e.status = 'in-progress'
            AND NOT EXISTS (SELECT 1 FROM visit_room_homes f WHERE f.appointment_id = e.appointment_id AND f.heartbeat_at >= now() - make_interval(secs => $3))
          RETURNING e.id`,
        [id, iso(at), staleS],
      );
      if (!done.length) return false;
      await q.query('UPDATE encounter_participants SET left_at = $2 WHERE encounter_id = $1 AND left_at IS NULL', [id, iso(at)]);
      await q.query(FORGET_REJOINS_OF_ENCOUNTER, [id]);
      return true;
    },

    async participantJoined(
      p: { encounterId: string; kind: 'patient' | 'staff' | 'guest'; ref: string | null; display: string; at: number },
      q: Queryable = db,
    ): Promise<string> {
      const [r] = await q.query<{ id: string }>(
        'INSERT INTO encounter_participants (encounter_id, kind, ref, display, joined_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
        [p.encounterId, p.kind, p.ref, p.display, iso(p.at)],
      );
      return String(r.id);
    },

    async participantLeft(rowId: string, at: number, q: Queryable = db): Promise<void> {
      await q.query('UPDATE encounter_participants SET left_at = $2 WHERE id = $1 AND left_at IS NULL', [rowId, iso(at)]);
    },

    // Guest invites (only the hash of the token is stored)
    async addInvite(
      i: { tokenHash: string; appointmentId: string; displayName: string; createdBy: string; expiresAt: number },
      q: Queryable = db,
    ): Promise<void> {
      await q.query('INSERT INTO visit_invites (token_hash, appointment_id, display_name, created_by, expires_at) VALUES ($1, $2, $3, $4, $5)', [
        i.tokenHash,
        i.appointmentId,
        i.displayName,
        i.createdBy,
        iso(i.expiresAt),
      ]);
    },

    /** Uses an invite once: returns it when unused and unexpired, and marks it used in the same statement. */
    async redeemInvite(tokenHash: string, appointmentId: string, now: number, q: Queryable = db): Promise<{ displayName: string } | null> {
      const [r] = await q.query<{ display_name: string }>(
        `UPDATE visit_invites SET used_at = $3 WHERE token_hash = $1 AND appointment_id = $2 AND used_at IS NULL AND expires_at > $3 RETURNING display_name`,
        [tokenHash, appointmentId, iso(now)],
      );
      return r ? { displayName: r.display_name } : null;
    },
  };
}

export type AppointmentsRepository = ReturnType<typeof createAppointmentsRepository>;
