import type { Db, Queryable } from '../platform/db.ts';
import type { EcgChunk, StoredEcgChunk } from '../domain/types.ts';

interface EcgRow {
  id: string;
  patient_id: string;
  device_id: string;
  ts: Date | string;
  seq: string | null;
  fs: number;
  lead: string;
  unit: string;
  samples: number[];
}

const toChunk = (r: EcgRow): StoredEcgChunk => ({
  id: String(r.id),
  patientId: r.patient_id,
  deviceId: r.device_id,
  ts: new Date(r.ts).getTime(),
  seq: r.seq === null ? null : Number(r.seq),
  fs: Number(r.fs),
  lead: r.lead,
  unit: r.unit,
  samples: r.samples,
});

export function createEcgRepository(db: Db) {
  return {
    /** Stores chunks (one statement); a repeated (device, seq) is skipped. Returns the stored ones. */
    async insertBatch(tx: Queryable, chunks: Array<EcgChunk & { patientId: string; deviceId: string }>): Promise<StoredEcgChunk[]> {
      if (chunks.length === 0) return [];
      const rows = await tx.query<EcgRow>(
        `INSERT INTO ecg_chunks (patient_id, device_id, ts, seq, fs, lead, unit, samples)
         SELECT p, d, t, s, f, l, u, string_to_array(x, ',')::int[]
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::real[], $6::text[], $7::text[], $8::text[])
           AS v(p, d, t, s, f, l, u, x)
         ON CONFLICT (device_id, seq) WHERE seq IS NOT NULL DO NOTHING
         RETURNING id, patient_id, device_id, ts, seq, fs, lead, unit, samples`,
        [
          chunks.map((c) => c.patientId),
          chunks.map((c) => c.deviceId),
          chunks.map((c) => new Date(c.ts).toISOString()),
          chunks.map((c) => c.seq),
          chunks.map((c) => c.fs),
          chunks.map((c) => c.lead),
          chunks.map((c) => c.unit),
          chunks.map((c) => c.samples.join(',')),
        ],
      );
      return rows.map(toChunk);
    },

    /** The chunks covering the last `seconds` of a patient's ECG, oldest first. */
    async latest(patientId: string, seconds: number): Promise<StoredEcgChunk[]> {
      const rows = await db.query<EcgRow>(
        `SELECT * FROM (SELECT id, patient_id, device_id, ts, seq, fs, lead, unit, samples FROM ecg_chunks
           WHERE patient_id = $1 ORDER BY ts DESC LIMIT $2) recent ORDER BY ts ASC`,
        [patientId, Math.max(1, Math.ceil(seconds))],
      );
      return rows.map(toChunk);
    },

    async range(patientIds: string[] | null, from: number, to: number, limit: number, offset = 0): Promise<StoredEcgChunk[]> {
      const rows = await db.query<EcgRow>(
        `SELECT id, patient_id, device_id, ts, seq, fs, lead, unit, samples FROM ecg_chunks
         WHERE ($1::text[] IS NULL OR patient_id = ANY($1::text[])) AND ts >= $2 AND ts <= $3
         ORDER BY ts DESC LIMIT $4 OFFSET $5`,
        [patientIds, new Date(from).toISOString(), new Date(to).toISOString(), limit, offset],
      );
      return rows.map(toChunk);
    },

    /** Chunks by id, oldest first (another instance announced them: cluster/relay.ts). */
    async byIds(ids: string[]): Promise<StoredEcgChunk[]> {
      const valid = ids.filter((id) => /^\d+$/.test(id));
      if (valid.length === 0) return [];
      const rows = await db.query<EcgRow>('SELECT * FROM ecg_chunks WHERE id = ANY($1::bigint[]) ORDER BY device_id, ts', [valid]);
      return rows.map(toChunk);
    },

    async byId(id: string): Promise<StoredEcgChunk | null> {
      if (!/^\d+$/.test(id)) return null;
      const rows = await db.query<EcgRow>('SELECT * FROM ecg_chunks WHERE id = $1', [id]);
      return rows[0] ? toChunk(rows[0]) : null;
    },
  };
}

export type EcgRepository = ReturnType<typeof createEcgRepository>;
