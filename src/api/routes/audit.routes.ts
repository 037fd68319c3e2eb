import { policy } from '../policy.ts';
import type { FastifyInstance } from 'fastify';
import type { AuditService } from '../../audit/audit.service.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { UsersRepository } from '../../store/users.repository.ts';
import type { EmergencyAccess } from '../../auth/emergency-access.ts';
import type { Erasure } from '../../privacy/erasure.ts';
import { requirePrincipal } from '../principal.ts';
import { badRequest } from '../../platform/errors.ts';

const limitOf = (raw: string | undefined) => {
  const limit = raw === undefined ? 200 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be a whole number 1–1000');
  return limit;
};

/**
 * Audit reports (ONC §170.315(d)(3)): "who saw my record" for the patient and for a breach investigation
 * (HIPAA §164.528 accounting of disclosures, Breach Notification Rule), and a searchable log for admins.
 */
export function auditRoutes(app: FastifyInstance, deps: { audit: AuditService; access: AccessPolicy; users: UsersRepository; emergency: EmergencyAccess; erasure: Erasure }) {
  const names = async (actors: string[]) => {
    const out = new Map<string, { email: string; role: string; name: string }>();
    for (const a of new Set(actors)) {
      if (!a.startsWith('user:')) continue;
      const u = await deps.users.byId(a.slice(5));
      if (u) out.set(a, { email: u.email, role: u.role, name: u.displayName });
    }
    return out;
  };

  app.get('/api/v1/patients/:id/access-log', { config: { policy: policy.patient('id') } }, async (req) => {
    const p = requirePrincipal(req);
    const { id } = req.params as { id: string };
    await deps.access.assertPatient(p, id);
    deps.access.assertSelfOrAdmin(p, id);
    const q = req.query as { limit?: string; before?: string };
    if (q.before !== undefined && !/^\d{1,18}$/.test(q.before)) throw badRequest('before must be an entry id');
    const rows = await deps.audit.forPatient(id, { limit: limitOf(q.limit), before: q.before });
    const who = await names(rows.map((r) => r.actor));
    return rows.map((r) => ({ id: String(r.id), at: new Date(r.ts).toISOString(), actor: r.actor, who: who.get(r.actor) ?? null, action: r.action, what: r.entity_type, outcome: r.outcome }));
  });

  app.get('/api/v1/audit', { config: { policy: policy.admin() } }, async (req) => {
    const p = requirePrincipal(req);
    deps.access.assertAdmin(p);
    const q = req.query as Record<string, string | undefined>;
    for (const k of ['from', 'to']) if (q[k] !== undefined && Number.isNaN(Date.parse(q[k]!))) throw badRequest(`${k} must be an ISO date`);
    for (const k of ['patient', 'actor', 'action', 'outcome']) if (q[k] !== undefined && (typeof q[k] !== 'string' || q[k]!.length > 200)) throw badRequest(`${k} must be text of at most 200 characters`);
    const rows = await deps.audit.search({ patientId: q.patient, actor: q.actor, action: q.action, outcome: q.outcome, from: q.from, to: q.to, limit: limitOf(q.limit) });
    return rows.map((r) => ({ id: String(r.id), at: new Date(r.ts).toISOString(), actor: r.actor, action: r.action, entityType: r.entity_type, entityId: r.entity_id, patientId: r.patient_id, outcome: r.outcome, details: r.details }));
  });

  // (d)(6) break the glass: a clinician outside the care team, with a reason, for 60 minutes; admins review.
  app.post('/api/v1/patients/:id/emergency-access', { config: { policy: policy.staff('break the glass: a clinician outside the care team, with a reason (the emergency service decides and audits)') } }, async (req, reply) => {
    const p = requirePrincipal(req);
    const grant = await deps.emergency.open(p, (req.params as { id: string }).id, (req.body as { reason?: unknown } | undefined)?.reason);
    return reply.status(201).send(grant);
  });
  app.get('/api/v1/emergency-access', { config: { policy: policy.admin() } }, async (req) => {
    deps.access.assertAdmin(requirePrincipal(req));
    return deps.emergency.list({ unreviewed: (req.query as { unreviewed?: string }).unreviewed === '1' });
  });
  app.post('/api/v1/emergency-access/:id/review', { config: { policy: policy.admin() } }, async (req) => deps.emergency.review(requirePrincipal(req), (req.params as { id: string }).id, (req.body as { note?: unknown } | undefined)?.note));

  // GDPR art. 17 erasure (admin): crypto-shred + delete identifiable rows; the audit entry survives.
  app.post('/api/v1/patients/:id/erase', { config: { policy: policy.signedIn('admins only: the erasure service checks and asks for confirmation') } }, async (req) => {
    const p = requirePrincipal(req);
    return deps.erasure.erase(p, (req.params as { id: string }).id, (req.body as { confirm?: unknown } | undefined)?.confirm);
  });
}
