import type { Db } from '../platform/db.ts';
import type { Principal } from '../domain/types.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { Clock } from '../platform/clock.ts';
import { AppError, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';

/**
 * Consent records (GDPR art. 7 — given, shown and withdrawable as easily as given; HIPAA §164.510(b) —
 * a patient's agreement to share with family): who may see what, stored, audited in the same transaction,
 * and revocable by the patient.
 * - `caregiver`: a caregiver account reads this patient's portal data and threads (auth/access.ts asks
 *   `caregiverPatientIds` on every request, so a revoked consent is a 404 at once);
 * - `remote-monitoring`, `research`, `sharing` (with a named organisation): recorded and revocable;
 * - SMART apps: the patient's approved apps (smart_grants) are listed with the consents and revoked here too.
 */
export const CONSENT_KINDS = ['caregiver', 'remote-monitoring', 'sharing', 'research'] as const;
export type ConsentKind = (typeof CONSENT_KINDS)[number];

interface ConsentRow {
  id: string;
  patient_id: string;
  kind: ConsentKind;
  grantee_user_id: string | null;
  grantee_name: string | null;
  created_at: Date | string;
  created_by: string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  revoked_by: string | null;
  grantee_email?: string | null;
  grantee_display?: string | null;
}

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);
const actorOf = (p: Principal) => `user:${p.userId}`;

