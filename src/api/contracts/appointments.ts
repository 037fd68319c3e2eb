import { z } from 'zod';
import { commaList, IsoTime, TimeParam } from './common.ts';
import { Message } from './messaging.ts';

/** Appointments, availability, slots and video visits (docs/api.md → Appointments, Visits). Times in answers are epoch ms. */

/** An ISO 8601 date-time in a JSON body, parsed to epoch ms. */
export const BodyTime = (name: string) =>
  z
    .string({ error: `${name} must be an ISO 8601 date-time such as 2026-12-01T09:00:00Z` })
    .max(64)
    .transform((value, ctx) => {
      const ms = Date.parse(value);
      if (!Number.isFinite(ms)) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an ISO 8601 date-time (got "${value.slice(0, 40)}")` });
        return z.NEVER;
      }
      return ms;
    })
    .describe('ISO 8601 date-time');

const PersonId = (name: string) =>
  z
    .string({ error: `${name} must be a string id` })
    .min(1, `${name} is empty`)
    .max(200);
/**
 * An appointment id as the REST API takes it: Vigil's own (`apt_x7k2…`) or the FHIR id the FHIR API gave
 * back (`apt-x7k2…`, api/fhir/ids.ts), so the id from `POST /fhir/R4/Appointment` opens `/visits/{id}`.
 */
export const AppointmentIdParams = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .transform((id) => id.replace(/^([a-z]{2,8})-([a-z0-9]{1,40})$/, '$1_$2')),
});

export const VisitMode = z.enum(['video', 'audio'], { error: 'mode must be "video" or "audio"' });
export const AppointmentStatus = z.enum(['proposed', 'booked', 'arrived', 'fulfilled', 'cancelled', 'noshow']);

export const Appointment = z
  .object({
    id: z.string(),
    patientId: z.string(),
    patientName: z.string(),
    practitionerId: z.string().nullable(),
    practitionerName: z.string().nullable(),
    status: AppointmentStatus,
    mode: VisitMode,
    start: z.number(),
    end: z.number(),
    description: z.string().nullable(),
    threadId: z.string().nullable(),
    createdBy: z.string(),
    createdAt: z.number(),
    /** Bumped by every change (the FHIR resource's meta.versionId), and when it was made. */
    version: z.number().int(),
    updatedAt: z.number(),
    cancelReason: z.string().nullable(),
  })
  .meta({ id: 'Appointment' });
export type Appointment = z.infer<typeof Appointment>;

export const AppointmentsQuery = z.object({
  patient: z.string().max(200).optional(),
  from: TimeParam.optional(),
  to: TimeParam.optional(),
  /** Comma-separated statuses, e.g. `booked,arrived`. */
  status: commaList(AppointmentStatus).optional(),
});

export const CreateAppointmentBody = z.object({
  patientId: PersonId('patientId'),
  practitionerId: PersonId('practitionerId').optional(),
  /** `"now"` for a visit starting now. */
  start: z.union([z.literal('now'), BodyTime('start')], { error: 'start must be "now" or an ISO 8601 date-time' }),
  end: BodyTime('end').optional(),
  mode: VisitMode.optional(),
  description: z.string().max(500, 'description may be at most 500 characters').nullable().optional(),
});

export const BookBody = z.object({
  slotId: z.string({ error: 'slotId is required (from GET /api/v1/slots)' }).min(1, 'slotId is required').max(300),
  patientId: PersonId('patientId').optional(),
  mode: VisitMode.optional(),
  description: z.string().max(500, 'description may be at most 500 characters').optional(),
});

export const CancelBody = z.object({ reason: z.string().max(500, 'reason may be at most 500 characters').optional() }).optional();

export const RescheduleBody = z.object({ start: BodyTime('start'), end: BodyTime('end').optional() });

export const SlotsQuery = z.object({
  from: TimeParam.optional(),
  to: TimeParam.optional(),
  practitioner: z.string().max(200).optional(),
  patient: z.string().max(200).optional(),
});

export const Slot = z
  .object({
    id: z.string(),
    practitionerId: z.string(),
    practitionerName: z.string(),
    start: z.number(),
    end: z.number(),
    status: z.enum(['free', 'busy']),
    lastUpdated: z.number().describe('ms; never earlier than the last change of the slot (any booking, move or cancellation of the clinician’s counts)'),
    scheduleUpdated: z.number().describe('ms; when the clinician’s availability or name last changed'),
  })
  .meta({ id: 'Slot' });
export type Slot = z.infer<typeof Slot>;

export const AvailabilityBody = z.object({
  practitionerId: PersonId('practitionerId').optional(),
  start: BodyTime('start'),
  end: BodyTime('end'),
  slotMinutes: z.number({ error: 'slotMinutes must be a whole number from 5 to 240' }).int('slotMinutes must be a whole number').min(5).max(240).optional(),
});
export const Availability = z.object({ id: z.string(), practitionerId: z.string(), start: z.number(), end: z.number(), slotMinutes: z.number() });

/* ---- Visits ---- */

export const VisitPeer = z.object({
  id: z.string(),
  kind: z.enum(['patient', 'staff', 'guest']),
  name: z.string(),
  state: z.enum(['lobby', 'waiting', 'in-room']),
  media: z.object({ audio: z.boolean(), video: z.boolean() }),
});
export type VisitPeer = z.infer<typeof VisitPeer>;

export const VisitPage = z
  .object({
    appointment: Appointment,
    you: z.object({ kind: z.enum(['patient', 'staff']), name: z.string() }),
    inRoom: z.array(VisitPeer),
    waiting: z.array(VisitPeer),
  })
  .meta({ id: 'VisitPage' });
export type VisitPage = z.infer<typeof VisitPage>;

/** A visit with someone in its waiting room now (`GET /api/v1/visits/waiting`): the staff banner's list. */
export const WaitingVisit = z
  .object({
    appointmentId: z.string(),
    patientId: z.string(),
    patientName: z.string(),
    /** How many wait (a patient, guests). */
    waiting: z.number().int().min(1),
    kinds: z.array(z.enum(['patient', 'staff', 'guest'])),
  })
  .meta({ id: 'WaitingVisit' });
export const WaitingVisits = z.array(WaitingVisit);
export type WaitingVisit = z.infer<typeof WaitingVisit>;

export const InviteBody = z.object({ name: z.string({ error: 'name must be a string' }).max(80, 'name may be at most 80 characters').optional() }).optional();
/** A one-time guest link (the token is in the URL fragment, never sent to a server by browsers). */
export const Invite = z.object({ url: z.string(), expiresAt: IsoTime, name: z.string() });
export type Invite = z.infer<typeof Invite>;

export const GuestPassBody = z.object({
  token: z
    .string({ error: 'token must be the code from the invitation link' })
    .min(20, 'token must be the code from the invitation link')
    .max(100, 'token must be the code from the invitation link'),
  name: z.string().max(80, 'name may be at most 80 characters').optional(),
});
export const GuestPass = z.object({ pass: z.string(), name: z.string(), appointmentId: z.string() });
export type GuestPass = z.infer<typeof GuestPass>;

export const SummaryBody = z.object({
  text: z
    .string({ error: 'text is required: the visit summary' })
    .max(5000, 'the summary may be at most 5000 characters')
    .refine((s) => s.trim().length > 0, 'text is required: the visit summary'),
});
export const VisitSummary = Message;

export const CallNowBody = z
  .object({ reason: z.string({ error: 'reason must be a string' }).max(200, 'reason may be at most 200 characters').optional() })
  .optional();
export const CallNow = z.object({ appointment: Appointment, url: z.string() });
export type CallNow = z.infer<typeof CallNow>;

export const VisitEncounter = z.union([
  z.object({
    id: z.string(),
    appointmentId: z.string().nullable(),
    patientId: z.string(),
    status: z.enum(['in-progress', 'finished']),
    start: z.number(),
    end: z.number().nullable(),
    participants: z.array(
      z.object({
        kind: z.enum(['patient', 'staff', 'guest']),
        ref: z.string().nullable(),
        display: z.string(),
        joinedAt: z.number(),
        leftAt: z.number().nullable(),
      }),
    ),
  }),
  z.object({ status: z.literal('not-started') }),
]);

export const SignalQuery = z.object({
  token: z.string().max(2000).optional(),
  // Read only to refuse it (4400): a guest pass goes in the subprotocol list, since URLs end up in access logs.
  pass: z.string().max(200).optional().describe('refused (4400): send a guest pass as the subprotocol vigil.visit-pass.<pass>'),
});
