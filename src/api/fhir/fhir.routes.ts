import type { FastifyInstance } from 'fastify';
import { requirePrincipal } from '../principal.ts';
import { capabilityStatement, type FhirService, type Query } from './fhir.service.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function fhirRoutes(app: FastifyInstance, deps: { fhir: FhirService; baseUrl: () => string; version: string }) {
  app.get('/fhir/R4/metadata', async (req, reply) => {
    requirePrincipal(req);
    return reply.type(FHIR_JSON).send(capabilityStatement(deps.baseUrl(), deps.version));
  });
  app.get('/fhir/R4/:type', async (req, reply) => {
    const { type } = req.params as { type: string };
    return reply.type(FHIR_JSON).send(await deps.fhir.search(requirePrincipal(req), type, req.query as Query));
  });
  app.get('/fhir/R4/:type/:id', async (req, reply) => {
    const { type, id } = req.params as { type: string; id: string };
    return reply.type(FHIR_JSON).send(await deps.fhir.read(requirePrincipal(req), type, id));
  });
}
