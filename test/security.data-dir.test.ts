import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { startApp } from '../src/app.ts';
import { createLogger } from '../src/platform/logger.ts';
import { looseFiles } from '../src/platform/data-dir.ts';

// F2: the embedded database was world-writable (968 of 1,087 files 0666).
describe('data directory (F2)', () => {
  it('leaves every file and directory under the data dir owner-only, including PGlite files and a pre-existing loose file', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-perm-'));
    const old = process.umask(0o000); // the worst case: a service manager starting with umask 000
    try {
      await writeFile(path.join(dataDir, 'left-over.txt'), 'x', { mode: 0o666 });
      const config = loadConfig({
        VIGIL_HTTP_PORT: '0',
        VIGIL_HTTP_HOST: '127.0.0.1',
        VIGIL_MQTT_PORT: '0',
        VIGIL_DATA_DIR: dataDir,
        VIGIL_DEMO: '0',
        VIGIL_LOG_LEVEL: 'silent',
      });
      const app = await startApp(config, { logger: createLogger('silent') });
      const p = await app.services.patientService.create({ name: 'Perm Test' }, 'system');
      await app.services.cipher.seal(p.id, Buffer.from('x'));
      await app.close();
      expect((await readdir(path.join(dataDir, 'pgdata'))).length).toBeGreaterThan(5);
      expect(await looseFiles(dataDir)).toEqual([]);
      expect((await readFile(path.join(dataDir, 'keys', 'master.key'), 'utf8')).trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    } finally {
      process.umask(old);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
