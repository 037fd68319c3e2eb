import { openOfflineApp, type OfflineApp } from '../app.ts';
import { AppError } from '../platform/errors.ts';
import { CliError } from './command.ts';
import type { Config } from '../config/config.ts';

/**
 * The services on the database itself, for verbs run while no server holds it: the composition root's
 * offline flavour (app.ts `openOfflineApp`), so a verb never builds a service of its own. A database that
 * will not open is a one-line error.
 */
export async function openOfflineServices(config: Config): Promise<OfflineApp> {
  return openOfflineApp(config).catch((err: unknown) => {
    throw new CliError(err instanceof AppError ? err.message : `cannot open the database in ${config.dataDir}: ${(err as Error).message}`);
  });
}
