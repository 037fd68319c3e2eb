import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { AuthService } from '../../auth/auth.service.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { PatientService } from '../../patients/patient.service.ts';
import type { Role } from '../../domain/types.ts';
import { requirePrincipal } from '../principal.ts';
import { badRequest } from '../../platform/errors.ts';

/** Account administration (admin only); the CLI uses these while a server holds the embedded database. */
export function userRoutes(app: Api, deps: { auth: AuthService; access: AccessPolicy; patients: PatientService }) {
  app.post('/api/v1/users', { config: { policy: policy.admin() } }, async (req, reply) => {
    const p = requirePrincipal(req);
    deps.access.assertAdmin(p);
    const b = (req.body ?? {}) as { email?: string; role?: Role; displayName?: string; password?: string; patientId?: string };
    const user = await deps.auth.createUser({ email: b.email ?? '', role: b.role as Role, displayName: b.displayName, password: b.password, patientId: b.patientId ?? null }, p);
    return reply.status(201).send(user);
  });

  app.get('/api/v1/users', { config: { policy: policy.admin() } }, async (req) => {
    deps.access.assertAdmin(requirePrincipal(req));
    return (await deps.auth.listUsers()).map(({ userId, email, role, displayName, practitionerId, patientId, disabled }) => ({ id: userId, email, role, displayName, practitionerId, patientId, disabled }));
  });

  // API tokens (F4): scoped, expiring, listed and revocable by their owner and by admins.
  app.post('/api/v1/tokens', { config: { policy: policy.signedIn('their own tokens; admins for anyone') } }, async (req, reply) => {
    const p = requirePrincipal(req);
    const b = (req.body ?? {}) as { email?: unknown; name?: unknown; scope?: unknown; patientIds?: unknown; ttlDays?: unknown };
    if (b.email !== undefined && typeof b.email !== 'string') throw badRequest('email must be text');
    if (b.name !== undefined && b.name !== null && typeof b.name !== 'string') throw badRequest('name must be text');
    if (b.ttlDays !== undefined && typeof b.ttlDays !== 'number') throw badRequest('ttlDays must be a number of days');
    // Anyone may mint a token for themself; only admins for others.
    if (b.email && b.email.toLowerCase() !== p.email) deps.access.assertAdmin(p);
    // A token's patients must be ones the caller may see.
    const patientIds = b.patientIds === undefined || b.patientIds === null ? null : (b.patientIds as string[]);
    if (patientIds) {
      if (!Array.isArray(patientIds) || patientIds.some((x) => typeof x !== 'string')) throw badRequest('patientIds must be a list of patient ids');
      for (const id of patientIds) await deps.access.assertPatient(p, id);
    }
    const t = await deps.auth.createToken(b.email ?? p.email, (b.name as string | undefined) ?? null, p, { scope: b.scope as 'read' | 'write' | undefined, patientIds, ttlDays: b.ttlDays as number | undefined });
    return reply.status(201).send(t);
  });

  app.get('/api/v1/tokens', { config: { policy: policy.signedIn('their own tokens; admins for anyone') } }, async (req) => {
    const p = requirePrincipal(req);
    return deps.auth.listTokens(p, (req.query as { all?: string }).all === '1' || (req.query as { all?: string }).all === 'true');
  });

  app.delete('/api/v1/tokens/:id', { config: { policy: policy.signedIn('their own tokens; admins for anyone') } }, async (req) => deps.auth.revokeToken((req.params as { id: string }).id, requirePrincipal(req)));

  // Accounts can be disabled (every session ends, tokens stop at once) and re-enabled; a lost phone's second factor reset.
  app.post('/api/v1/users/:id/disable', { config: { policy: policy.admin() } }, async (req) => {
    const p = requirePrincipal(req);
    deps.access.assertAdmin(p);
    return deps.auth.setDisabled((req.params as { id: string }).id, true, p);
  });
  app.post('/api/v1/users/:id/enable', { config: { policy: policy.admin() } }, async (req) => {
    const p = requirePrincipal(req);
    deps.access.assertAdmin(p);
    return deps.auth.setDisabled((req.params as { id: string }).id, false, p);
  });
  app.post('/api/v1/users/:id/mfa/reset', { config: { policy: policy.admin() } }, async (req, reply) => {
    const p = requirePrincipal(req);
    deps.access.assertAdmin(p);
    await deps.auth.resetMfa((req.params as { id: string }).id, p);
    return reply.status(204).send();
  });

  app.post('/api/v1/patients/:id/care-team', { config: { policy: policy.admin() } }, async (req, reply) => {
    const p = requirePrincipal(req);
    deps.access.assertAdmin(p);
    const { practitionerId } = (req.body ?? {}) as { practitionerId?: string };
    await deps.patients.assignClinician((req.params as { id: string }).id, practitionerId ?? '', p);
    return reply.status(204).send();
  });
}
