import type { Db, Queryable } from '../platform/db.ts';
import type { EcgChunk, StoredEcgChunk } from '../domain/types.ts';

/**
 * Where a device's ECG analysis stands (migration 022): the end of the last chunk whose findings are stored,
 * and the AF / VF episode open there. Epoch ms; analysedTo null: nothing analysed yet.
 */
export interface EcgPosition {
  deviceId: string;
  patientId: string;
  analysedTo: number | null;
  afStart: number | null;
  vfStart: number | null;
}

interface PositionRow {
  device_id: string;
  patient_id: string;
  analysed_to: Date | string | null;
  af_start: Date | string | null;
  vf_start: Date | string | null;
}

const ms = (v: Date | string | null) => (v === null ? null : new Date(v).getTime());
const iso = (v: number | null) => (v === null ? null : new Date(v).toISOString());
const toPosition = (r: PositionRow): EcgPosition => ({
  deviceId: r.device_id,
  patientId: r.patient_id,
  analysedTo: ms(r.analysed_to),
  afStart: ms(r.af_start),
  vfStart: ms(r.vf_start),
});

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

    /**
     * Creates the analysis position (nothing analysed yet) of devices whose chunks were just stored, so
     * that chunks stored while no instance analyses a device are found and caught up (ecg-monitor.ts).
     * Its own statement after the ingest commit, not inside it: there it took a lock that, with the
     * analyzer's position writes and redelivered duplicates, let two ingest transactions deadlock.
     */
    async ensurePositions(devices: Array<{ deviceId: string; patientId: string }>): Promise<void> {
      if (devices.length === 0) return;
      const sorted = [...devices].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
      await db.query(
        `INSERT INTO ecg_analysis_positions (device_id, patient_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (device_id) DO NOTHING`,
        [sorted.map((d) => d.deviceId), sorted.map((d) => d.patientId)],
      );
    },

    /** A device's analysis position (null: no chunk stored yet). */
    async position(deviceId: string): Promise<EcgPosition | null> {
      const rows = await db.query<PositionRow>(
        'SELECT device_id, patient_id, analysed_to, af_start, vf_start FROM ecg_analysis_positions WHERE device_id = $1',
        [deviceId],
      );
      return rows[0] ? toPosition(rows[0]) : null;
    },

    /**
     * Moves positions forward, inside the transaction that stores their findings, as a compare-and-set:
     * a position is written only if the stored one is still `prev` (the one its writer resumed from or last
     * wrote) and it moves forward. A writer that finds another there (a second owner around a handover, a
     * zombie after its lease went) is fenced: it stores nothing and must stop. Returns the devices written.
     */
    async advancePositions(tx: Queryable, positions: Array<EcgPosition & { prev: number | null }>): Promise<Set<string>> {
      // Several writes of one device in one batch: they were queued in order, each from the one before.
      const byDevice = new Map<string, Array<EcgPosition & { prev: number | null }>>();
      for (const p of positions) if (p.analysedTo !== null) byDevice.set(p.deviceId, [...(byDevice.get(p.deviceId) ?? []), p]);
      const list: Array<EcgPosition & { prev: number | null }> = [];
      for (const writes of byDevice.values()) {
        writes.sort((a, b) => a.analysedTo! - b.analysedTo!);
        const chained = writes.every((w, i) => i === 0 || w.prev === writes[i - 1].analysedTo);
        if (chained) list.push({ ...writes[writes.length - 1], prev: writes[0].prev });
      }
      if (list.length === 0) return new Set();
      list.sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
      const rows = await tx.query<{ device_id: string }>(
        `WITH v AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[]) AS v(d, pt, a, af, vf, prev)
         ), updated AS (
           UPDATE ecg_analysis_positions p SET patient_id = v.pt, analysed_to = v.a, af_start = v.af, vf_start = v.vf, updated_at = now()
           FROM v WHERE p.device_id = v.d AND p.analysed_to IS NOT DISTINCT FROM v.prev AND (p.analysed_to IS NULL OR p.analysed_to < v.a)
           RETURNING p.device_id
         ), inserted AS (
           INSERT INTO ecg_analysis_positions (device_id, patient_id, analysed_to, af_start, vf_start)
           SELECT d, pt, a, af, vf FROM v WHERE v.prev IS NULL AND NOT EXISTS (SELECT 1 FROM ecg_analysis_positions e WHERE e.device_id = v.d)
           ON CONFLICT (device_id) DO NOTHING
           RETURNING device_id
         )
         SELECT device_id FROM updated UNION ALL SELECT device_id FROM inserted`,
        [
          list.map((p) => p.deviceId),
          list.map((p) => p.patientId),
          list.map((p) => iso(p.analysedTo)),
          list.map((p) => iso(p.afStart)),
          list.map((p) => iso(p.vfStart)),
          list.map((p) => iso(p.prev)),
        ],
      );
      return new Set(rows.map((r) => r.device_id));
    },

    /**
     * Devices with stored chunks past their analysis position (stored while nobody analysed them, e.g.
     * the owner died), among positions touched within `withinMs`: what an owner must catch up.
     */
    async behind(withinMs: number): Promise<Array<{ deviceId: string; patientId: string }>> {
      const rows = await db.query<{ device_id: string; patient_id: string }>(
        `SELECT p.device_id, p.patient_id FROM ecg_analysis_positions p
         WHERE p.updated_at > now() - make_interval(secs => $1::float8 / 1000)
           AND EXISTS (SELECT 1 FROM ecg_chunks c WHERE c.patient_id = p.patient_id AND c.device_id = p.device_id
                       AND (p.analysed_to IS NULL OR c.ts > p.analysed_to - interval '50 milliseconds'))`,
        [withinMs],
      );
      return rows.map((r) => ({ deviceId: r.device_id, patientId: r.patient_id }));
    },

    /** A device's stored chunks from `fromTs` on (ms), oldest first, at most `limit`. */
    async deviceSince(deviceId: string, patientId: string, fromTs: number, limit: number): Promise<StoredEcgChunk[]> {
      const rows = await db.query<EcgRow>(
        `SELECT id, patient_id, device_id, ts, seq, fs, lead, unit, samples FROM ecg_chunks
         WHERE patient_id = $1 AND device_id = $2 AND ts >= $3 ORDER BY ts ASC LIMIT $4`,
        [patientId, deviceId, new Date(fromTs).toISOString(), limit],
      );
      return rows.map(toChunk);
    },

    /** The start (ms) of a device's newest stored chunk, or null. */
    async newestTs(deviceId: string, patientId: string): Promise<number | null> {
      const rows = await db.query<{ ts: Date | string }>('SELECT max(ts) AS ts FROM ecg_chunks WHERE patient_id = $1 AND device_id = $2', [
        patientId,
        deviceId,
      ]);
      return ms(rows[0]?.ts ?? null);
    },

    async byId(id: string): Promise<StoredEcgChunk | null> {
      if (!/^\d+$/.test(id)) return null;
      const rows = await db.query<EcgRow>('SELECT * FROM ecg_chunks WHERE id = $1', [id]);
      return rows[0] ? toChunk(rows[0]) : null;
    },
  };
}

export type EcgRepository = ReturnType<typeof createEcgRepository>;
