import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import { requirePrincipal } from '../principal.ts';
import { AppointmentCreate, CommunicationCreate, FhirResource } from '../contracts/index.ts';
import type { Resource } from '../fhir/mapping.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
type Creator = { create(ctx: { principal: ReturnType<typeof requirePrincipal>; baseUrl: string }, resource: unknown): Promise<Resource> };

/**
 * FHIR `create` for the telehealth types (Communication, Appointment), the contract of issue 8. Read and
 * search are the FHIR router's, through the providers registered on the FHIR registry; create goes through
 * the same providers here until the router dispatches writes itself (then these two routes go).
 */
export function telehealthFhirRoutes(app: Api, deps: { communication: Creator; appointment: Creator; baseUrl: () => string }) {
  const created = { 201: FhirResource };
  app.post('/fhir/R4/Communication', {
    config: { policy: policy.signedIn('Communications of the patients they may see (a patient: about themself)') },
    schema: { summary: 'FHIR Communication create: a message about a patient (a patient: about themself)', body: CommunicationCreate, response: created },
  }, async (req, reply) => {
    const r = await deps.communication.create({ principal: requirePrincipal(req), baseUrl: deps.baseUrl() }, req.body);
    return reply.status(201).type(FHIR_JSON).header('location', `${deps.baseUrl()}/Communication/${r.id}/_history/1`).send(r);
  });
  app.post('/fhir/R4/Appointment', {
    config: { policy: policy.signedIn('staff, for the patients they may see (the appointments service checks)') },
    schema: { summary: 'FHIR Appointment create (staff): a visit with the patient, now or later', body: AppointmentCreate, response: created },
  }, async (req, reply) => {
    const r = await deps.appointment.create({ principal: requirePrincipal(req), baseUrl: deps.baseUrl() }, req.body);
    return reply.status(201).type(FHIR_JSON).header('location', `${deps.baseUrl()}/Appointment/${r.id}`).send(r);
  });
}
