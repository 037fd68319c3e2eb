import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { AuditService } from '../../audit/audit.service.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { AuthService } from '../../auth/auth.service.ts';
import type { EmergencyAccess } from '../../auth/emergency-access.ts';
import type { Erasure } from '../../privacy/erasure.ts';
import { requirePrincipal } from '../principal.ts';
import {
  AccessLogEntry,
  ActiveEmergencyGrant,
  AccessLogQuery,
  AuditEntry,
  AuditQuery,
  EmergencyAccessBody,
  EmergencyAccessEntry,
  EmergencyAccessQuery,
  EmergencyGrant,
  Erased,
  EraseBody,
  IdParams,
  ReviewBody,
  Reviewed,
} from '../contracts/index.ts';

/**
 * Audit reports (ONC §170.315(d)(3)): "who saw my record" for the patient and for a breach investigation
 * (HIPAA §164.528 accounting of disclosures, Breach Notification Rule), and a searchable log for admins.
 */
export function auditRoutes(
  app: Api,
  deps: { audit: AuditService; access: AccessPolicy; users: Pick<AuthService, 'userById'>; emergency: EmergencyAccess; erasure: Erasure },
) {
  /**
   * Who each actor is. For a patient reading their own log (`forPatient`), another patient who tried to open their
   * record is "another patient": that person's name and address are theirs, not this patient's to see (found by
   * review). Staff, caregivers and the patient themself are named, as the accounting of disclosures requires.
   */
  const names = async (actors: string[], forPatient?: string) => {
    const out = new Map<string, { email: string; role: string; name: string }>();
    for (const a of new Set(actors)) {
      if (!a.startsWith('user:')) continue;
      const u = await deps.users.userById(a.slice(5));
      if (!u) continue;
      // Another patient: a patient account with a record of its own (a caregiver's account has none and is named).
      const ownRecord = forPatient ? deps.access.patientSelf(u)?.patientId : null;
      if (forPatient && ownRecord && ownRecord !== forPatient) out.set(a, { email: '', role: 'patient', name: 'Another patient (identity withheld)' });
      else out.set(a, { email: u.email, role: u.role, name: u.displayName });
    }
    return out;
  };

  app.get(
    '/api/v1/patients/:id/access-log',
    {
      config: { policy: policy.patient('id') },
      schema: {
        summary: 'Who opened this record, newest first (the patient themself and admins)',
        params: IdParams,
        querystring: AccessLogQuery,
        response: { 200: AccessLogEntry.array() },
      },
    },
    async (req) => {
      const p = requirePrincipal(req);
      const { id } = req.params;
      await deps.access.assertPatient(p, id);
      deps.access.assertSelfOrAdmin(p, id); // the patient themself and admins (breach investigation)
      const rows = await deps.audit.forPatient(id, { limit: req.query.limit, before: req.query.before });
      const self = deps.access.patientSelf(p) ? id : undefined;
      const who = await names(
        rows.map((r) => r.actor),
        self,
      );
      return rows.map((r) => ({
        id: String(r.id),
        at: new Date(r.ts).toISOString(),
        actor: self && who.get(r.actor)?.email === '' ? 'withheld' : r.actor,
        who: who.get(r.actor) ?? null,
        action: r.action,
        what: r.entity_type,
        outcome: r.outcome,
      }));
    },
  );

  app.get(
    '/api/v1/audit',
    {
      config: { policy: policy.admin() },
      schema: {
        summary: 'Search the audit trail (patient, actor, action prefix, outcome, time range)',
        querystring: AuditQuery,
        response: { 200: AuditEntry.array() },
      },
    },
    async (req) => {
      deps.access.assertAdmin(requirePrincipal(req));
      const q = req.query;
      const rows = await deps.audit.search({
        patientId: q.patient,
        actor: q.actor,
        action: q.action,
        outcome: q.outcome,
        from: q.from,
        to: q.to,
        limit: q.limit,
      });
      return rows.map((r) => ({
        id: String(r.id),
        at: new Date(r.ts).toISOString(),
        actor: r.actor,
        action: r.action,
        entityType: r.entity_type,
        entityId: r.entity_id,
        patientId: r.patient_id,
        outcome: r.outcome,
        details: r.details,
      }));
    },
  );

  // (d)(6) break the glass: a clinician outside the care team, with a reason, for 60 minutes; admins review.
  app.post(
    '/api/v1/patients/:id/emergency-access',
    {
      config: { policy: policy.staff('break the glass: a clinician outside the care team, with a reason (the emergency service decides and audits)') },
      schema: {
        summary: 'Break the glass: open a record outside the care team for 60 minutes, with a reason (flagged for review)',
        params: IdParams,
        body: EmergencyAccessBody,
        response: { 201: EmergencyGrant },
      },
    },
    async (req, reply) => {
      const grant = await deps.emergency.open(requirePrincipal(req), req.params.id, req.body.reason);
      return reply.status(201).send(grant);
    },
  );
  app.get(
    '/api/v1/patients/:id/emergency-access',
    {
      config: { policy: policy.patient('id') },
      schema: {
        summary: 'My own unexpired emergency-access grant on this patient (null when I see them as usual)',
        params: IdParams,
        response: { 200: ActiveEmergencyGrant },
      },
    },
    async (req) => ({ grant: await deps.emergency.activeGrant(requirePrincipal(req).userId, req.params.id) }),
  );
  app.get(
    '/api/v1/emergency-access',
    {
      config: { policy: policy.admin() },
      schema: {
        summary: 'Emergency-access grants, newest first (unreviewed=1: the review queue)',
        querystring: EmergencyAccessQuery,
        response: { 200: EmergencyAccessEntry.array() },
      },
    },
    async (req) => {
      deps.access.assertAdmin(requirePrincipal(req));
      return deps.emergency.list({ unreviewed: req.query.unreviewed === '1' || req.query.unreviewed === 'true' });
    },
  );
  app.post(
    '/api/v1/emergency-access/:id/review',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'Mark an emergency-access grant reviewed, with a note', params: IdParams, body: ReviewBody, response: { 200: Reviewed } },
    },
    async (req) => deps.emergency.review(requirePrincipal(req), req.params.id, req.body.note),
  );

  // GDPR art. 17 erasure (admin): crypto-shred + delete identifiable rows; the audit entry survives.
  app.post(
    '/api/v1/patients/:id/erase',
    {
      config: { policy: policy.signedIn('admins only: the erasure service checks and asks for confirmation') },
      schema: {
        summary: "Erase a patient (GDPR art. 17): shred their keys, delete identifiable rows; confirm with the patient's id",
        params: IdParams,
        body: EraseBody,
        response: { 200: Erased },
      },
    },
    async (req) => deps.erasure.erase(requirePrincipal(req), req.params.id, req.body.confirm),
  );
}
