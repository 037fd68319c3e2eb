import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/**
 * CLI verbs with no server running: a fresh data dir of their own (embedded database, no demo), set in the
 * environment for the file's tests and removed after them. Returns the data dir (once beforeAll has run).
 */
export function useOfflineDataDir(prefix: string): () => string {
  let dir = '';
  const saved = { ...process.env };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    Object.assign(process.env, { VIGIL_DATA_DIR: dir, VIGIL_DEMO: '0', VIGIL_LOG_LEVEL: 'silent' });
    delete process.env.DATABASE_URL;
  });
  afterAll(async () => {
    process.env = saved;
    await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}
