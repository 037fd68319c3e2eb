import { openDatabase } from '../platform/db.ts';
import { migrate } from '../store/migrate.ts';
import { createServices } from '../app.ts';
import { createLogger } from '../platform/logger.ts';
import { secureDataDir } from '../platform/data-dir.ts';
import { loadSecrets } from '../platform/secrets.ts';
import { CliError } from './command.ts';
import type { Config } from '../config/config.ts';

/** The services on the database itself, for verbs run while no server holds it (as clinic.ts does). */
export async function openOfflineServices(config: Config) {
  await secureDataDir(config.dataDir);
  const secrets = await loadSecrets(config);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }).catch((err) => {
    throw new CliError(`cannot open the database in ${config.dataDir}: ${(err as Error).message}`);
  });
  await migrate(db);
  const s = createServices(db, { logger: createLogger('warn'), secrets });
  return {
    db,
    services: s,
    async close() {
      await s.ingest.close();
      await db.close();
    },
  };
}
