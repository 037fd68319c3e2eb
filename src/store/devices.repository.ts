import type { Db, Queryable } from '../platform/db.ts';

export interface Device {
  id: string;
  patientId: string | null;
  type: string;
  name: string | null;
  online: boolean;
  battery: number | null;
  lastSeenAt: number | null;
  rejectedCount: number;
  createdAt: number;
  /** [sec] Disabled (lost, returned): its secret is refused and its sessions are closed. */
  disabled: boolean;
}

export interface DeviceAuth {
  id: string;
  patientId: string | null;
  secretHash: string;
  disabled: boolean;
}

/** A `devices` row as the driver returns it (FHIR's table search reads the same columns). */
export interface DeviceRow {
  id: string;
  patient_id: string | null;
  type: string;
  name: string | null;
  online: boolean;
  battery: number | null;
  last_seen_at: Date | null;
  rejected_count: number;
  created_at: Date;
  disabled_at?: Date | null;
}

export const deviceFromRow = (r: DeviceRow): Device => ({
  id: r.id,
  patientId: r.patient_id,
  type: r.type,
  name: r.name,
  online: r.online,
  battery: r.battery,
  lastSeenAt: r.last_seen_at ? new Date(r.last_seen_at).getTime() : null,
  rejectedCount: r.rejected_count,
  createdAt: new Date(r.created_at).getTime(),
  disabled: !!r.disabled_at,
});

export const DEVICE_COLUMNS = 'id, patient_id, type, name, online, battery, last_seen_at, rejected_count, created_at, disabled_at';

export function createDevicesRepository(db: Db) {
  return {
    /** Writes take an optional transaction (`q`), so the change commits with its audit entry (audit.change). */
    async insert(d: { id: string; patientId: string | null; type: string; name: string | null; secretHash: string }, q: Queryable = db) {
      await q.query('INSERT INTO devices (id, patient_id, type, name, secret_hash) VALUES ($1, $2, $3, $4, $5)', [
        d.id,
        d.patientId,
        d.type,
        d.name,
        d.secretHash,
      ]);
    },
    /** [sec] a new secret (rotation): the old one stops working. */
    async setSecretHash(id: string, secretHash: string, q: Queryable = db): Promise<boolean> {
      return (await q.query('UPDATE devices SET secret_hash = $2 WHERE id = $1 RETURNING id', [id, secretHash])).length > 0;
    },
    /** [sec] disable (true) or enable a device; false when there is no such device. */
    async setDisabled(id: string, disabled: boolean, q: Queryable = db): Promise<boolean> {
      return (
        (await q.query(`UPDATE devices SET disabled_at = ${disabled ? 'coalesce(disabled_at, now())' : 'NULL'} WHERE id = $1 RETURNING id`, [id])).length > 0
      );
    },
    async authOf(id: string): Promise<DeviceAuth | null> {
      const rows = await db.query<{ id: string; patient_id: string | null; secret_hash: string; disabled: boolean }>(
        'SELECT id, patient_id, secret_hash, disabled_at IS NOT NULL AS disabled FROM devices WHERE id = $1',
        [id],
      );
      return rows[0] ? { id: rows[0].id, patientId: rows[0].patient_id, secretHash: rows[0].secret_hash, disabled: rows[0].disabled } : null;
    },
    async byId(id: string): Promise<Device | null> {
      const rows = await db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id]);
      return rows[0] ? deviceFromRow(rows[0]) : null;
    },
    async byIds(ids: string[]): Promise<Device[]> {
      if (!ids.length) return [];
      const rows = await db.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ANY($1::text[]) ORDER BY id`, [ids]);
      return rows.map(deviceFromRow);
    },
    /** `patientIds` null: every device. */
    async list(patientIds: string[] | null): Promise<Device[]> {
      const rows = await db.query<DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE ($1::text[] IS NULL OR patient_id = ANY($1::text[])) ORDER BY patient_id, type, id`,
        [patientIds],
      );
      return rows.map(deviceFromRow);
    },
    async setStatus(id: string, s: { online: boolean; battery?: number | null; at: number }) {
      await db.query('UPDATE devices SET online = $2, battery = COALESCE($3, battery), last_seen_at = GREATEST(last_seen_at, $4) WHERE id = $1', [
        id,
        s.online,
        s.battery ?? null,
        new Date(s.at).toISOString(),
      ]);
    },
    /** Marks devices seen (one statement for a whole ingest batch). */
    async touch(ids: string[], at: number) {
      if (ids.length === 0) return;
      await db.query('UPDATE devices SET last_seen_at = GREATEST(last_seen_at, $2), online = true WHERE id = ANY($1::text[])', [
        ids,
        new Date(at).toISOString(),
      ]);
    },
    async countRejected(id: string, n = 1) {
      await db.query('UPDATE devices SET rejected_count = rejected_count + $2 WHERE id = $1', [id, n]);
    },
  };
}

export type DevicesRepository = ReturnType<typeof createDevicesRepository>;
