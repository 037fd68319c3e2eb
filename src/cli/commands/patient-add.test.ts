/** `vigil patient add --clinician` with no server running: an unknown clinician leaves no patient behind. */
import { describe, expect, it } from 'vitest';
import { useOfflineDataDir } from '../../../test/support/offline-cli.ts';
import { runCliCaptured } from '../run-captured.ts';
import { openPgliteWorker } from '../../platform/db.ts';

const dir = useOfflineDataDir('vigil-cli-patient-');

describe('vigil patient add (offline)', () => {
  it('refuses an unknown --clinician before creating the patient', async () => {
    const r = await runCliCaptured(['patient', 'add', '--name', 'Orphan Test', '--birth-date', '1950-01-01', '--clinician', 'nobody@x.test']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nobody@x\.test is not a clinician/);
    const db = await openPgliteWorker(dir());
    try {
      expect(await db.query('SELECT id FROM patients')).toEqual([]);
    } finally {
      await db.close();
    }
  }, 240_000); // the verb opens and migrates the embedded database
});
