import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { AppointmentsService } from '../../appointments/appointments.service.ts';
import { requirePrincipal } from '../principal.ts';
import {
  Appointment,
  AppointmentIdParams,
  AppointmentsQuery,
  Availability,
  AvailabilityBody,
  BookBody,
  CancelBody,
  CreateAppointmentBody,
  RescheduleBody,
  Slot,
  SlotsQuery,
} from '../contracts/index.ts';

const SCOPE = 'appointments of the patients they may see (the appointments service checks)';
const SLOT_WINDOW_MS = 14 * 86_400_000;

/** Appointments, availability and slots (docs/api.md → Appointments). */
export function appointmentRoutes(app: Api, deps: { appointments: AppointmentsService; now: () => number }) {
  const a = deps.appointments;

  app.get(
    '/api/v1/appointments',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'Appointments of the patients this user may see', querystring: AppointmentsQuery, response: { 200: Appointment.array() } },
    },
    async (req) =>
      (await a.list(requirePrincipal(req), { patientId: req.query.patient || undefined, from: req.query.from, to: req.query.to, statuses: req.query.status }))
        .rows,
  );

  app.get(
    '/api/v1/appointments/:id',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'One appointment', params: AppointmentIdParams, response: { 200: Appointment } },
    },
    async (req) => a.get(requirePrincipal(req), req.params.id),
  );

  app.post(
    '/api/v1/appointments',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: {
        summary: 'Staff create an appointment (a visit now or later) for a patient they may see',
        body: CreateAppointmentBody,
        response: { 201: Appointment },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const created = await a.create(requirePrincipal(req), { ...b, start: b.start === 'now' ? deps.now() : b.start });
      return reply.status(201).send(created);
    },
  );

  app.post(
    '/api/v1/appointments/book',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'Book a free slot (a patient for themself, or staff for a patient)', body: BookBody, response: { 201: Appointment } },
    },
    async (req, reply) => reply.status(201).send(await a.book(requirePrincipal(req), req.body)),
  );

  app.post(
    '/api/v1/appointments/:id/cancel',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'Cancel an appointment', params: AppointmentIdParams, body: CancelBody, response: { 200: Appointment } },
    },
    async (req) => a.cancel(requirePrincipal(req), req.params.id, req.body?.reason),
  );

  app.post(
    '/api/v1/appointments/:id/reschedule',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: {
        summary: 'Move an appointment (the clinician must be free)',
        params: AppointmentIdParams,
        body: RescheduleBody,
        response: { 200: Appointment },
      },
    },
    async (req) => a.reschedule(requirePrincipal(req), req.params.id, req.body.start, req.body.end),
  );

  app.get(
    '/api/v1/slots',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: 'Bookable slots (default: the next 14 days)', querystring: SlotsQuery, response: { 200: Slot.array() } },
    },
    async (req) => {
      const from = req.query.from ?? deps.now();
      return a.slots(requirePrincipal(req), {
        from,
        to: req.query.to ?? from + SLOT_WINDOW_MS,
        practitionerId: req.query.practitioner || undefined,
        patientId: req.query.patient || undefined,
      });
    },
  );

  app.post(
    '/api/v1/availability',
    {
      config: { policy: policy.signedIn(SCOPE) },
      schema: { summary: "Add a block of a clinician's availability, cut into slots", body: AvailabilityBody, response: { 201: Availability } },
    },
    async (req, reply) => reply.status(201).send(await a.addAvailability(requirePrincipal(req), req.body)),
  );
}
