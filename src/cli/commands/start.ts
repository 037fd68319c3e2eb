import type { CliCommand } from '../command.ts';
import { CliError } from '../command.ts';
import { cliConfig, removeServerFile, writeServerFile } from '../runtime.ts';
import { startApp } from '../../app.ts';
import { AppError } from '../../platform/errors.ts';
import { createLogger } from '../../platform/logger.ts';
import { loadDemoClinic, seedDemoClinic } from '../../demo/seed.ts';
import { createSimulator } from '../../simulator/index.ts';
import { ensureWebBuilt } from '../web-build.ts';
import { startMailbox } from '../../demo/mailbox.ts';
import { isLoopbackHost } from '../../auth/origin.ts';
import { policy } from '../../api/policy.ts';
import { installProcessGuards } from '../../platform/process-guards.ts';
import { DemoMail } from '../../api/contracts/index.ts';

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
      throw new CliError(`VIGIL_DEMO=1 refuses to listen on ${config.httpHost}: the demo clinic's logins are public. Use VIGIL_HTTP_HOST=127.0.0.1 (the default) to try it, or VIGIL_DEMO=0 for a real clinic.`);
    }
    // The localhost demo keeps its accounts easy to try: unless VIGIL_REQUIRE_MFA is set, it does not require a
    // second factor. A real clinic (VIGIL_DEMO=0) gets the default, required.
    const demoWithoutMfa = config.demo && !process.env.VIGIL_REQUIRE_MFA;
    if (demoWithoutMfa) config.security.requireMfa = false;
    const logger = createLogger(config.logLevel);
    await ensureWebBuilt(io);
    // Demo: alert emails go to a local mailbox the admin can read in the web app (no mail relay needed).
    const mailbox = config.demo && !process.env.VIGIL_SMTP_URL ? await startMailbox() : null;
    let app;
    try {
      app = await startApp(config, {
        logger,
        alerts: mailbox ? { smtpUrl: mailbox.url } : undefined,
        routes: mailbox
          ? (http) =>
              http.get('/api/v1/demo/mailbox', { config: { policy: policy.admin() }, schema: { summary: 'Alert emails the demo clinic sent', response: { 200: DemoMail.array() } } }, async () =>
                mailbox.mails.map(({ raw: _raw, ...m }) => m).reverse(),
              )
          : undefined,
      });
    } catch (err) {
      await mailbox?.close();
      if (err instanceof AppError) throw new CliError(err.message);
      throw err;
    }
    const { services } = app;
    // The local CLI's admin token: the previous start's is revoked first, and this one is revoked at stop (F4).
    const { id: cliTokenId, token } = await services.auth.rotateCliToken();
    await writeServerFile(config.dataDir, { pid: process.pid, url: `http://127.0.0.1:${app.httpPort}`, token });

    let demo = await loadDemoClinic(config.dataDir);
    if (config.demo && !demo && (await services.repos.users.count()) <= 1) demo = await seedDemoClinic(services, config.dataDir);
    let simulator: ReturnType<typeof createSimulator> | null = null;
    if (config.demo && demo) {
      app.demo.logins = demo.logins;
      const mqttUrl = config.mqttUrl ?? (app.mqttPort ? `mqtt://127.0.0.1:${app.mqttPort}` : null);
      if (mqttUrl) {
        simulator = createSimulator({ mqttUrl, patients: demo.patients, logger: logger.child({ module: 'simulator' }) });
        simulator.start().catch((err) => logger.error({ err }, 'demo simulator could not start'));
      }
    }

    const lines = [
      '',
      `  Vigil is running:  ${app.httpUrl}`,
      `  MQTT:              ${config.mqttUrl ?? (app.mqttPort ? `mqtt://localhost:${app.mqttPort}` : 'disabled')}${app.mqttPort && app.mqttPort !== config.mqttPort && !config.mqttUrl ? `   (${config.mqttPort} was taken)` : ''}`,
      `  FHIR:              ${app.httpUrl}/fhir/R4/metadata`,
      `  Database:          ${config.databaseUrl ? 'PostgreSQL' : `embedded (${config.dataDir})`}`,
    ];
    if (demo && config.demo) {
      lines.push('', '  Demo clinic logins:');
      for (const l of demo.logins) lines.push(`    ${l.role.padEnd(9)} ${l.email.padEnd(22)} ${l.password}`);
      lines.push('', `  Simulated devices: ${demo.patients.reduce((n, p) => n + p.devices.length, 0)} for ${demo.patients.length} patients`);
      if (mailbox) lines.push(`  Alert emails:      demo mailbox (Admin page), SMTP ${mailbox.url}`);
      if (demoWithoutMfa) lines.push('  Two-step sign-in:  optional in this localhost demo (VIGIL_REQUIRE_MFA=1 requires it, as in a real clinic)');
    }
    io.stdout.write(lines.join('\n') + '\n\n');

    const shutdown = async () => {
      await simulator?.stop().catch(() => undefined);
      await services.auth.revokeCliToken(cliTokenId).catch(() => undefined);
      await app.close();
      await mailbox?.close();
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
