import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Config } from './config/config.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { createEventBus } from './platform/events.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { openDatabase, type Db } from './platform/db.ts';
import { AppError } from './platform/errors.ts';
import { migrate } from './store/migrate.ts';
import { createPatientsRepository } from './store/patients.repository.ts';
import { createUsersRepository } from './store/users.repository.ts';
import { createDevicesRepository } from './store/devices.repository.ts';
import { createReadingsRepository } from './store/readings.repository.ts';
import { createEcgRepository } from './store/ecg.repository.ts';
import { createRejectionsRepository } from './store/rejections.repository.ts';
import { createAuditService } from './audit/audit.service.ts';
import { createAuthService } from './auth/auth.service.ts';
import { createAccessPolicy } from './auth/access.ts';
import { createDeviceService } from './devices/device.service.ts';
import { createPatientService } from './patients/patient.service.ts';
import { createDerivedService } from './patients/derived.service.ts';
import { createIngestService } from './ingest/ingest.service.ts';
import { startEmbeddedBroker } from './ingest/broker/embedded-broker.ts';
import { connectExternalBroker } from './ingest/broker/external-broker.ts';
import type { DeviceGateway } from './ingest/broker/gateway.ts';
import { createDerivedObservations } from './monitoring/derived-observations.ts';
import { createEcgMonitor } from './monitoring/ecg-monitor.ts';
import { createCgmDailySummaries } from './monitoring/cgm-daily.ts';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from './api/http-server.ts';
import { authRoutes } from './api/routes/auth.routes.ts';
import { patientRoutes } from './api/routes/patients.routes.ts';
import { deviceRoutes } from './api/routes/devices.routes.ts';
import { userRoutes } from './api/routes/users.routes.ts';
import { registerLiveGateway } from './api/live-gateway.ts';
import { createFhirService } from './api/fhir/fhir.service.ts';
import { fhirRoutes } from './api/fhir/fhir.routes.ts';
// [commands] device commands (issue 4 part 4)
import { createCommandsRepository } from './commands/commands.repository.ts';
import { createCommandService } from './commands/command.service.ts';
import { startExpirySweeper } from './commands/expiry-sweeper.ts';
import { commandRoutes } from './api/routes/commands.routes.ts';
// [alerts] rules, lifecycle, delivery (issue 4 parts 1–3)
import { createAlertsModule } from './alerts/alerts.module.ts';
import { loadAlertsConfig, type AlertsConfig } from './alerts/alerts.config.ts';
import { alertRoutes } from './api/routes/alerts.routes.ts';

export const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Builds the services on an open database: what the server and the offline CLI share. */
export function createServices(db: Db, deps: { logger: Logger; clock?: Clock; flushMs?: number; alertsConfig?: AlertsConfig }) {
  const clock = deps.clock ?? systemClock;
  const events = createEventBus();
  const repos = {
    patients: createPatientsRepository(db),
    users: createUsersRepository(db),
    devices: createDevicesRepository(db),
    readings: createReadingsRepository(db),
    ecg: createEcgRepository(db),
    rejections: createRejectionsRepository(db),
  };
  const audit = createAuditService(db);
  const access = createAccessPolicy({ patients: repos.patients });
  const auth = createAuthService({ users: repos.users, patients: repos.patients, audit, clock });
  const deviceService = createDeviceService({ devices: repos.devices, patients: repos.patients, audit });
  // [alerts] built before the patient service, which shows open-alert counts on the panel
  const alerts = createAlertsModule({ db, events, clock, logger: deps.logger, access, audit, patients: repos.patients, devices: repos.devices, config: deps.alertsConfig ?? loadAlertsConfig(process.env) });
  const patientService = createPatientService({ patients: repos.patients, readings: repos.readings, devices: repos.devices, access, audit, clock, alerts: alerts.service });
  const ingest = createIngestService({
    db, ...repos, deviceService, events, logger: deps.logger, flushMs: deps.flushMs ?? 5,
  });
  return { db, clock, events, repos, audit, access, auth, deviceService, patientService, ingest, alerts, logger: deps.logger };
}

export type Services = ReturnType<typeof createServices>;

export interface RunningApp {
  services: Services;
  httpUrl: string;
  httpPort: number;
  mqttPort: number | null;
  gateway: DeviceGateway | null;
  /** Filled by the demo seed so the sign-in page can show the demo logins. */
  demo: { logins: DemoLogin[] };
  close(): Promise<void>;
}

async function instanceId(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'instance-id');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const id = randomBytes(4).toString('hex');
    await writeFile(file, id + '\n');
    return id;
  }
}

/**
 * The composition root: config → database → migrations → services → broker → HTTP. `close()` shuts them
 * down in reverse, draining ingest so nothing acknowledged is left unwritten.
 */
