import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { AuthService } from '../../auth/auth.service.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { PatientService } from '../../patients/patient.service.ts';
import { requirePrincipal } from '../principal.ts';
import {
  CareTeamBody,
  CareTeamMemberParams,
  CreatedToken,
  CreatedUser,
  CreateTokenBody,
  CreateUserBody,
  IdParams,
  NoContent,
  TokenInfo,
  TokenListQuery,
  TokenRevoked,
  User,
  UserDisabled,
} from '../contracts/index.ts';

/** Account administration (admin only); the CLI uses these while a server holds the embedded database. */
export function userRoutes(app: Api, deps: { auth: AuthService; access: AccessPolicy; patients: PatientService }) {
  app.post(
    '/api/v1/users',
    {
      config: { policy: policy.admin() },
      schema: {
        summary: 'Create an account (a password is generated and shown once when none is given)',
        body: CreateUserBody,
        response: { 201: CreatedUser },
      },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      const b = req.body;
      const user = await deps.auth.createUser(
        { email: b.email, role: b.role, displayName: b.displayName, password: b.password, patientId: b.patientId ?? null },
        p,
      );
      return reply.status(201).send(user);
    },
  );

  app.get(
    '/api/v1/users',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'Every account', response: { 200: User.array() } },
    },
    async (req) => {
      deps.access.assertAdmin(requirePrincipal(req));
      return (await deps.auth.listUsers()).map(({ userId, email, role, displayName, practitionerId, patientId, disabled }) => ({
        id: userId,
        email,
        role,
        displayName,
        practitionerId,
        patientId,
        disabled,
      }));
    },
  );

  // API tokens (F4): scoped, expiring, listed and revocable by their owner and by admins.
  const ownTokens = policy.signedIn('their own tokens; admins for anyone');
  app.post(
    '/api/v1/tokens',
    {
      config: { policy: ownTokens },
      schema: {
        summary: 'Create an API token (read or write, optionally limited to some patients, expiring); shown once',
        body: CreateTokenBody,
        response: { 201: CreatedToken },
      },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      const b = req.body;
      // Anyone may mint a token for themself; only admins for others.
      if (b.email && b.email.toLowerCase() !== p.email) deps.access.assertAdmin(p);
      // A token's patients must be ones the caller may see.
      const patientIds = b.patientIds ?? null;
      if (patientIds) for (const id of patientIds) await deps.access.assertPatient(p, id);
      const t = await deps.auth.createToken(b.email ?? p.email, b.name ?? null, p, { scope: b.scope, patientIds, ttlDays: b.ttlDays });
      return reply.status(201).send(t);
    },
  );

  app.get(
    '/api/v1/tokens',
    {
      config: { policy: ownTokens },
      schema: { summary: 'My API tokens (admins: everyone’s with all=1); never the secret', querystring: TokenListQuery, response: { 200: TokenInfo.array() } },
    },
    async (req) => deps.auth.listTokens(requirePrincipal(req), req.query.all === '1' || req.query.all === 'true'),
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { policy: ownTokens },
      schema: { summary: 'Revoke a token at once (401 on its next use)', params: IdParams, response: { 200: TokenRevoked } },
    },
    async (req) => deps.auth.revokeToken(req.params.id, requirePrincipal(req)),
  );

  // Accounts can be disabled (every session ends, tokens stop at once) and re-enabled; a lost phone's second factor reset.
  app.post(
    '/api/v1/users/:id/disable',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'Disable an account (its sessions end, its tokens stop at once)', params: IdParams, response: { 200: UserDisabled } },
    },
    async (req) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      return deps.auth.setDisabled(req.params.id, true, p);
    },
  );
  app.post(
    '/api/v1/users/:id/enable',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'Re-enable an account', params: IdParams, response: { 200: UserDisabled } },
    },
    async (req) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      return deps.auth.setDisabled(req.params.id, false, p);
    },
  );
  app.post(
    '/api/v1/users/:id/mfa/reset',
    {
      config: { policy: policy.admin() },
      schema: { summary: "Remove a user's second factors (lost phone); their sessions end", params: IdParams, response: { 204: NoContent } },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      await deps.auth.resetMfa(req.params.id, p);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/patients/:id/care-team',
    {
      config: { policy: policy.admin() },
      schema: { summary: "Add a clinician (by practitioner id) to a patient's care team", params: IdParams, body: CareTeamBody, response: { 204: NoContent } },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      await deps.patients.assignClinician(req.params.id, req.body.practitionerId, p);
      return reply.status(204).send(null);
    },
  );
  app.delete(
    '/api/v1/patients/:id/care-team/:practitionerId',
    {
      config: { policy: policy.admin() },
      schema: {
        summary: "Remove a clinician from a patient's care team (they lose access to the patient; 404 when they were not on it)",
        params: CareTeamMemberParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      await deps.patients.removeClinician(req.params.id, req.params.practitionerId, p);
      return reply.status(204).send(null);
    },
  );
}
