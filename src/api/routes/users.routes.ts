import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/auth.service.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { PatientService } from '../../patients/patient.service.ts';
import type { Role } from '../../domain/types.ts';
import { requirePrincipal } from '../principal.ts';

/** Account administration (admin only); the CLI uses these while a server holds the embedded database. */
export function userRoutes(app: FastifyInstance, deps: { auth: AuthService; access: AccessPolicy; patients: PatientService }) {
  app.post('/api/v1/users', async (req, reply) => {
    const p = requirePrincipal(req);
    deps.access.assertAdmin(p);
    const b = (req.body ?? {}) as { email?: string; role?: Role; displayName?: string; password?: string; patientId?: string };
    const user = await deps.auth.createUser({ email: b.email ?? '', role: b.role as Role, displayName: b.displayName, password: b.password, patientId: b.patientId ?? null }, p);
    return reply.status(201).send(user);
  });

  app.get('/api/v1/users', async (req) => {
    deps.access.assertAdmin(requirePrincipal(req));
    return (await deps.auth.listUsers()).map(({ userId, email, role, displayName, practitionerId, patientId }) => ({ id: userId, email, role, displayName, practitionerId, patientId }));
  });

  app.post('/api/v1/tokens', async (req, reply) => {
    const p = requirePrincipal(req);
    const b = (req.body ?? {}) as { email?: string; name?: string };
    // Anyone may mint a token for themself; only admins for others.
    if (b.email && b.email.toLowerCase() !== p.email) deps.access.assertAdmin(p);
    return reply.status(201).send(await deps.auth.createToken(b.email ?? p.email, b.name ?? null, p));
  });

  app.post('/api/v1/patients/:id/care-team', async (req, reply) => {
    const p = requirePrincipal(req);
    deps.access.assertAdmin(p);
    const { practitionerId } = (req.body ?? {}) as { practitionerId?: string };
    await deps.patients.assignClinician((req.params as { id: string }).id, practitionerId ?? '', p);
    return reply.status(204).send();
  });
}
