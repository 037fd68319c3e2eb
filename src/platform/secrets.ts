import path from 'node:path';
import { loadKeyRing, type KeyRing } from './encryption/key-file.ts';
import type { KeySettings } from '../config/config.ts';

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

/** From the Config (config.keys): the settings when given, else the files in the data dir (created at first start). */
export async function loadSecrets(config: { dataDir: string; keys: KeySettings }): Promise<Secrets> {
  const { dataDir, keys } = config;
  return {
    masterKeys: await loadKeyRing(dataDir, 'master', 'VIGIL_MASTER_KEY', keys.masterKey),
    auditKeys: await loadKeyRing(dataDir, 'audit', 'VIGIL_AUDIT_KEY', keys.auditKey),
    anchorFile: keys.auditAnchor || path.join(dataDir, 'audit-anchor.json'),
  };
}