export function createConsents(deps: { db: Db; audit: AuditService; access: AccessPolicy; clock: Clock }) {
  const listeners = new Set<(userId: string) => void>();
  /** A grantee's scope changed (a consent given or revoked): open live feeds re-read it now, not in 30 s. */
  const scopeChanged = (userId: string | null) => userId && listeners.forEach((l) => l(userId));

  const view = (r: ConsentRow) => {
    const now = deps.clock.now();
    const status = r.revoked_at ? 'revoked' : r.expires_at && new Date(r.expires_at).getTime() <= now ? 'expired' : 'active';
    return {
      id: r.id,
      patientId: r.patient_id,
      kind: r.kind,
      grantee: r.grantee_user_id ? { userId: r.grantee_user_id, email: r.grantee_email ?? null, name: r.grantee_display ?? null } : null,
      granteeName: r.grantee_name,
      status: status as 'active' | 'revoked' | 'expired',
      createdAt: iso(r.created_at)!,
      createdBy: r.created_by,
      expiresAt: iso(r.expires_at),
      revokedAt: iso(r.revoked_at),
      revokedBy: r.revoked_by,
    };
  };

  const service = {
    onScopeChanged(listener: (userId: string) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    /** The patients a caregiver may see now: their unrevoked, unexpired caregiver consents. */
    async caregiverPatientIds(userId: string): Promise<string[]> {
      const rows = await deps.db.query<{ patient_id: string }>(
        `SELECT DISTINCT patient_id FROM consents WHERE grantee_user_id = $1 AND kind = 'caregiver' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
        [userId, new Date(deps.clock.now()).toISOString()],
      );
      return rows.map((r) => r.patient_id);
    },

    /** A patient's consents (newest first) and the SMART apps they approved. The route checked the patient is visible. */
    async list(p: Principal, patientId: string) {
      await deps.access.assertPatient(p, patientId);
      const rows = await deps.db.query<ConsentRow>(
        `SELECT c.*, u.email AS grantee_email, u.display_name AS grantee_display FROM consents c LEFT JOIN users u ON u.id = c.grantee_user_id
          WHERE c.patient_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT 500`,
        [patientId],
      );
      const apps = await deps.db.query<{ client_id: string; name: string; scopes: string; last: Date | string }>(
        `SELECT g.client_id, c.name, string_agg(DISTINCT g.scopes, ' ') AS scopes, max(g.created_at) AS last FROM smart_grants g JOIN smart_clients c ON c.id = g.client_id
          WHERE g.kind IN ('access', 'refresh') AND g.revoked_at IS NULL AND g.expires_at > now()
            AND (g.patient_id = $1 OR g.user_id IN (SELECT id FROM users WHERE patient_id = $1))
          GROUP BY g.client_id, c.name ORDER BY c.name`,
        [patientId],
      );
      return {
        consents: rows.map(view),
        apps: apps.map((a) => ({ clientId: a.client_id, name: a.name, scopes: [...new Set(a.scopes.split(' '))].sort(), lastApprovedAt: iso(a.last)! })),
      };
    },

    /** The patient (or an admin recording a signed form) gives a consent. */
    async grant(p: Principal, patientId: string, input: { kind: ConsentKind; email?: string; granteeName?: string; expiresAt?: string }) {
      await deps.access.assertPatient(p, patientId);
      deps.access.assertMayConsentFor(p, patientId);
      let granteeUserId: string | null = null;
      if (input.kind === 'caregiver') {
        if (!input.email) throw new AppError('VALIDATION', "body.email: the caregiver's email is required");
        const [u] = await deps.db.query<{ id: string; role: string; disabled: boolean }>(
          'SELECT id, role, disabled_at IS NOT NULL AS disabled FROM users WHERE lower(email) = lower($1)',
          [input.email],
        );
        // Only caregiver accounts can be named, so this reveals nothing about staff or other patients.
        if (!u || !deps.access.isCaregiverAccount(u)) throw notFound(`caregiver account ${input.email} (ask the clinic to create it)`);
        granteeUserId = u.id;
        const [dup] = await deps.db.query<{ id: string }>(
          `SELECT id FROM consents WHERE patient_id = $1 AND kind = 'caregiver' AND grantee_user_id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
          [patientId, u.id],
        );
        if (dup) throw new AppError('CONFLICT', `${input.email} already has caregiver access (consent ${dup.id})`);
      } else if (input.kind === 'sharing' && !input.granteeName) {
        throw new AppError('VALIDATION', 'body.granteeName: name the organisation the record is shared with');
      }
      const expiresAt = input.expiresAt ? Date.parse(input.expiresAt) : null;
      if (expiresAt !== null && (!Number.isFinite(expiresAt) || expiresAt <= deps.clock.now()))
        throw new AppError('VALIDATION', 'body.expiresAt: must be a time in the future');
      const id = newId('cns');
      await deps.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO consents (id, patient_id, kind, grantee_user_id, grantee_name, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [id, patientId, input.kind, granteeUserId, input.granteeName ?? null, actorOf(p), expiresAt === null ? null : new Date(expiresAt).toISOString()],
        );
        await deps.audit.recordIn(tx, {
          actor: p,
          action: 'consent.grant',
          entityType: 'Consent',
          entityId: id,
          patientId,
          details: { kind: input.kind, grantee: granteeUserId ?? input.granteeName ?? null },
        });
      });
      scopeChanged(granteeUserId);
      const [row] = await deps.db.query<ConsentRow>(
        'SELECT c.*, u.email AS grantee_email, u.display_name AS grantee_display FROM consents c LEFT JOIN users u ON u.id = c.grantee_user_id WHERE c.id = $1',
        [id],
      );
      return view(row);
    },

    /** Withdraws a consent at once: by the patient, an admin, or the caregiver themself stepping back. */
    async revoke(p: Principal, consentId: string) {
      const [row] = await deps.db.query<ConsentRow>('SELECT * FROM consents WHERE id = $1', [consentId]);
      // Someone who may not see the consent learns nothing about it (404, like a patient outside one's scope).
      if (!row || !(await deps.access.mayRevokeConsent(p, row.patient_id, row.grantee_user_id))) throw notFound(`consent ${consentId}`);
      if (row.revoked_at) return view(row);
      let updated: ConsentRow | undefined;
      await deps.db.transaction(async (tx) => {
        [updated] = (await tx.query('UPDATE consents SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING *', [
          consentId,
          actorOf(p),
        ])) as ConsentRow[];
        if (updated)
          await deps.audit.recordIn(tx, {
            actor: p,
            action: 'consent.revoke',
            entityType: 'Consent',
            entityId: consentId,
            patientId: row.patient_id,
            details: { kind: row.kind, grantee: row.grantee_user_id ?? row.grantee_name },
          });
      });
      scopeChanged(row.grantee_user_id);
      return view(updated ?? row);
    },

    /** The patient withdraws a SMART app's access to their record: its tokens stop at once (smart_grants.revoked_at). */
    async revokeApp(p: Principal, patientId: string, clientId: string) {
      await deps.access.assertPatient(p, patientId);
      deps.access.assertMayConsentFor(p, patientId);
      let n = 0;
      await deps.db.transaction(async (tx) => {
        const rows = await tx.query(
          `UPDATE smart_grants SET revoked_at = now() WHERE client_id = $2 AND revoked_at IS NULL AND (patient_id = $1 OR user_id IN (SELECT id FROM users WHERE patient_id = $1)) RETURNING hash`,
          [patientId, clientId],
        );
        n = rows.length;
        if (n)
          await deps.audit.recordIn(tx, {
            actor: p,
            action: 'consent.revoke',
            entityType: 'SmartApp',
            entityId: clientId,
            patientId,
            details: { kind: 'smart-app', grants: n },
          });
      });
      if (!n) throw notFound(`approved app ${clientId}`);
      return { clientId, revoked: n };
    },
  };
  return service;
}

export type Consents = ReturnType<typeof createConsents>;
