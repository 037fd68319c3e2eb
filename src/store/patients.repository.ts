import type { Db, Queryable } from '../platform/db.ts';

export interface Patient {
  id: string;
  name: string;
  birthDate: string | null;
  sex: string | null;
  mrn: string | null;
  settings: Record<string, unknown>;
  createdAt: number;
  /** FHIR meta.versionId: 1 at creation, +1 on every demographic update (FHIR PUT). */
  version?: number;
  /** Epoch ms of the last demographic update, null if never updated. */
  updatedAt?: number | null;
}

export interface Practitioner {
  id: string;
  name: string;
  qualification: string | null;
}

interface PatientRow {
  id: string;
  name: string;
  birth_date: Date | string | null;
  sex: string | null;
  mrn: string | null;
  settings: Record<string, unknown>;
  created_at: Date;
  version?: number;
  updated_at?: Date | null;
}

const isoDate = (d: Date | string | null) =>
  d === null ? null : typeof d === 'string' ? d.slice(0, 10) : new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);

const toPatient = (r: PatientRow): Patient => ({
  id: r.id,
  name: r.name,
  birthDate: isoDate(r.birth_date),
  sex: r.sex,
  mrn: r.mrn,
  settings: r.settings ?? {},
  createdAt: new Date(r.created_at).getTime(),
  version: r.version ?? 1,
  updatedAt: r.updated_at ? new Date(r.updated_at).getTime() : null,
});

export function createPatientsRepository(db: Db) {
  return {
    /** `q`: a transaction to write in (a FHIR transaction Bundle), else the pool. */
    async insert(
      p: { id: string; name: string; birthDate?: string | null; sex?: string | null; mrn?: string | null; settings?: Record<string, unknown> },
      q: Queryable = db,
    ) {
      await q.query('INSERT INTO patients (id, name, birth_date, sex, mrn, settings) VALUES ($1, $2, $3, $4, $5, $6)', [
        p.id,
        p.name,
        p.birthDate ?? null,
        p.sex ?? null,
        p.mrn ?? null,
        JSON.stringify(p.settings ?? {}),
      ]);
    },
    /** The patient holding this MRN (unique), if any. */
    async idWithMrn(mrn: string): Promise<string | null> {
      const rows = await db.query<{ id: string }>('SELECT id FROM patients WHERE mrn = $1', [mrn]);
      return rows[0]?.id ?? null;
    },
    async byId(id: string): Promise<Patient | null> {
      const rows = await db.query<PatientRow>('SELECT * FROM patients WHERE id = $1', [id]);
      return rows[0] ? toPatient(rows[0]) : null;
    },
    /** `ids` null: all patients. */
    async list(ids: string[] | null, limit = 1000, offset = 0): Promise<Patient[]> {
      const rows = await db.query<PatientRow>('SELECT * FROM patients WHERE ($1::text[] IS NULL OR id = ANY($1::text[])) ORDER BY name LIMIT $2 OFFSET $3', [
        ids,
        limit,
        offset,
      ]);
      return rows.map(toPatient);
    },
    async count(ids: string[] | null): Promise<number> {
      const [{ n }] = await db.query<{ n: string }>('SELECT count(*) AS n FROM patients WHERE ($1::text[] IS NULL OR id = ANY($1::text[]))', [ids]);
      return Number(n);
    },
    /**
     * Replaces the demographics if the row is still at `expectedVersion` (optimistic concurrency for FHIR
     * If-Match); returns the new row, or null when another write got there first (or the id is unknown).
     */
    async updateDemographics(
      q: Queryable,
      id: string,
      d: { name: string; birthDate: string | null; sex: string | null; mrn: string | null },
      expectedVersion: number,
      at: number,
    ): Promise<Patient | null> {
      const rows = await q.query<PatientRow>(
        `UPDATE patients SET name = $2, birth_date = $3, sex = $4, mrn = $5, version = version + 1, updated_at = $7
         WHERE id = $1 AND version = $6 RETURNING *`,
        [id, d.name, d.birthDate, d.sex, d.mrn, expectedVersion, new Date(at).toISOString()],
      );
      return rows[0] ? toPatient(rows[0]) : null;
    },
    async updateSettings(id: string, settings: Record<string, unknown>, q: Queryable = db) {
      await q.query('UPDATE patients SET settings = settings || $2::jsonb WHERE id = $1', [id, JSON.stringify(settings)]);
    },

    async insertPractitioner(p: Practitioner, q: Queryable = db) {
      await q.query('INSERT INTO practitioners (id, name, qualification) VALUES ($1, $2, $3)', [p.id, p.name, p.qualification]);
    },
    async practitionerById(id: string): Promise<Practitioner | null> {
      const rows = await db.query<Practitioner>('SELECT id, name, qualification FROM practitioners WHERE id = $1', [id]);
      return rows[0] ?? null;
    },
    async listPractitioners(ids: string[] | null): Promise<Practitioner[]> {
      return db.query<Practitioner>('SELECT id, name, qualification FROM practitioners WHERE ($1::text[] IS NULL OR id = ANY($1::text[])) ORDER BY name', [
        ids,
      ]);
    },
    async addToCareTeam(patientId: string, practitionerId: string, role = 'clinician', q: Queryable = db) {
      await q.query('INSERT INTO care_team_members (patient_id, practitioner_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        patientId,
        practitionerId,
        role,
      ]);
    },
    /** True when the practitioner was on the team. */
    async removeFromCareTeam(patientId: string, practitionerId: string, q: Queryable = db): Promise<boolean> {
      const rows = await q.query<{ patient_id: string }>('DELETE FROM care_team_members WHERE patient_id = $1 AND practitioner_id = $2 RETURNING patient_id', [
        patientId,
        practitionerId,
      ]);
      return rows.length > 0;
    },
    async careTeamOf(patientId: string): Promise<Practitioner[]> {
      return db.query<Practitioner>(
        `SELECT p.id, p.name, p.qualification FROM care_team_members c JOIN practitioners p ON p.id = c.practitioner_id
         WHERE c.patient_id = $1 ORDER BY p.name`,
        [patientId],
      );
    },
    async patientIdsOfPractitioner(practitionerId: string): Promise<string[]> {
      const rows = await db.query<{ patient_id: string }>('SELECT patient_id FROM care_team_members WHERE practitioner_id = $1', [practitionerId]);
      return rows.map((r) => r.patient_id);
    },
    /** Practitioners sharing a care team with any of these patients (what a patient may see). */
    async practitionerIdsOfPatients(patientIds: string[]): Promise<string[]> {
      const rows = await db.query<{ practitioner_id: string }>('SELECT DISTINCT practitioner_id FROM care_team_members WHERE patient_id = ANY($1::text[])', [
        patientIds,
      ]);
      return rows.map((r) => r.practitioner_id);
    },
  };
}

export type PatientsRepository = ReturnType<typeof createPatientsRepository>;
