import type { Principal } from '../domain/types.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditEntry, AuditService } from '../audit/audit.service.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { Clock } from '../platform/clock.ts';
import type { Queryable } from '../platform/db.ts';
import type { EventBus } from '../platform/events.ts';
import { AppError, badRequest, forbidden, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import type { Appointment, AppointmentsRepository } from './appointments.repository.ts';

const DEFAULT_MINUTES = 20;
const MAX_MINUTES = 240;
const MAX_AHEAD_MS = 366 * 86_400_000;
const MAX_SLOT_WINDOW_MS = 31 * 86_400_000;

export interface NewAppointment {
  patientId: string;
  practitionerId?: string | null;
  start: number;
  end?: number;
  mode?: 'video' | 'audio';
  description?: string | null;
  status?: 'booked' | 'proposed';
}

/** A change of an existing appointment (`prepareChange`): any of these, at once. */
export interface AppointmentChange {
  /** New start; the length stays unless `end` is given. */
  start?: number;
  end?: number;
  cancel?: { reason?: string | null };
  /** null clears it. */
  description?: string | null;
  /** Recorded in the audit entries' details (e.g. 'fhir'). */
  via?: string;
}

export interface PreparedChange {
  /** The appointment as it was checked. */
  appointment: Appointment;
  /** How many changes (0: the appointment already is so; `apply` writes nothing). */
  changes: number;
  /** Writes it with `tx` only (with its schedule lock and clash check); false when `expectVersion` is no longer current. */
  apply(tx: Queryable, log: (e: AuditEntry) => void, expectVersion?: number): Promise<boolean>;
}

export interface Slot {
  id: string;
  practitionerId: string;
  practitionerName: string;
  start: number;
  end: number;
  status: 'free' | 'busy';
  /**
   * Never earlier than the slot's last change (FHIR meta.lastUpdated): the latest of its block's opening, the last
   * change of its clinician's free and busy time (migration 043: conservative, a poller by `_lastUpdated` may fetch an
   * unchanged slot again but never misses a change; nothing about visits taking place), and its start once passed.
   */
  lastUpdated: number;
  /** When the practitioner's availability or name last changed (the Schedule's meta.lastUpdated). */
  scheduleUpdated: number;
}

/**
 * `slot-avl-x7k2…-{startMs}`: a slot is a computed cut of an availability block, addressed by its start. The
 * id is a conformant FHIR id as it is (R4 §2.1.9: [A-Za-z0-9-.]{1,64}), so REST and FHIR share it.
 */
export const slotId = (availabilityId: string, start: number) => `slot-${availabilityId.replace('_', '-')}-${start}`;
function parseSlotId(id: string): { availabilityId: string; start: number } | null {
  const m = /^slot-([a-z]{2,8})[-_]([a-z0-9]{1,40})-(\d{10,15})$/.exec(id);
  return m ? { availabilityId: `${m[1]}_${m[2]}`, start: Number(m[3]) } : null;
}

/**
 * Appointments (FHIR Appointment/Schedule/Slot): staff book for the patients they may see, patients book a
 * free slot of their own care team; cancel and reschedule by either side; no double booking of a clinician.
 */
export function createAppointmentsService(deps: {
  repo: AppointmentsRepository;
  patients: PatientsRepository;
  access: AccessPolicy;
  audit: AuditService;
  clock: Clock;
  events: EventBus;
}) {
  const { repo, access, audit } = deps;

  async function visible(p: Principal, id: string): Promise<Appointment> {
    const a = await repo.byId(id);
    if (!a || !(await access.canSeePatient(p, a.patientId))) throw notFound(`appointment ${id}`);
    return a;
  }

  function checkTimes(start: number, end: number) {
    if (!Number.isFinite(start)) throw badRequest('start must be an ISO 8601 date-time');
    if (!Number.isFinite(end) || end <= start) throw badRequest('end must be after start');
    if (end - start > MAX_MINUTES * 60_000) throw badRequest(`an appointment may last at most ${MAX_MINUTES} minutes`);
    if (start > deps.clock.now() + MAX_AHEAD_MS) throw badRequest('start is more than a year ahead');
    if (end < deps.clock.now() - 60 * 60_000) throw badRequest('the appointment would already be over');
  }

  /** One booking at a time per clinician, across instances: a transaction-scoped advisory lock on their schedule. */
  const lockSchedule = (tx: Queryable, practitionerId: string) => tx.query("SELECT pg_advisory_xact_lock(hashtext('vigil:schedule:' || $1))", [practitionerId]);

  async function checkPractitioner(patientId: string, practitionerId: string) {
    const team = await deps.patients.careTeamOf(patientId);
    if (!team.some((t) => t.id === practitionerId)) throw badRequest(`practitioner ${practitionerId} is not on this patient's care team`);
  }

  /**
   * Refuses a time the clinician already has booked. Inside the transaction that books (`tx`), after
   * `lockSchedule`, so that two requests for one slot cannot both find it free and both book it (found by
   * review: seven parallel requests booked one slot three times); outside it, only a quick early answer.
   */
  async function freeOrThrow(practitionerId: string, start: number, end: number, exceptId?: string, tx?: Queryable) {
    const clash = await repo.overlapping(practitionerId, start, end, exceptId, tx);
    if (clash.length)
      throw new AppError(
        'CONFLICT',
        `the clinician already has an appointment from ${new Date(clash[0].start).toISOString()} to ${new Date(clash[0].end).toISOString()}`,
      );
  }

  /**
   * A patient moves a visit only onto their clinician's open time, as they book it: a slot of an availability
   * block, from now on (found by review: a patient could move a visit to 3 a.m. on a Sunday). Staff move it
   * anywhere the clinician is free; the calendar is theirs.
   */
  async function inOpenSlotOrThrow(practitionerId: string, start: number, end: number) {
    const blocks = await repo.availability({ practitionerIds: [practitionerId], from: start, to: end });
    const slotted = blocks.some((b) => b.start <= start && end <= b.end && (start - b.start) % (b.slotMinutes * 60_000) === 0);
    if (!slotted || start < deps.clock.now())
      throw badRequest('start: a patient can move a visit only to a free slot of their clinician (GET /api/v1/slots lists them)');
  }

  /**
   * Checks, authorises and seals a change of an appointment without writing anything: a cancellation (with its
   * reason), new times, a new description, or several of these at once (a FHIR update). `apply` then writes it
   * as one statement, so one version, with its audit entries (`appointment.cancel`, `appointment.reschedule`,
   * `appointment.describe`), inside the caller's transaction (a FHIR transaction Bundle, or `audit.change`).
   * With `expectVersion` it writes only while the appointment is still at that version (false when not).
   */
  async function prepareChange(p: Principal, id: string, c: AppointmentChange): Promise<PreparedChange> {
    const a = await visible(p, id);
    access.assertSchedulesFor(p);
    const set: Parameters<AppointmentsRepository['change']>[1] = {};
    const entries: Array<Omit<AuditEntry, 'actor'>> = [];
    const about = { entityType: 'Appointment', entityId: id, patientId: a.patientId } as const;
    const moving = c.start !== undefined;
    if (c.cancel && a.status !== 'cancelled') {
      if (a.status === 'fulfilled') throw new AppError('CONFLICT', 'this visit has already taken place');
      if (moving) throw badRequest('start: a visit being cancelled is not moved as well');
      set.status = 'cancelled';
      set.cancelReason = await repo.sealReason(a.patientId, id, c.cancel.reason?.slice(0, 500) ?? null);
      entries.push({ action: 'appointment.cancel', ...about });
    }
    let newEnd = a.end;
    if (moving) {
      const start = c.start!;
      const end = c.end;
      if (a.status !== 'booked' && a.status !== 'proposed') throw new AppError('CONFLICT', `a ${a.status} appointment cannot be moved`);
      const patient = access.patientSelf(p);
      // A patient moves the visit, not its length (found by review: `end` stretched a 15-minute slot to a morning).
      if (patient && end !== undefined && end - start !== a.end - a.start)
        throw badRequest('end: a patient moves a visit as it is; its length stays the same (leave end out)');
      newEnd = end ?? start + (a.end - a.start);
      checkTimes(start, newEnd);
      if (patient && !a.practitionerId) throw forbidden('this visit has no clinician’s calendar to move it in; ask the care team');
      if (patient && a.practitionerId) await inOpenSlotOrThrow(a.practitionerId, start, newEnd);
      if (a.practitionerId) await freeOrThrow(a.practitionerId, start, newEnd, id);
      set.start = start;
      set.end = newEnd;
      entries.push({ action: 'appointment.reschedule', ...about, details: { start: new Date(start).toISOString() } });
    }
    if (c.description !== undefined) {
      const description = typeof c.description === 'string' ? c.description.slice(0, 500) : null;
      if (description !== a.description) {
        if (a.status !== 'booked' && a.status !== 'proposed' && a.status !== 'arrived')
          throw new AppError('CONFLICT', `the description of a ${a.status} appointment cannot be changed`);
        set.description = { sealed: await repo.sealDescription(a.patientId, id, description) };
        entries.push({ action: 'appointment.describe', ...about });
      }
    }
    return {
      appointment: a,
      changes: entries.length,
      async apply(tx, log, expectVersion) {
        if (!entries.length) return true;
        if (moving && a.practitionerId) {
          await lockSchedule(tx, a.practitionerId);
          await freeOrThrow(a.practitionerId, set.start!, newEnd, id, tx);
        }
        await repo.actingAs(tx, p.userId);
        if (!(await repo.change(id, set, tx, expectVersion))) return false;
        for (const e of entries) log({ actor: p, ...e, ...(c.via ? { details: { ...e.details, via: c.via } } : {}) });
        return true;
      },
    };
  }

  async function slots(p: Principal, q: { practitionerId?: string; patientId?: string; from: number; to: number }): Promise<Slot[]> {
    if (!Number.isFinite(q.from) || !Number.isFinite(q.to) || q.to <= q.from) throw badRequest('from and to must be ISO 8601 times, from before to');
    if (q.to - q.from > MAX_SLOT_WINDOW_MS) throw badRequest('ask for at most 31 days of slots at a time');
    // Patients see their care team's slots; staff see their own, or any visible patient's team.
    let practitionerIds: string[] | null;
    const self = access.patientSelf(p);
    if (self) practitionerIds = self.patientId ? (await deps.patients.careTeamOf(self.patientId)).map((t) => t.id) : [];
    else if (q.patientId) {
      await access.assertPatient(p, q.patientId);
      practitionerIds = (await deps.patients.careTeamOf(q.patientId)).map((t) => t.id);
    } else practitionerIds = access.seesAllSchedules(p) ? null : p.practitionerId ? [p.practitionerId] : [];
    if (q.practitionerId) practitionerIds = practitionerIds === null || practitionerIds.includes(q.practitionerId) ? [q.practitionerId] : [];
    const blocks = await repo.availability({ practitionerIds, from: q.from, to: q.to });
    const changed = await repo.latestAppointmentChange([...new Set(blocks.map((b) => b.practitionerId))]);
    const now = deps.clock.now();
    const out: Slot[] = [];
    for (const b of blocks) {
      const busy = await repo.overlapping(b.practitionerId, b.start, b.end);
      for (let s = b.start; s + b.slotMinutes * 60_000 <= b.end; s += b.slotMinutes * 60_000) {
        const e = s + b.slotMinutes * 60_000;
        if (e <= q.from || s >= q.to) continue;
        const taken = busy.some((a) => a.start < e && a.end > s) || s < now;
        out.push({
          id: slotId(b.id, s),
          practitionerId: b.practitionerId,
          practitionerName: b.practitionerName,
          start: s,
          end: e,
          status: taken ? 'busy' : 'free',
          lastUpdated: Math.max(b.createdAt, changed.get(b.practitionerId) ?? 0, s < now ? s : 0),
          scheduleUpdated: b.practitionerUpdatedAt,
        });
      }
    }
    return out;
  }

  return {
    get: visible,

    async list(p: Principal, q: { patientId?: string; from?: number; to?: number; statuses?: string[]; limit?: number; offset?: number } = {}) {
      let ids = await access.visiblePatientIds(p);
      if (q.patientId) ids = ids === null || ids.includes(q.patientId) ? [q.patientId] : [];
      return repo.list({ patientIds: ids, from: q.from, to: q.to, statuses: q.statuses, limit: q.limit, offset: q.offset });
    },

    /** Staff create an appointment for a patient they may see (a visit now or later). */
    /**
     * `overlapping: 'allowed'` for "Call now" only: an urgent call goes ahead even when the clinician has a
     * booking at that time. Anything else is refused over a booked time, checked under the schedule lock.
     */
    async create(p: Principal, input: NewAppointment, opts: { overlapping?: 'allowed' } = {}): Promise<Appointment> {
      access.assertStaff(p);
      await access.assertPatient(p, input.patientId);
      const practitionerId = input.practitionerId ?? p.practitionerId ?? null;
      const end = input.end ?? input.start + DEFAULT_MINUTES * 60_000;
      checkTimes(input.start, end);
      if (practitionerId) {
        if (practitionerId !== p.practitionerId) await checkPractitioner(input.patientId, practitionerId);
        if (!(await deps.patients.practitionerById(practitionerId))) throw badRequest(`practitioner ${practitionerId} does not exist`);
      }
      const description = typeof input.description === 'string' ? input.description.slice(0, 500) : null;
      const a = {
        id: newId('apt'),
        patientId: input.patientId,
        practitionerId,
        status: input.status ?? 'booked',
        mode: input.mode ?? 'video',
        start: input.start,
        end,
        description,
        threadId: null,
        createdBy: p.userId,
      } as const;
      const row = await repo.sealed(a);
      await audit.change(async (tx, log) => {
        if (practitionerId && opts.overlapping !== 'allowed' && a.status === 'booked') {
          await lockSchedule(tx, practitionerId);
          await freeOrThrow(practitionerId, a.start, a.end, undefined, tx);
        }
        await repo.actingAs(tx, p.userId);
        await repo.insert(row, tx);
        log({
          actor: p,
          action: 'appointment.create',
          entityType: 'Appointment',
          entityId: a.id,
          patientId: a.patientId,
          details: { start: new Date(a.start).toISOString(), mode: a.mode },
        });
      });
      const created = (await repo.byId(a.id))!;
      deps.events.emit('appointment.changed', { patientId: created.patientId, appointment: created });
      return created;
    },

    slots,

    /** A patient (or staff for them) books a free slot. */
    async book(p: Principal, input: { slotId: string; patientId?: string; mode?: 'video' | 'audio'; description?: string }): Promise<Appointment> {
      access.assertSchedulesFor(p);
      const self = access.patientSelf(p);
      // A patient books for themselves: another patient's id is refused, not silently replaced (found by review).
      if (self && input.patientId !== undefined && input.patientId !== self.patientId)
        throw badRequest('patientId: a patient books for themselves; leave it out');
      const patientId = self ? self.patientId : input.patientId;
      if (!patientId) throw badRequest('patientId is required');
      await access.assertPatient(p, patientId);
      const ref = parseSlotId(input.slotId);
      if (!ref) throw badRequest(`slot ${input.slotId} is not a slot id`);
      const visibleSlots = await slots(p, { patientId: self ? undefined : patientId, from: ref.start, to: ref.start + 1 });
      const slot = visibleSlots.find((s) => s.id === slotId(ref.availabilityId, ref.start));
      if (!slot) throw notFound(`slot ${input.slotId}`);
      if (slot.status !== 'free') throw new AppError('CONFLICT', 'that time has just been taken; please choose another');
      await checkPractitioner(patientId, slot.practitionerId);
      await freeOrThrow(slot.practitionerId, slot.start, slot.end);
      const a = {
        id: newId('apt'),
        patientId,
        practitionerId: slot.practitionerId,
        status: 'booked',
        mode: input.mode ?? 'video',
        start: slot.start,
        end: slot.end,
        description: input.description?.slice(0, 500) ?? null,
        threadId: null,
        createdBy: p.userId,
      } as const;
      const row = await repo.sealed(a);
      await audit.change(async (tx, log) => {
        await lockSchedule(tx, a.practitionerId);
        await freeOrThrow(a.practitionerId, a.start, a.end, undefined, tx);
        await repo.actingAs(tx, p.userId);
        await repo.insert(row, tx);
        log({ actor: p, action: 'appointment.book', entityType: 'Appointment', entityId: a.id, patientId, details: { slot: input.slotId } });
      });
      return (await repo.byId(a.id))!;
    },

    async addAvailability(p: Principal, input: { practitionerId?: string; start: number; end: number; slotMinutes?: number }) {
      access.assertStaff(p);
      const practitionerId = input.practitionerId ?? p.practitionerId;
      if (!practitionerId) throw badRequest('practitionerId is required');
      if (practitionerId !== p.practitionerId) access.assertAdmin(p);
      if (!Number.isFinite(input.start) || !Number.isFinite(input.end) || input.end <= input.start)
        throw badRequest('start and end must be ISO 8601 times, start before end');
      if (input.end - input.start > 24 * 3600_000) throw badRequest('one availability block may span at most 24 hours');
      const slotMinutes = input.slotMinutes ?? 15;
      if (!Number.isInteger(slotMinutes) || slotMinutes < 5 || slotMinutes > 240) throw badRequest('slotMinutes must be a whole number from 5 to 240');
      if (input.end <= deps.clock.now()) throw badRequest('that time is already over: open availability from now on');
      const id = newId('avl');
      await audit.change(async (tx, log) => {
        // Overlapping blocks listed each slot twice: one block per time, checked under the schedule lock.
        await lockSchedule(tx, practitionerId);
        const [clash] = (await repo.availability({ practitionerIds: [practitionerId], from: input.start, to: input.end }, tx)) ?? [];
        if (clash)
          throw new AppError(
            'CONFLICT',
            `this overlaps the availability already open from ${new Date(clash.start).toISOString()} to ${new Date(clash.end).toISOString()}`,
          );
        await repo.addAvailability({ id, practitionerId, start: input.start, end: input.end, slotMinutes }, tx);
        log({ actor: p, action: 'availability.add', entityType: 'Schedule', entityId: id, details: { practitionerId } });
      });
      return { id, practitionerId, start: input.start, end: input.end, slotMinutes };
    },

    /** Cancel (REST `POST …/cancel`, FHIR update to status cancelled): the rules of `prepareChange`. */
    async cancel(p: Principal, id: string, reason?: string): Promise<Appointment> {
      const change = await prepareChange(p, id, { cancel: { reason } });
      await audit.change((tx, log) => change.apply(tx, log));
      return (await repo.byId(id))!;
    },

    /** Move (REST `POST …/reschedule`, FHIR update of start/end): the rules of `prepareChange`. */
    async reschedule(p: Principal, id: string, start: number, end?: number): Promise<Appointment> {
      const change = await prepareChange(p, id, { start, end });
      await audit.change((tx, log) => change.apply(tx, log));
      return (await repo.byId(id))!;
    },

    prepareChange,

    /** Whether this principal takes part in the visit: the patient themself, or staff who may see the patient. */
    async assertParticipant(p: Principal, id: string): Promise<{ appointment: Appointment; kind: 'patient' | 'staff' }> {
      const a = await visible(p, id);
      if (a.status === 'cancelled') throw new AppError('CONFLICT', 'this appointment was cancelled');
      const kind = access.participantKind(p);
      if (kind === 'caregiver') throw forbidden('a caregiver joins a visit by the invitation link the care team sends');
      if (kind === 'patient' && p.patientId !== a.patientId) throw forbidden('not a participant of this visit');
      return { appointment: a, kind };
    },
  };
}

export type AppointmentsService = ReturnType<typeof createAppointmentsService>;
