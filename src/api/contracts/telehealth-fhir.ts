import { z } from 'zod';

/**
 * What a client may POST as a FHIR Communication or Appointment (R4, only the elements Vigil reads; others
 * pass through unread). The shapes are checked here so a malformed resource is a 400 OperationOutcome
 * naming the element; the rules that need the database (who the patient is, the care team) are the services'.
 */

const Reference = z.looseObject({ reference: z.string({ error: 'reference must be a string such as "Patient/pat-1"' }).max(300).optional() });

export const CommunicationCreate = z.looseObject({
  resourceType: z.literal('Communication', { error: 'resourceType must be "Communication"' }),
  subject: z.looseObject(
    {
      reference: z.string({ error: 'subject.reference must be "Patient/{id}"' }).regex(/^Patient\/[^/\s]{1,200}$/, 'subject.reference must be "Patient/{id}"'),
    },
    { error: 'subject.reference must be "Patient/{id}"' },
  ),
  payload: z
    .array(
      z
        .looseObject(
          {
            contentString: z.string().max(5000, 'contentString may be at most 5000 characters').optional(),
            contentAttachment: z
              .looseObject({
                contentType: z.string().max(100).optional(),
                title: z.string().max(255).optional(),
                data: z.string().max(7_000_000, 'an attachment may be at most 5 MB').optional(),
              })
              .optional(),
          },
          { error: 'each payload item must be an object' },
        )
        .refine(
          (p) => typeof p.contentString === 'string' || typeof p.contentAttachment?.data === 'string',
          'must have contentString or contentAttachment.data (base64)',
        ),
      { error: 'payload must hold at least one contentString or contentAttachment' },
    )
    .min(1, 'payload must hold at least one contentString or contentAttachment')
    .max(5, 'payload may hold at most 5 items'),
  priority: z.enum(['routine', 'urgent', 'asap', 'stat'], { error: 'priority must be routine, urgent, asap or stat' }).optional(),
  inResponseTo: z.array(Reference).max(5).optional(),
  identifier: z
    .array(z.looseObject({ system: z.string().optional(), value: z.string().max(200).optional() }))
    .max(5)
    .optional(),
});
export type CommunicationCreate = z.infer<typeof CommunicationCreate>;

export const AppointmentCreate = z.looseObject({
  resourceType: z.literal('Appointment', { error: 'resourceType must be "Appointment"' }),
  status: z.enum(['booked', 'proposed'], { error: 'status must be "booked" (or "proposed")' }).optional(),
  start: z.string({ error: 'start must be a FHIR instant such as 2026-12-01T09:00:00Z' }).max(64).optional(),
  end: z.string({ error: 'end must be a FHIR instant' }).max(64).optional(),
  minutesDuration: z
    .number({ error: 'minutesDuration must be a positive whole number' })
    .int('minutesDuration must be a positive whole number')
    .positive('minutesDuration must be a positive whole number')
    .optional(),
  description: z.string().max(500, 'description may be at most 500 characters').optional(),
  participant: z
    .array(z.looseObject({ actor: Reference.optional() }), { error: 'participant must be a list naming the Patient (and a Practitioner)' })
    .min(1, 'participant must name exactly one Patient (actor.reference "Patient/{id}")')
    .max(10),
  serviceType: z
    .array(z.looseObject({ text: z.string().max(200).optional() }))
    .max(5)
    .optional(),
});
export type AppointmentCreate = z.infer<typeof AppointmentCreate>;
