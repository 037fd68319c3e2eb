import type { Db } from '../platform/db.ts';
import type { Principal } from '../domain/types.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { Clock } from '../platform/clock.ts';
import { AppError, forbidden, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';

/**
 * "Break the glass" (ONC §170.315(d)(6), HIPAA §164.312(a)(2)(ii)): a clinician who is not on a patient's
 * care team may open the record in an emergency by stating a reason. The grant lasts GRANT_MINUTES, is
 * audited (flagged for review), and every read made with it is audited as usual; admins review each grant.
 */
export const GRANT_MINUTES = 60;

export function createEmergencyAccess(deps: { db: Db; audit: AuditService; patients: PatientsRepository; clock: Clock }) {
  return {
    /** Patients this user may see through an unexpired grant. */
    async activePatientIds(userId: string): Promise<string[]> {
      const rows = await deps.db.query<{ patient_id: string }>('SELECT DISTINCT patient_id FROM emergency_access WHERE user_id = $1 AND expires_at > $2', [
        userId,
        new Date(deps.clock.now()).toISOString(),
      ]);
      return rows.map((r) => r.patient_id);
    },

    /** This user's unexpired grant on this patient, if any (the banner on the record says so). */
    async activeGrant(userId: string, patientId: string): Promise<{ id: string; patientId: string; reason: string; expiresAt: string } | null> {
      const [r] = await deps.db.query<{ id: string; reason: string; expires_at: Date | string }>(
        'SELECT id, reason, expires_at FROM emergency_access WHERE user_id = $1 AND patient_id = $2 AND expires_at > $3 ORDER BY expires_at DESC LIMIT 1',
        [userId, patientId, new Date(deps.clock.now()).toISOString()],
      );
      return r ? { id: r.id, patientId, reason: r.reason, expiresAt: new Date(r.expires_at).toISOString() } : null;
    },

    async open(p: Principal, patientId: string, reason: unknown) {
      if (p.role !== 'clinician') throw forbidden('emergency access is for clinicians (admins already see every patient)');
      if (p.credential?.kind === 'token') throw forbidden('emergency access needs a signed-in person, not an API token');
      if (typeof reason !== 'string' || reason.trim().length < 10 || reason.length > 1000)
        throw new AppError('VALIDATION', 'reason is required: say why, in 10–1000 characters');
      if (!(await deps.patients.byId(patientId))) throw notFound(`patient ${patientId}`);
      const id = newId('bg');
      const expiresAt = deps.clock.now() + GRANT_MINUTES * 60_000;
      await deps.audit.change(async (tx, log) => {
        await tx.query('INSERT INTO emergency_access (id, user_id, patient_id, reason, expires_at) VALUES ($1, $2, $3, $4, $5)', [
          id,
          p.userId,
          patientId,
          reason.trim(),
          new Date(expiresAt).toISOString(),
        ]);
        log({
          actor: p,
          action: 'access.emergency',
          entityType: 'EmergencyAccess',
          entityId: id,
          patientId,
          details: { reason: reason.trim(), expiresAt: new Date(expiresAt).toISOString(), review: 'pending' },
        });
      });
      return { id, patientId, expiresAt: new Date(expiresAt).toISOString() };
    },

    async list(opts: { unreviewed?: boolean } = {}) {
      const rows = await deps.db.query<{
        id: string;
        user_id: string;
        patient_id: string;
        reason: string;
        created_at: Date;
        expires_at: Date;
        reviewed_at: Date | null;
        reviewed_by: string | null;
        review_note: string | null;
      }>(`SELECT * FROM emergency_access WHERE ($1::boolean IS NOT TRUE OR reviewed_at IS NULL) ORDER BY created_at DESC LIMIT 500`, [opts.unreviewed ?? null]);
      return rows.map((r) => ({
        id: r.id,
        userId: r.user_id,
        patientId: r.patient_id,
        reason: r.reason,
        createdAt: new Date(r.created_at).toISOString(),
        expiresAt: new Date(r.expires_at).toISOString(),
        reviewedAt: r.reviewed_at ? new Date(r.reviewed_at).toISOString() : null,
        reviewedBy: r.reviewed_by,
        reviewNote: r.review_note,
      }));
    },

    async review(p: Principal, id: string, note: unknown) {
      if (p.role !== 'admin') throw forbidden('admin role required');
      if (note !== undefined && (typeof note !== 'string' || note.length > 1000))
        throw new AppError('VALIDATION', 'note must be text of at most 1000 characters');
      await deps.audit.change(async (tx, log) => {
        const rows = await tx.query<{ patient_id: string }>(
          'UPDATE emergency_access SET reviewed_at = now(), reviewed_by = $2, review_note = $3 WHERE id = $1 AND reviewed_at IS NULL RETURNING patient_id',
          [id, p.userId, (note as string | undefined) ?? null],
        );
        if (!rows.length) throw notFound(`unreviewed emergency access ${id}`);
        log({
          actor: p,
          action: 'access.emergency.review',
          entityType: 'EmergencyAccess',
          entityId: id,
          patientId: rows[0].patient_id,
          details: { note: note ?? null },
        });
      });
      return { id, reviewed: true };
    },
  };
}

export type EmergencyAccess = ReturnType<typeof createEmergencyAccess>;
