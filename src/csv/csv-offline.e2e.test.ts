/** `vigil import csv` and `vigil export csv` with no server running: the CLI opens the database itself. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/run-captured.ts';
import { openPgliteWorker } from '../platform/db.ts';

describe('CSV import with no server running', () => {
  it('opens the database itself, and exports what it imported', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-csv-offline-'));
    const env = { ...process.env };
    process.env.VIGIL_DATA_DIR = dataDir;
    try {
      const added = await runCliCaptured(['patient', 'add', '--name', 'Olga Offline', '--json']);
      const id = JSON.parse(added.out).id;
      const file = path.join(dataDir, 'long.csv');
      await writeFile(
        file,
        `timestamp,patient,code,value,unit\n2026-01-02T03:04:05Z,${id},8480-6,121,mmHg\n2026-01-02T03:04:05Z,${id},8462-4,79,mmHg\n2026-01-02T03:04:05Z,${id},glucose,"6,1",mmol/L\n`,
      );
      const r = JSON.parse((await runCliCaptured(['import', 'csv', file, '--json'])).out);
      expect(r).toMatchObject({ via: 'database', format: 'long', stored: 3, rejected: 0 });
      const out = await runCliCaptured(['export', 'csv', '--patient', id]);
      expect(out.out.trim().split('\n')).toEqual([
        'time,code,display,value,unit,device',
        '2026-01-02T03:04:05.000Z,8480-6,Systolic blood pressure,121,mm[Hg],',
        '2026-01-02T03:04:05.000Z,8462-4,Diastolic blood pressure,79,mm[Hg],',
        '2026-01-02T03:04:05.000Z,2339-0,Glucose [Mass/volume] in Blood,110,mg/dL,',
      ]);
      // The offline export goes through the same service as the HTTP one: an unknown patient is refused by
      // name, and the disclosure is in the audit trail with the operator ('cli') as actor.
      const missing = await runCliCaptured(['export', 'csv', '--patient', 'pat_nobody']);
      expect(missing.code).not.toBe(0);
      expect(missing.err).toMatch(/patient pat_nobody not found/);
      const db = await openPgliteWorker(dataDir);
      try {
        const exports = await db.query<{ actor: string; patient_id: string }>("SELECT actor, patient_id FROM audit_log WHERE action = 'readings.export'");
        expect(exports).toEqual([{ actor: 'cli', patient_id: id }]);
      } finally {
        await db.close();
      }
    } finally {
      process.env = env;
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000); // four CLI runs, each opening and migrating the embedded database
});
