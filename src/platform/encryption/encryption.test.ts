import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { openPgliteWorker, type Db } from '../db.ts';
import { migrate } from '../../store/migrate.ts';
import { assertKeyRingCovers, createPatientCipher, loadMasterKeyRing, masterKeyId, addKeyToFile, retireOldKeys, sealedTextColumn } from './index.ts';

let db: Db;
let dir: string;
beforeAll(async () => {
  db = await openPgliteWorker(null);
  await migrate(db);
  dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-keys-'));
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('master key file', () => {
  it('is created at first use as a 0600 file in a 0700 directory, and read back unchanged', async () => {
    const a = await loadMasterKeyRing(dir, {});
    expect(a.current).toHaveLength(32);
    expect((await stat(path.join(dir, 'keys', 'master.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'keys'))).mode & 0o777).toBe(0o700);
    const b = await loadMasterKeyRing(dir, {});
    expect(b.current.equals(a.current)).toBe(true);
  });
  it('comes from VIGIL_MASTER_KEY when set, and a malformed one is refused by name', async () => {
    const k = randomBytes(32).toString('base64');
    expect((await loadMasterKeyRing(dir, { VIGIL_MASTER_KEY: k })).current.toString('base64')).toBe(k);
    await expect(loadMasterKeyRing(dir, { VIGIL_MASTER_KEY: 'c2hvcnQ=' })).rejects.toThrow(/VIGIL_MASTER_KEY.*32 bytes/);
  });
});

describe('patient cipher', () => {
  const ring = { current: randomBytes(32), all: [] as Buffer[] };
  ring.all = [ring.current];

  it('round-trips, and neither the envelope nor the key table holds the plaintext or the data key in clear', async () => {
    const c = createPatientCipher(db, ring);
    const secret = 'canary-' + randomBytes(8).toString('hex');
    const env = await c.seal('pat_a', Buffer.from(secret), 'message.body');
    expect(env.includes(Buffer.from(secret))).toBe(false);
    expect(env.subarray(0, 3).toString()).toBe('VGE');
    expect((await c.open('pat_a', env, 'message.body')).toString()).toBe(secret);
    // A second cipher (a restart, another instance) reads it through the wrapped key.
    expect((await createPatientCipher(db, ring).open('pat_a', env, 'message.body')).toString()).toBe(secret);
    const [row] = await db.query<{ wrapped: string; master_key_id: string }>("SELECT * FROM patient_keys WHERE patient_id = 'pat_a'");
    expect(row.master_key_id).toBe(masterKeyId(ring.current));
    expect(Buffer.from(row.wrapped, 'base64').length).toBe(12 + 16 + 32);
  });

  it('seals a text column per row, and reads a value written in clear before the column was sealed as it is', async () => {
    const subjects = sealedTextColumn(createPatientCipher(db, ring), 'thread.subject');
    const stored = (await subjects.seal('pat_a', 'HIV result', 'thr_1'))!;
    expect(stored).not.toContain('HIV');
    expect(await subjects.open('pat_a', stored, 'thr_1')).toBe('HIV result');
    expect(await subjects.open('pat_a', 'Old subject in clear', 'thr_0')).toBe('Old subject in clear');
    expect(await subjects.open('pat_a', stored, 'thr_2')).toBe('(unreadable)'); // bound to its row
    expect(await subjects.seal('pat_a', null, 'thr_3')).toBeNull();
  });

  it('refuses an envelope moved to another patient or context, or altered by one bit (GCM tag)', async () => {
    const c = createPatientCipher(db, ring);
    const env = await c.seal('pat_a', Buffer.from('hello'), 'note');
    await c.seal('pat_b', Buffer.from('x'));
    await expect(c.open('pat_b', env, 'note')).rejects.toThrow(/integrity/);
    await expect(c.open('pat_a', env, 'other')).rejects.toThrow(/integrity/);
    const bad = Buffer.from(env);
    bad[bad.length - 1] ^= 1;
    await expect(c.open('pat_a', bad, 'note')).rejects.toThrow(/integrity/);
    await expect(c.open('pat_a', Buffer.from('plain text'), 'note')).rejects.toThrow(/not a Vigil encryption envelope/);
  });

  it('shred makes every envelope of that patient unreadable, even to a fresh process, and refuses new seals', async () => {
    const c = createPatientCipher(db, ring);
    const env = await c.seal('pat_s', Buffer.from('to be forgotten'));
    const other = await c.seal('pat_keep', Buffer.from('stays'));
    await c.shred('pat_s');
    await expect(c.open('pat_s', env)).rejects.toThrow(/erased/);
    await expect(createPatientCipher(db, ring).open('pat_s', env)).rejects.toThrow(/erased/);
    await expect(c.seal('pat_s', Buffer.from('again'))).rejects.toThrow(/erased/);
    expect(await db.query("SELECT 1 FROM patient_keys WHERE patient_id = 'pat_s'")).toHaveLength(0);
    expect((await c.open('pat_keep', other)).toString()).toBe('stays');
  });

  it('rotates a patient data key: new seals use the new version, old envelopes still open', async () => {
    const c = createPatientCipher(db, ring);
    const old = await c.seal('pat_r', Buffer.from('v1'));
    expect(await c.rotatePatientKey('pat_r')).toBe(2);
    const neu = await c.seal('pat_r', Buffer.from('v2'));
    expect(neu.readUInt32BE(5)).toBe(2); // key version in the header
    expect((await c.open('pat_r', old)).toString()).toBe('v1');
    expect((await c.open('pat_r', neu)).toString()).toBe('v2');
  });

  it('rotates the master key without downtime: add a key, re-wrap, retire the old one', async () => {
    const kd = await mkdtemp(path.join(os.tmpdir(), 'vigil-rot-'));
    try {
      const ring1 = await loadMasterKeyRing(kd, {});
      const c1 = createPatientCipher(db, ring1);
      const env = await c1.seal('pat_m', Buffer.from('survives rotation'));
      await addKeyToFile(kd, 'master');
      const ring2 = await loadMasterKeyRing(kd, {});
      expect(ring2.all).toHaveLength(2);
      const c2 = createPatientCipher(db, ring2);
      expect((await c2.open('pat_m', env)).toString()).toBe('survives rotation'); // old key still accepted
      expect(await c2.rewrapAll()).toBeGreaterThan(0);
      await retireOldKeys(kd, 'master');
      const ring3 = await loadMasterKeyRing(kd, {});
      expect(ring3.all).toHaveLength(1);
      const c3 = createPatientCipher(db, ring3);
      expect((await c3.open('pat_m', env)).toString()).toBe('survives rotation');
      // A cipher with only the retired key cannot unwrap any more.
      await expect(createPatientCipher(db, ring1).open('pat_m', env)).rejects.toThrow(/not configured/);
    } finally {
      await rm(kd, { recursive: true, force: true });
    }
  });

  it('text helpers return base64 envelopes', async () => {
    const c = createPatientCipher(db, ring);
    const t = await c.sealText('pat_t', 'Mrs Öztürk feels dizzy', 'message.body');
    expect(t).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(await c.openText('pat_t', t, 'message.body')).toBe('Mrs Öztürk feels dizzy');
  });
});

describe('start-time check: every instance uses the same master key', () => {
  it('refuses a key ring that lacks a master key this database used, naming its id (never the key)', async () => {
    const own = await openPgliteWorker(null); // a database of its own: the other tests used other keys
    try {
      await migrate(own);
      const a = randomBytes(32);
      const b = randomBytes(32);
      await assertKeyRingCovers(own, { all: [b] }); // no data key yet: nothing to disagree with
      await createPatientCipher(own, { current: a, all: [a] }).seal('pat_keycheck', Buffer.from('hello'));
      const err = await assertKeyRingCovers(own, { all: [b] }).catch((e: Error) => e);
      expect(String(err)).toMatch(new RegExp(`master key ${masterKeyId(a)}, which this instance does not have.*VIGIL_MASTER_KEY`));
      expect(String(err)).not.toContain(a.toString('base64'));
      await assertKeyRingCovers(own, { all: [b, a] }); // a rotation in progress: the old key still in the ring
    } finally {
      await own.close();
    }
  });
});
