import type { Config } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import type { AuthService } from '../auth/auth.service.ts';
import type { PatientService } from '../patients/patient.service.ts';
import type { DeviceService } from '../devices/device.service.ts';
import { createSimulator } from '../simulator/index.ts';
import { startMailbox } from './mailbox.ts';
import { loadDemoClinic, seedDemoClinic, type DemoClinic } from './seed.ts';

/**
 * The demo clinic as one module, wired by app.ts when `VIGIL_DEMO=1` (localhost only, issue 9 F3): a local
 * mailbox that catches the alert emails (unless VIGIL_SMTP_URL names a real relay), the seeded clinic (staff
 * logins, patients, devices) and the simulated devices that drive it over real MQTT.
 */
export async function startDemo(config: Config, logger: Logger) {
  const mailbox = config.alerts.smtpUrl ? null : await startMailbox();
  let simulator: ReturnType<typeof createSimulator> | null = null;
  let clinic: DemoClinic | null = null;

  return {
    /** Where alert emails go: the demo mailbox, or null to keep the configured relay. */
    smtpUrl: mailbox?.url ?? null,

    /** The caught emails, newest first, for the admin's page (api/routes/demo.routes.ts); null without a mailbox. */
    mails: mailbox ? () => mailbox.mails.map(({ raw: _raw, ...m }) => m).reverse() : null,

    /**
     * Seeds the clinic on an empty database (only the system admin, or nobody yet) or reuses the one written
     * to the data dir, then starts its simulated devices against the broker. Returns the clinic (its logins
     * are shown on the sign-in page and in the start banner).
     */
    async start(
      services: { auth: AuthService; patientService: PatientService; deviceService: DeviceService; userCount(): Promise<number> },
      mqttUrl: string | null,
    ): Promise<DemoClinic | null> {
      clinic = await loadDemoClinic(config.dataDir);
      if (!clinic && (await services.userCount()) <= 1) clinic = await seedDemoClinic(services, config.dataDir);
      if (clinic && mqttUrl) {
        simulator = createSimulator({ mqttUrl, patients: clinic.patients, logger: logger.child({ module: 'simulator' }) });
        simulator.start().catch((err) => logger.error({ err }, 'demo simulator could not start'));
      }
      return clinic;
    },

    /** Lines for the start banner: logins, simulated devices, where the emails go, the second factor. */
    banner(): string[] {
      if (!clinic) return [];
      const lines = ['', '  Demo clinic logins:'];
      for (const l of clinic.logins) lines.push(`    ${l.role.padEnd(9)} ${l.email.padEnd(22)} ${l.password}`);
      const devices = `${clinic.patients.reduce((n, p) => n + p.devices.length, 0)} for ${clinic.patients.length} patients`;
      // They publish over MQTT: with no broker to publish to (VIGIL_MQTT_PORT=0, no MQTT_URL) the clinic stays silent: say so.
      lines.push(
        '',
        simulator
          ? `  Simulated devices: ${devices}`
          : `  Simulated devices: ${devices}, NOT running: they need an MQTT broker (the embedded one is off and MQTT_URL is unset)`,
      );
      if (mailbox) lines.push(`  Alert emails:      demo mailbox (Admin page), SMTP ${mailbox.url}`);
      if (!config.security.requireMfa)
        lines.push('  Two-step sign-in:  optional in this localhost demo (VIGIL_REQUIRE_MFA=1 requires it, as in a real clinic)');
      return lines;
    },

    /** Stops the simulated devices (first at shutdown, so no readings arrive while the rest drains). */
    async stopDevices() {
      await simulator?.stop().catch(() => undefined);
      simulator = null;
    },

    /** Closes the mailbox (last at shutdown: alerts raised while draining still reach it). */
    async close() {
      await mailbox?.close();
    },
  };
}

export type Demo = Awaited<ReturnType<typeof startDemo>>;
