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
  /** Bumped on every change by a trigger (migration 038); the FHIR meta.versionId and lastUpdated. */
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

    async reschedule(id: string, start: number, end: number, q: Queryable = db): Promise<void> {
      await q.query('UPDATE appointments SET start_at = $2, end_at = $3, reminder_sent_at = NULL WHERE id = $1', [id, iso(start), iso(end)]);
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
      const rows = await tx.query<{ id: string; practitioner_id: string; practitioner_name: string; start_at: Date; end_at: Date; slot_minutes: number }>(
        `SELECT v.*, pr.name AS practitioner_name FROM availability v JOIN practitioners pr ON pr.id = v.practitioner_id
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
      }));
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
