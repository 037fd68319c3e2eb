import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { Consents } from '../../privacy/consent.ts';
import { requirePrincipal } from '../principal.ts';
import { AppParams, AppRevoked, Consent, ConsentList, GrantConsentBody, IdParams } from '../contracts/index.ts';

/** Consent (GDPR art. 7, HIPAA §164.510(b)): the patient lists, gives and withdraws consents; a revoked one ends access at once. */
export function consentRoutes(app: Api, deps: { consents: Consents }) {
  app.get(
    '/api/v1/patients/:id/consents',
    {
      config: { policy: policy.patient('id') },
      schema: {
        summary: "A patient's consents (caregivers, monitoring, sharing, research) and approved SMART apps",
        params: IdParams,
        response: { 200: ConsentList },
      },
    },
    async (req) => deps.consents.list(requirePrincipal(req), req.params.id),
  );

  app.post(
    '/api/v1/patients/:id/consents',
    {
      config: { policy: policy.patient('id') },
      schema: {
        summary: 'Give a consent (the patient; an admin recording a signed form)',
        params: IdParams,
        body: GrantConsentBody,
        response: { 201: Consent },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.consents.grant(requirePrincipal(req), req.params.id, req.body)),
  );

  app.post(
    '/api/v1/consents/:id/revoke',
    {
      config: { policy: policy.signedIn('the patient, an admin, or the caregiver the consent names (the consent service checks; others get 404)') },
      schema: { summary: 'Withdraw a consent at once', params: IdParams, response: { 200: Consent } },
    },
    async (req) => deps.consents.revoke(requirePrincipal(req), req.params.id),
  );

  app.delete(
    '/api/v1/patients/:id/apps/:clientId',
    {
      config: { policy: policy.patient('id') },
      schema: { summary: "Withdraw a SMART app's access to this record (its tokens stop at once)", params: AppParams, response: { 200: AppRevoked } },
    },
    async (req) => deps.consents.revokeApp(requirePrincipal(req), req.params.id, req.params.clientId),
  );
}