export async function startApp(
  config: Config,
  opts: { logger?: Logger; clock?: Clock; alerts?: Partial<AlertsConfig>; /** Extra routes, e.g. the demo mailbox. */ routes?: (http: FastifyInstance, services: Services) => void } = {},
): Promise<RunningApp> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  await mkdir(config.dataDir, { recursive: true });
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const closers: Array<() => Promise<void> | void> = [() => db.close()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await Promise.resolve(c()).catch((err) => logger.error({ err }, 'error while closing'));
  };
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, 'database migrated');
    const services = createServices(db, { logger, clock: opts.clock, flushMs: config.ingestFlushMs, alertsConfig: { ...loadAlertsConfig(process.env), ...opts.alerts } });
    closers.push(() => services.ingest.close());
    // [alerts] started before the broker so that the first readings meet loaded rules
    let appUrl = config.publicUrl ?? '';
    await services.alerts.start({ appUrl: () => appUrl, dataDir: config.dataDir });
    closers.push(() => services.alerts.close());
    const derived = createDerivedObservations({ ...services });
    closers.push(() => derived.close());
    const ecgMonitor = createEcgMonitor({ ...services });
    closers.push(() => ecgMonitor.close());
    const cgmDaily = createCgmDailySummaries({ ...services });
    closers.push(() => cgmDaily.close());

    let gateway: (DeviceGateway & { clientCount?: () => number }) | null = null;
    let mqttPort: number | null = null;
    if (config.mqttUrl) {
      gateway = await connectExternalBroker({ url: config.mqttUrl, instanceId: await instanceId(config.dataDir), consumers: 4, ingest: services.ingest, events: services.events, logger });
    } else if (config.mqttPort !== 0) {
      const brokerDeps = { deviceService: services.deviceService, ingest: services.ingest, events: services.events, logger };
      let embedded;
      try {
        embedded = await startEmbeddedBroker({ port: config.mqttPort, ...brokerDeps });
      } catch (err) {
        // The default port is often held by a broker already on the machine (Mosquitto): when the port was not
        // chosen explicitly, take the next free one and say so, rather than failing a first `npm start`.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || config.mqttPortExplicit) throw portError('VIGIL_MQTT_PORT', config.mqttPort, err);
        embedded = await startEmbeddedBrokerOnNextFreePort(config.mqttPort, brokerDeps);
        logger.warn(`port ${config.mqttPort} is in use (another MQTT broker?); the embedded broker listens on ${embedded.port} instead. Set VIGIL_MQTT_PORT to choose.`);
      }
      gateway = embedded;
      mqttPort = embedded.port;
    }
    if (gateway) closers.push(() => gateway!.close());

    const demo = { logins: [] as DemoLogin[] };
    const http = await createHttpServer({ logger, auth: services.auth });
    let baseUrl = '';
    const live = registerLiveGateway(http, { events: services.events, access: services.access, auth: services.auth, logger });
    closers.push(() => live.close());
    http.get('/health', async (_req, reply) => {
      const dbOk = await db.query('SELECT 1').then(() => true, () => false);
      const brokerOk = gateway ? gateway.healthy() : true;
      return reply.status(dbOk && brokerOk ? 200 : 503).send({ status: dbOk && brokerOk ? 'ok' : 'unavailable', database: dbOk ? 'up' : 'down', broker: gateway ? (brokerOk ? 'up' : 'down') : 'disabled' });
    });
    authRoutes(http, { auth: services.auth, secureCookies: (config.publicUrl ?? '').startsWith('https:'), demoLogins: () => demo.logins });
    patientRoutes(http, { patients: services.patientService, derived: createDerivedService({ access: services.access, patients: services.repos.patients, readings: services.repos.readings, clock: services.clock }), access: services.access, readings: services.repos.readings, ecg: services.repos.ecg, clock: services.clock, afSince: ecgMonitor.afSince });
    deviceRoutes(http, { devices: services.deviceService, access: services.access, ingest: services.ingest, rejections: services.repos.rejections, gatewayStats: () => ({ kind: gateway?.kind ?? 'none', clients: gateway?.clientCount?.() ?? null, liveClients: live.clientCount() }) });
    userRoutes(http, { auth: services.auth, access: services.access, patients: services.patientService });
    const fhir = createFhirService({ access: services.access, audit: services.audit, ...services.repos, baseUrl: () => baseUrl + '/fhir/R4' });
    fhirRoutes(http, { fhir, baseUrl: () => baseUrl + '/fhir/R4', version: VERSION });
    // [commands] device commands: durable queue in the database, delivered through the gateway (issue 4 part 4)
    const commands = createCommandService({ commands: createCommandsRepository(db), devices: services.deviceService, access: services.access, audit: services.audit, events: services.events, gateway, clock: services.clock, logger, timeouts: { answerMs: config.commandAnswerTimeoutS * 1000, queuedMs: config.commandQueueTtlS * 1000 } });
    const commandSweeper = startExpirySweeper(commands.expireDue, logger);
    closers.push(() => commands.close(), () => commandSweeper.stop());
    commandRoutes(http, { commands });
    alertRoutes(http, { alerts: services.alerts.service, rules: services.alerts.rules, preferences: services.alerts.preferences, pushPublicKey: services.alerts.pushPublicKey }); // [alerts]

    opts.routes?.(http, services);

    await http.listen({ port: config.httpPort, host: config.httpHost }).catch((err) => {
      throw portError('VIGIL_HTTP_PORT', config.httpPort, err);
    });
    closers.push(() => http.close());
    const httpPort = (http.server.address() as { port: number }).port;
    baseUrl = config.publicUrl ?? `http://localhost:${httpPort}`;
    appUrl = baseUrl; // [alerts] links in notifications
    return { services, httpUrl: baseUrl, httpPort, mqttPort, gateway, demo, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function startEmbeddedBrokerOnNextFreePort(from: number, deps: Omit<Parameters<typeof startEmbeddedBroker>[0], 'port'>) {
  const TRIES = 10;
  for (let port = from + 1; port <= from + TRIES; port++) {
    try {
      return await startEmbeddedBroker({ port, ...deps });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new AppError('UNAVAILABLE', `VIGIL_MQTT_PORT: ports ${from}–${from + TRIES} are all in use (set VIGIL_MQTT_PORT to a free port)`);
}

function portError(setting: string, port: number, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return new AppError('UNAVAILABLE', `${setting}: port ${port} is already in use (set ${setting} to a free port)`);
  if (code === 'EACCES') return new AppError('UNAVAILABLE', `${setting}: no permission to listen on port ${port}`);
  return err as Error;
}

export interface DemoLogin {
  email: string;
  password: string;
  role: string;
}
