import type { CliCommand } from '../command.ts';
import { CliError } from '../command.ts';
import { cliConfig, removeServerFile, writeServerFile } from '../runtime.ts';
import { startApp } from '../../app.ts';
import { AppError } from '../../platform/errors.ts';
import { createLogger } from '../../platform/logger.ts';
import { ensureWebBuilt } from '../web-build.ts';
import { isLoopbackHost } from '../../auth/origin.ts';
import { installProcessGuards } from '../../platform/process-guards.ts';

/**
 * `vigil start`: reads the config, starts the app (app.ts, the one composition root, which also wires the
 * demo clinic when VIGIL_DEMO=1), prints where it runs, and stops it cleanly on a signal.
 */
const command: CliCommand = {
  name: 'start',
  summary: 'start the platform (web app, APIs, MQTT broker, database); what `npm start` runs',
  help: `Usage: vigil start

Starts Vigil with the settings from the environment (see README → Configuration):
  VIGIL_HTTP_PORT (8080)  VIGIL_MQTT_PORT (1883, 0 disables)  VIGIL_DATA_DIR (./data)
  DATABASE_URL (embedded PGlite when unset)  MQTT_URL (embedded broker when unset)  VIGIL_DEMO (1)
On an empty database with VIGIL_DEMO=1 it seeds a demo clinic and runs simulated devices.
Stops cleanly on Ctrl-C / SIGTERM.`,
  async run(_args, io) {
    const config = cliConfig();
    // F3: the demo clinic's logins are printed and easy to try, so the demo serves only this machine.
    if (config.demo && !isLoopbackHost(config.httpHost)) {
      throw new CliError(
        `VIGIL_DEMO=1 refuses to listen on ${config.httpHost}: the demo clinic's logins are public. Use VIGIL_HTTP_HOST=127.0.0.1 (the default) to try it, or VIGIL_DEMO=0 for a real clinic.`,
      );
    }
    const logger = createLogger(config.logLevel);
    await ensureWebBuilt(io);
    let app;
    try {
      app = await startApp(config, { logger });
    } catch (err) {
      // A setting that does not work (a data dir, a broker, a database) is one line naming it, not a stack trace.
      if (err instanceof AppError || /^[A-Z][A-Z0-9_]+: /.test((err as Error).message ?? '')) throw new CliError((err as Error).message);
      throw err;
    }
    const { services } = app;
    // The local CLI's admin token: the previous start's is revoked first, and this one is revoked at stop (F4).
    const { id: cliTokenId, token } = await services.auth.rotateCliToken();
    await writeServerFile(config.dataDir, { pid: process.pid, url: `http://127.0.0.1:${app.httpPort}`, token });

    const lines = [
      '',
      `  Vigil is running:  ${app.httpUrl}`,
      `  MQTT:              ${config.mqttUrl ?? (app.mqttPort ? `mqtt://localhost:${app.mqttPort}` : 'disabled')}${app.mqttPort && app.mqttPort !== config.mqttPort && !config.mqttUrl ? `   (${config.mqttPort} was taken)` : ''}`,
      `  FHIR:              ${app.httpUrl}/fhir/R4/metadata`,
      `  Database:          ${config.databaseUrl ? 'PostgreSQL' : `embedded (${config.dataDir})`}`,
      ...app.demo.banner,
    ];
    io.stdout.write(lines.join('\n') + '\n\n');

    const shutdown = async () => {
      await services.auth.revokeCliToken(cliTokenId).catch(() => undefined);
      await app.close();
      await removeServerFile(config.dataDir);
    };
    // A bug that escapes every handler ends the process cleanly (exit 1) for the supervisor to restart.
    const removeGuards = installProcessGuards({ logger, shutdown });
    await new Promise<void>((resolve) => {
      const stop = async (signal: string) => {
        logger.info({ signal }, 'shutting down');
        await shutdown();
        resolve();
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
    removeGuards();
    return 0;
  },
};
export default command;
