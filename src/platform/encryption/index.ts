import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db.ts';
import { AppError } from '../errors.ts';
import { KEY_BYTES, loadKeyRing, type KeyRing } from './key-file.ts';

/**
 * Encryption at rest for free text and files (HIPAA §164.312(a)(2)(iv), GDPR art. 32 and art. 17 by
 * crypto-erasure). Envelope encryption: each patient has data keys (AES-256-GCM, NIST SP 800-38D), stored
 * only wrapped by the master key, which lives outside the database (key file or environment). Destroying a
 * patient's wrapped keys (`shred`) makes every envelope sealed for them unreadable, wherever copies lie.
 */
export interface PatientCipher {
  /** AES-256-GCM under the patient's data key (wrapped by the master key); returns a self-describing envelope. */
  seal(patientId: string, plaintext: Uint8Array, context?: string): Promise<Buffer>;
  open(patientId: string, envelope: Uint8Array, context?: string): Promise<Buffer>;
  /** GDPR erasure: destroy the patient's data key so every envelope becomes unreadable. */
  shred(patientId: string): Promise<void>;
}

export interface PatientCipherAdmin extends PatientCipher {
  /** Strings in and out (base64 envelope), for text columns. */
  sealText(patientId: string, text: string, context?: string): Promise<string>;
  openText(patientId: string, envelope: string, context?: string): Promise<string>;
  /** New data key for a patient: later seals use it, earlier envelopes still open with the older versions. */
  rotatePatientKey(patientId: string): Promise<number>;
  /** Re-wraps every data key under an older master key of the ring with the current one; returns how many. */
  rewrapAll(): Promise<number>;
  /** Master key ids in use, with the number of data keys under each. */
  keyStatus(): Promise<Array<{ masterKeyId: string; dataKeys: number; current: boolean }>>;
  isShredded(patientId: string): Promise<boolean>;
}

// Envelope: "VGE" | format 1 | alg 1 (AES-256-GCM) | key version u32 | IV 12 | tag 16 | ciphertext.
const MAGIC = Buffer.from('VGE\x01', 'latin1');
const ALG_AES_256_GCM = 1;
const HEADER = MAGIC.length + 1 + 4;
const IV = 12;
const TAG = 16;

export const masterKeyId = (key: Buffer) => createHash('sha256').update('vigil-master-key-id\0').update(key).digest('hex').slice(0, 16);

function gcmSeal(key: Buffer, plaintext: Uint8Array, aad: Buffer): { iv: Buffer; tag: Buffer; ct: Buffer } {
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return { iv, tag: c.getAuthTag(), ct };
}

