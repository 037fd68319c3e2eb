/** `vigil patient add --clinician` with no server running: an unknown clinician leaves no patient behind. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCliCaptured } from '../run-captured.ts';
import { openPgliteWorker } from '../../platform/db.ts';

let dir: string;
const saved = { ...process.env };
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-cli-patient-'));
  Object.assign(process.env, { VIGIL_DATA_DIR: dir, VIGIL_DEMO: '0', VIGIL_LOG_LEVEL: 'silent' });
  delete process.env.DATABASE_URL;
});
afterAll(async () => {
  process.env = saved;
  await rm(dir, { recursive: true, force: true });
});

describe('vigil patient add (offline)', () => {
  it('refuses an unknown --clinician before creating the patient', async () => {
    const r = await runCliCaptured(['patient', 'add', '--name', 'Orphan Test', '--birth-date', '1950-01-01', '--clinician', 'nobody@x.test']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nobody@x\.test is not a clinician/);
    const db = await openPgliteWorker(dir);
    try {
      expect(await db.query('SELECT id FROM patients')).toEqual([]);
    } finally {
      await db.close();
    }
  }, 240_000); // the verb opens and migrates the embedded database
});
