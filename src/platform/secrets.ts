import path from 'node:path';
import { loadKeyRing, type KeyRing } from './encryption/key-file.ts';

/**
 * Key material outside the database, loaded once at start: the master key wrapping patients' data keys
 * (VIGIL_MASTER_KEY or keys/master.key) and the audit HMAC key (VIGIL_AUDIT_KEY or keys/audit.key), and
 * where the audit chain's signed checkpoint lives (VIGIL_AUDIT_ANCHOR or <dataDir>/audit-anchor.json).
 * Several instances on one PostgreSQL must share both keys (same env values or the same keys directory).
 */
export interface Secrets {
  masterKeys: KeyRing;
  auditKeys: KeyRing;
  anchorFile: string | null;
}

export async function loadSecrets(dataDir: string, env: Record<string, string | undefined> = process.env): Promise<Secrets> {
  return {
    masterKeys: await loadKeyRing(dataDir, 'master', 'VIGIL_MASTER_KEY', env.VIGIL_MASTER_KEY),
    auditKeys: await loadKeyRing(dataDir, 'audit', 'VIGIL_AUDIT_KEY', env.VIGIL_AUDIT_KEY),
    anchorFile: env.VIGIL_AUDIT_ANCHOR || path.join(dataDir, 'audit-anchor.json'),
  };
}
