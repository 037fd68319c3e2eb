import type { Db, Queryable } from '../../platform/db.ts';
import type { PatientCipher } from '../../platform/encryption/index.ts';
import type { Resource } from './mapping.ts';

/**
 * Stored versions of resources written through FHIR (R4 §3.1.0.3 vread, §3.1.0.7 history): each body as it
 * was served at that version, with who wrote it and how (the provenance of a manual entry), sealed with the
 * patient's data key. A resource never written through FHIR has no rows here: its history is its one version.
 * `SNAPSHOT` keeps the version a record had before its first FHIR update, so history never starts mid-way.
 * A version that belongs to no patient (a Practitioner, an unassigned Device: staff and inventory data, no
 * PHI) has no data key to seal it with: it is stored as plain JSON with `patient_id` '' (NO_PATIENT).
 */
const NO_PATIENT = '';
export interface StoredVersion {
  version: number;
  method: 'POST' | 'PUT' | 'SNAPSHOT';
  actorUserId: string | null;
  lastUpdated: string;
  resource: Resource;
}

export function createVersionStore(deps: { db: Db; cipher: PatientCipher }) {
  const context = (type: string, id: string, version: number) => `fhir:${type}/${id}/${version}`;
  type Row = {
    version: number;
    method: StoredVersion['method'];
    actor_user_id: string | null;
    last_updated: Date | string;
    body: Uint8Array;
    patient_id: string;
  };
  async function toVersion(type: string, id: string, r: Row): Promise<StoredVersion> {
    const body = r.patient_id === NO_PATIENT ? Buffer.from(r.body) : await deps.cipher.open(r.patient_id, r.body, context(type, id, r.version));
    return {
      version: r.version,
      method: r.method,
      actorUserId: r.actor_user_id,
      lastUpdated: new Date(r.last_updated).toISOString(),
      resource: JSON.parse(body.toString('utf8')) as Resource,
    };
  }
  type Version = {
    type: string;
    id: string;
    /** null: no patient's data (stored unsealed) */ patientId: string | null;
    method: StoredVersion['method'];
    actorUserId: string | null;
    resource: Resource;
  };
  type Sealed = Version & { version: number; body: Buffer };
  const store = {
    /**
     * Seals a version (may read the patient's key, so it runs before any transaction: on PGlite a query
     * outside an open transaction would wait for it); `insert` then writes it inside the caller's transaction.
     */
    async seal(v: Version): Promise<Sealed> {
      const version = Number(v.resource.meta?.versionId ?? 1);
      const plain = Buffer.from(JSON.stringify(v.resource), 'utf8');
      const body = v.patientId === null ? plain : await deps.cipher.seal(v.patientId, plain, context(v.type, v.id, version));
      return { ...v, version, body };
    },
    async insert(q: Queryable, s: Sealed): Promise<void> {
      await q.query(
        `INSERT INTO fhir_versions (type, id, version, patient_id, method, actor_user_id, last_updated, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (type, id, version) DO NOTHING`,
        [s.type, s.id, s.version, s.patientId ?? NO_PATIENT, s.method, s.actorUserId, s.resource.meta!.lastUpdated, s.body],
      );
    },
    async record(v: Version): Promise<void> {
      await store.insert(deps.db, await store.seal(v));
    },
    async has(type: string, id: string): Promise<boolean> {
      return (await deps.db.query('SELECT 1 FROM fhir_versions WHERE type = $1 AND id = $2 LIMIT 1', [type, id])).length > 0;
    },
    /** Newest first (history-instance order, R4 §3.1.0.7). */
    async list(type: string, id: string): Promise<StoredVersion[]> {
      const rows = await deps.db.query<Row>(
        'SELECT version, method, actor_user_id, last_updated, body, patient_id FROM fhir_versions WHERE type = $1 AND id = $2 ORDER BY version DESC',
        [type, id],
      );
      return Promise.all(rows.map((r) => toVersion(type, id, r)));
    },
    async get(type: string, id: string, version: number): Promise<StoredVersion | null> {
      const rows = await deps.db.query<Row>(
        'SELECT version, method, actor_user_id, last_updated, body, patient_id FROM fhir_versions WHERE type = $1 AND id = $2 AND version = $3',
        [type, id, version],
      );
      return rows[0] ? toVersion(type, id, rows[0]) : null;
    },
  };
  return store;
}

export type VersionStore = ReturnType<typeof createVersionStore>;