function gcmOpen(key: Buffer, iv: Buffer, tag: Buffer, ct: Buffer, aad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(aad);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

const wrapAad = (patientId: string, version: number) => Buffer.from(`vigil-dek\0${patientId}\0${version}`);
const envelopeAad = (header: Buffer, patientId: string, context: string | undefined) =>
  Buffer.concat([header, Buffer.from(`\0${patientId}\0${context ?? ''}`)]);

/**
 * The cipher on a database (table `patient_keys`) and a master key ring (first key current). Unwrapped data
 * keys are cached in memory only.
 */
/**
 * Start-time check (issue 9): every master key that wrapped a data key in this database must be in this
 * instance's key ring. Instances sharing a PostgreSQL database with a different VIGIL_MASTER_KEY would
 * otherwise start, then fail to open (or worse, write unreadable) patient data; this one refuses to start,
 * naming the key id it lacks (never the key).
 */
export async function assertKeyRingCovers(db: Db, ring: Pick<KeyRing, 'all'>): Promise<void> {
  const have = new Set(ring.all.map(masterKeyId));
  const used = (await db.query<{ id: string }>('SELECT DISTINCT master_key_id AS id FROM patient_keys')).map((r) => r.id);
  const missing = used.filter((id) => !have.has(id));
  if (missing.length)
    throw new Error(
      `this database holds patient data keys wrapped by master key ${missing.join(', ')}, which this instance does not have: every instance must use the same VIGIL_MASTER_KEY (or keys/master.key); this instance has ${[...have].join(', ')}`,
    );
}

export function createPatientCipher(db: Db, ring: Pick<KeyRing, 'current' | 'all'>): PatientCipherAdmin {
  const masters = new Map(ring.all.map((k) => [masterKeyId(k), k]));
  const currentId = masterKeyId(ring.current);
  const cache = new Map<string, Buffer>(); // `${patientId}\0${version}` → data key
  const latest = new Map<string, Promise<number>>(); // patientId → newest version (creating one if needed)

  const unwrap = (patientId: string, version: number, mkId: string, wrapped: string): Buffer => {
    const mk = masters.get(mkId);
    if (!mk)
      throw new AppError(
        'UNAVAILABLE',
        `the data key of patient ${patientId} is wrapped by master key ${mkId}, which is not configured (VIGIL_MASTER_KEY or keys/master.key)`,
      );
    const b = Buffer.from(wrapped, 'base64');
    return gcmOpen(mk, b.subarray(0, IV), b.subarray(IV, IV + TAG), b.subarray(IV + TAG), wrapAad(patientId, version));
  };
  const wrap = (patientId: string, version: number, dek: Buffer) => {
    const { iv, tag, ct } = gcmSeal(ring.current, dek, wrapAad(patientId, version));
    return Buffer.concat([iv, tag, ct]).toString('base64');
  };

  async function assertNotShredded(patientId: string) {
    const rows = await db.query('SELECT 1 FROM patient_key_shreds WHERE patient_id = $1', [patientId]);
    if (rows.length) throw new AppError('NOT_FOUND', `patient ${patientId} was erased; their encrypted data can no longer be read or written`);
  }

  async function loadKey(patientId: string, version: number): Promise<Buffer> {
    const k = `${patientId}\0${version}`;
    const hit = cache.get(k);
    if (hit) return hit;
    const [row] = await db.query<{ master_key_id: string; wrapped: string }>(
      'SELECT master_key_id, wrapped FROM patient_keys WHERE patient_id = $1 AND version = $2',
      [patientId, version],
    );
    if (!row) {
      await assertNotShredded(patientId);
      throw new AppError('NOT_FOUND', `no data key version ${version} for patient ${patientId}`);
    }
    const dek = unwrap(patientId, version, row.master_key_id, row.wrapped);
    cache.set(k, dek);
    return dek;
  }

  async function newestVersion(patientId: string, create: boolean): Promise<number> {
    const [row] = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM patient_keys WHERE patient_id = $1', [patientId]);
    if (row?.v != null) return Number(row.v);
    if (!create) return 0;
    await assertNotShredded(patientId);
    const dek = randomBytes(KEY_BYTES);
    // Two instances may race to create version 1: the loser's insert does nothing and it reads the winner's.
    await db.query('INSERT INTO patient_keys (patient_id, version, master_key_id, wrapped) VALUES ($1, 1, $2, $3) ON CONFLICT DO NOTHING', [
      patientId,
      currentId,
      wrap(patientId, 1, dek),
    ]);
    return 1;
  }

  const currentVersion = (patientId: string): Promise<number> => {
    let p = latest.get(patientId);
    if (!p) {
      p = newestVersion(patientId, true);
      latest.set(patientId, p);
      p.catch(() => latest.delete(patientId));
    }
    return p;
  };

  const cipher: PatientCipherAdmin = {
    async seal(patientId, plaintext, context) {
      const version = await currentVersion(patientId);
      const key = await loadKey(patientId, version);
      const header = Buffer.alloc(HEADER);
      MAGIC.copy(header, 0);
      header.writeUInt8(ALG_AES_256_GCM, MAGIC.length);
      header.writeUInt32BE(version, MAGIC.length + 1);
      const { iv, tag, ct } = gcmSeal(key, plaintext, envelopeAad(header, patientId, context));
      return Buffer.concat([header, iv, tag, ct]);
    },

    async open(patientId, envelope, context) {
      const b = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
      if (b.length < HEADER + IV + TAG || !b.subarray(0, MAGIC.length).equals(MAGIC)) throw new AppError('BAD_REQUEST', 'not a Vigil encryption envelope');
      if (b.readUInt8(MAGIC.length) !== ALG_AES_256_GCM) throw new AppError('BAD_REQUEST', `unknown envelope algorithm ${b.readUInt8(MAGIC.length)}`);
      const version = b.readUInt32BE(MAGIC.length + 1);
      const key = await loadKey(patientId, version);
      try {
        return gcmOpen(
          key,
          b.subarray(HEADER, HEADER + IV),
          b.subarray(HEADER + IV, HEADER + IV + TAG),
          b.subarray(HEADER + IV + TAG),
          envelopeAad(b.subarray(0, HEADER), patientId, context),
        );
      } catch {
        throw new AppError('PAYLOAD_REJECTED', 'encrypted data failed its integrity check (tampered, or sealed for another patient or context)');
      }
    },

    async shred(patientId) {
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO patient_key_shreds (patient_id) VALUES ($1) ON CONFLICT DO NOTHING', [patientId]);
        // Overwrite before deleting so the live row never holds the wrapped key after this commits.
        await tx.query("UPDATE patient_keys SET wrapped = '', master_key_id = 'shredded' WHERE patient_id = $1", [patientId]);
        await tx.query('DELETE FROM patient_keys WHERE patient_id = $1', [patientId]);
      });
      for (const k of cache.keys()) if (k.startsWith(patientId + '\0')) cache.delete(k);
      latest.delete(patientId);
      // Dead row versions may still hold the old wrapped key until VACUUM reclaims them.
      await db.exec('VACUUM patient_keys').catch(() => undefined);
    },

    async sealText(patientId, text, context) {
      return (await cipher.seal(patientId, Buffer.from(text, 'utf8'), context)).toString('base64');
    },
    async openText(patientId, envelope, context) {
      return (await cipher.open(patientId, Buffer.from(envelope, 'base64'), context)).toString('utf8');
    },

    async rotatePatientKey(patientId) {
      await assertNotShredded(patientId);
      const version = (await newestVersion(patientId, false)) + 1;
      await db.query('INSERT INTO patient_keys (patient_id, version, master_key_id, wrapped) VALUES ($1, $2, $3, $4)', [
        patientId,
        version,
        currentId,
        wrap(patientId, version, randomBytes(KEY_BYTES)),
      ]);
      latest.set(patientId, Promise.resolve(version));
      return version;
    },

    async rewrapAll() {
      // Keys under a master key this ring does not hold are left alone (keyStatus shows them).
      const old = [...masters.keys()].filter((id) => id !== currentId);
      if (old.length === 0) return 0;
      const rows = await db.query<{ patient_id: string; version: number; master_key_id: string; wrapped: string }>(
        'SELECT patient_id, version, master_key_id, wrapped FROM patient_keys WHERE master_key_id = ANY($1)',
        [old],
      );
      for (const r of rows) {
        const dek = unwrap(r.patient_id, Number(r.version), r.master_key_id, r.wrapped);
        await db.query('UPDATE patient_keys SET master_key_id = $1, wrapped = $2 WHERE patient_id = $3 AND version = $4 AND master_key_id = $5', [
          currentId,
          wrap(r.patient_id, Number(r.version), dek),
          r.patient_id,
          r.version,
          r.master_key_id,
        ]);
      }
      return rows.length;
    },

    async keyStatus() {
      const rows = await db.query<{ master_key_id: string; n: string }>('SELECT master_key_id, count(*) AS n FROM patient_keys GROUP BY master_key_id');
      return rows.map((r) => ({ masterKeyId: r.master_key_id, dataKeys: Number(r.n), current: r.master_key_id === currentId }));
    },

    async isShredded(patientId) {
      return (await db.query('SELECT 1 FROM patient_key_shreds WHERE patient_id = $1', [patientId])).length > 0;
    },
  };
  return cipher;
}

