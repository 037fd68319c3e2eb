import type { Db } from '../platform/db.ts';
import type { PatientCipherAdmin } from '../platform/encryption/index.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { Principal } from '../domain/types.ts';
import { AppError, notFound } from '../platform/errors.ts';

/**
 * GDPR art. 17 erasure: (1) crypto-shred the patient's data keys, so every sealed message body and attachment
 * — including copies in backups — becomes unreadable; (2) delete the identifiable rows (the patient, their
 * login, care team, threads, appointments, and the clinical data not kept under a retention exception);
 * (3) an audit entry that survives, naming only the pseudonymous patient id and the counts.
 * Retention exceptions (`VIGIL_ERASURE_RETAIN`, e.g. "readings,alerts"): those rows stay, keyed by the
 * pseudonymous id only, for the period the clinic's medical-records law requires.
 */
export const ERASABLE = ['readings', 'ecg', 'alerts', 'commands', 'devices'] as const;
export type Erasable = (typeof ERASABLE)[number];

const DELETES: Record<Erasable, string[]> = {
  readings: [
    'DELETE FROM readings WHERE patient_id = $1',
    'DELETE FROM latest_readings WHERE patient_id = $1',
    'DELETE FROM csv_import_keys WHERE patient_id = $1',
  ],
  ecg: ['DELETE FROM ecg_chunks WHERE patient_id = $1'],
  alerts: ['DELETE FROM notification_jobs WHERE alert_id IN (SELECT id FROM alerts WHERE patient_id = $1)', 'DELETE FROM alerts WHERE patient_id = $1'],
  commands: ['DELETE FROM device_commands WHERE patient_id = $1'],
  devices: [
    'DELETE FROM rejected_payloads WHERE device_id IN (SELECT id FROM devices WHERE patient_id = $1)',
    'DELETE FROM ingested_messages WHERE device_id IN (SELECT id FROM devices WHERE patient_id = $1)',
    'DELETE FROM devices WHERE patient_id = $1',
  ],
};

export function createErasure(deps: { db: Db; cipher: PatientCipherAdmin; audit: AuditService; access: AccessPolicy; retain: Erasable[] }) {
  return {
    async erase(
      p: Principal | 'cli',
      patientId: string,
      confirm: unknown,
    ): Promise<{ patientId: string; shredded: true; deleted: Record<string, number>; retained: Erasable[] }> {
      if (p !== 'cli') deps.access.assertAdmin(p);
      if (confirm !== patientId) throw new AppError('VALIDATION', `to erase, send {"confirm": "${patientId}"}: this cannot be undone`);
      const [row] = await deps.db.query('SELECT id FROM patients WHERE id = $1', [patientId]);
      if (!row) throw notFound(`patient ${patientId}`);
      await deps.cipher.shred(patientId); // first: even if what follows fails, the sealed data is gone
      const deleted: Record<string, number> = {};
      await deps.db.transaction(async (tx) => {
        for (const what of ERASABLE) {
          if (deps.retain.includes(what)) continue;
          let n = 0;
          for (const sql of DELETES[what])
            n +=
              (
                (await tx.query(sql.replace(/^DELETE/, 'WITH d AS (DELETE') + ' RETURNING 1) SELECT count(*)::int AS n FROM d', [patientId])) as Array<{
                  n: number;
                }>
              )[0]?.n ?? 0;
          deleted[what] = n;
        }
        // The patient row: its login, care team, threads/messages/attachments, appointments and encounters cascade.
        await tx.query('DELETE FROM smart_grants WHERE patient_id = $1', [patientId]);
        await tx.query('DELETE FROM users WHERE patient_id = $1', [patientId]);
        await tx.query('DELETE FROM patients WHERE id = $1', [patientId]);
        await deps.audit.recordIn(tx, {
          actor: p,
          action: 'patient.erase',
          entityType: 'Patient',
          entityId: patientId,
          patientId,
          details: { deleted, retained: deps.retain, shredded: true },
        });
      });
      return { patientId, shredded: true, deleted, retained: deps.retain };
    },
  };
}

export type Erasure = ReturnType<typeof createErasure>;
