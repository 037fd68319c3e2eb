import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { CaregiverInvites } from '../../auth/caregiver-invites.ts';
import { requirePrincipal } from '../principal.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../platform/errors.ts';
import { countedAttempt, type LoginThrottle } from '../../auth/login-throttle.ts';
import { CaregiverInvite, CaregiverInviteBody, IdParams, InviteAccepted, InviteAcceptBody, InvitePreview, InviteTokenBody } from '../contracts/index.ts';

/** Caregiver invitations by email: the patient invites, lists and withdraws; the family member previews and accepts. */
export function caregiverInviteRoutes(app: Api, deps: { invites: CaregiverInvites; throttle: LoginThrottle }) {
  // Wrong tokens are counted per address (the throttle's rules: login-throttle.ts createSignInThrottles).
  const throttle = deps.throttle;
  // Counted before it runs (countedAttempt): invalid links sent in parallel cannot all pass the check together.
  const counted = <T>(req: FastifyRequest, reply: FastifyReply, work: () => Promise<T>): Promise<T> =>
    countedAttempt(
      throttle,
      'invite',
      req.ip,
      {
        tooMany: 'too many invalid invitation links',
        isFailure: (err) => err instanceof AppError && /invitation has expired/.test(err.message),
        onRefused: (s) => reply.header('retry-after', String(s)),
      },
      work,
    );

  app.post(
    '/api/v1/patients/:id/caregiver-invites',
    {
      config: { policy: policy.patient('id') },
      schema: {
        summary: 'Invite a family member or carer by email (the patient; an admin): read access to this patient once accepted',
        params: IdParams,
        body: CaregiverInviteBody,
        response: { 201: CaregiverInvite },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.invites.invite(requirePrincipal(req), req.params.id, req.body)),
  );

  app.get(
    '/api/v1/patients/:id/caregiver-invites',
    {
      config: { policy: policy.patient('id') },
      schema: {
        summary: "A patient's caregiver invitations (pending, accepted, expired, withdrawn)",
        params: IdParams,
        response: { 200: CaregiverInvite.array() },
      },
    },
    async (req) => deps.invites.list(requirePrincipal(req), req.params.id),
  );

  app.post(
    '/api/v1/caregiver-invites/:id/revoke',
    {
      config: { policy: policy.signedIn('the patient or an admin (the invitation service checks; others get 404)') },
      schema: { summary: 'Withdraw a pending invitation (its link stops working at once)', params: IdParams, response: { 200: CaregiverInvite } },
    },
    async (req) => deps.invites.revoke(requirePrincipal(req), req.params.id),
  );

  app.post(
    '/api/v1/caregiver-invites/preview',
    {
      config: { policy: policy.public('the emailed invitation link is the credential') },
      schema: {
        summary: 'What an invitation link is for (who invited, which address, whether it has an account)',
        body: InviteTokenBody,
        response: { 200: InvitePreview },
      },
    },
    async (req, reply) => counted(req, reply, () => deps.invites.preview(req.body.token)),
  );

  app.post(
    '/api/v1/caregiver-invites/accept',
    {
      config: { policy: policy.public('the emailed invitation link is the credential (signed in as its address, or creating that account)') },
      schema: {
        summary: 'Accept an invitation: signed in as the invited caregiver account, or creating it (displayName, password)',
        body: InviteAcceptBody,
        response: { 200: InviteAccepted },
      },
    },
    async (req, reply) => counted(req, reply, () => deps.invites.accept(req.body.token, req.principal, req.body, { ip: req.ip })),
  );
}