/** The master key ring for a data dir: VIGIL_MASTER_KEY when set, else `<dataDir>/keys/master.key` (created 0600). */
/** The base64 of an envelope's magic ("VGE" 0x01): how a sealed text column value starts. */
const SEALED_TEXT_PREFIX = MAGIC.toString('base64').slice(0, 4);

/**
 * A text column sealed per patient (free text a patient or clinician writes: thread subjects, attachment file
 * names, appointment descriptions). `open` also reads a value written before the column was sealed (plain text,
 * kept as it was): it has no envelope header, so it is returned as it is.
 */
export function sealedTextColumn(cipher: Pick<PatientCipherAdmin, 'sealText' | 'openText'>, column: string) {
  return {
    seal: (patientId: string, text: string | null, rowId: string): Promise<string | null> =>
      text === null ? Promise.resolve(null) : cipher.sealText(patientId, text, `${column}:${rowId}`),
    async open(patientId: string, stored: string | null, rowId: string): Promise<string | null> {
      if (stored === null || !stored.startsWith(SEALED_TEXT_PREFIX)) return stored;
      try {
        return await cipher.openText(patientId, stored, `${column}:${rowId}`);
      } catch {
        return stored.length > 40 && /^[A-Za-z0-9+/=]+$/.test(stored) ? '(unreadable)' : stored; // a plain value that happened to start alike
      }
    },
  };
}

export type SealedTextColumn = ReturnType<typeof sealedTextColumn>;

export function loadMasterKeyRing(dataDir: string, env: { VIGIL_MASTER_KEY?: string }): Promise<KeyRing> {
  return loadKeyRing(dataDir, 'master', 'VIGIL_MASTER_KEY', env.VIGIL_MASTER_KEY);
}

export { loadKeyRing, addKeyToFile, retireOldKeys, keysDir } from './key-file.ts';
