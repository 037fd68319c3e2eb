import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Config, SecurityConfig } from './config/config.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { createEventBus } from './platform/events.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { openDatabase, type Db } from './platform/db.ts';
import { AppError } from './platform/errors.ts';
import { secureDataDir } from './platform/data-dir.ts';
import { assertKeyRingCovers, createPatientCipher } from './platform/encryption/index.ts';
import { loadDeviceMappings } from './devices/mappings.ts';
import { loadSecrets, type Secrets } from './platform/secrets.ts';
import { migrate } from './store/migrate.ts';
import { createRetention } from './store/retention.ts';
import { createPatientsRepository } from './store/patients.repository.ts';
import { createUsersRepository } from './store/users.repository.ts';
import { createDevicesRepository } from './store/devices.repository.ts';
import { createReadingsRepository } from './store/readings.repository.ts';
import { createEcgRepository } from './store/ecg.repository.ts';
import { createRejectionsRepository } from './store/rejections.repository.ts';
import { createAuditService } from './audit/audit.service.ts';
import { createAuthService } from './auth/auth.service.ts';
import { createAccessPolicy } from './auth/access.ts';
import { createMfa } from './auth/mfa.ts';
import { createPasskeys, passkeySite } from './auth/passkeys.ts';
import { createEmergencyAccess } from './auth/emergency-access.ts';
import { createErasure, type Erasable } from './privacy/erasure.ts';
import { createOriginCheck } from './auth/origin.ts';
import { registerReadAudit } from './audit/read-audit.ts';
import { auditRoutes } from './api/routes/audit.routes.ts';
import { consentRoutes } from './api/routes/consent.routes.ts';
import { exportRoutes } from './api/routes/export.routes.ts';
import { createPatientExport } from './api/export/patient-export.ts';
import { auditEventProvider } from './audit/audit-event.fhir.ts';
import { createConsents } from './privacy/consent.ts';
import { createDeviceService } from './devices/device.service.ts';
import { createPatientService } from './patients/patient.service.ts';
import { createDerivedService } from './patients/derived.service.ts';
import { createIngestService } from './ingest/ingest.service.ts';
import { startEmbeddedBroker } from './ingest/broker/embedded-broker.ts';
import { connectExternalBroker } from './ingest/broker/external-broker.ts';
import { connectNatsJetStream } from './ingest/broker/nats-jetstream.ts';
import { checkExternalBroker } from './ingest/broker/mosquitto-check.ts';
import type { DeviceGateway } from './ingest/broker/gateway.ts';
import { createDerivedObservations } from './monitoring/derived-observations.ts';
import { createEcgMonitor } from './monitoring/ecg-monitor.ts';
import { createCgmDailySummaries } from './monitoring/cgm-daily.ts';
// [rel] several instances: per-patient ownership and live events across instances (issue 11)
import { createLeaseOwnership, soleOwnership, type Ownership } from './cluster/ownership.ts';
import { createRelay } from './cluster/relay.ts';
import { createHttpServer, type Api } from './api/http-server.ts';
import type { RouteRegistry } from './api/policy.ts';
import { policy } from './api/policy.ts';
import { createSeriesService } from './patients/series.service.ts';
import { Health } from './api/contracts/index.ts';
import { authRoutes } from './api/routes/auth.routes.ts';
import { patientRoutes } from './api/routes/patients.routes.ts';
import { deviceRoutes } from './api/routes/devices.routes.ts';
import { userRoutes } from './api/routes/users.routes.ts';
import { registerLiveGateway } from './api/live-gateway.ts';
import { createFhirModule } from './api/fhir/index.ts';
// [csv] CSV import/export of readings (issue 10)
import { createCsvImportService } from './csv/import.service.ts';
import { createCsvExportService } from './csv/export.ts';
import { csvRoutes } from './csv/csv.routes.ts';
// [commands] device commands (issue 4 part 4)
import { createCommandsRepository } from './commands/commands.repository.ts';
import { createCommandService } from './commands/command.service.ts';
import { startExpirySweeper } from './commands/expiry-sweeper.ts';
import { commandRoutes } from './api/routes/commands.routes.ts';
// [alerts] rules, lifecycle, delivery (issue 4 parts 1–3)
import { createAlertsModule } from './alerts/alerts.module.ts';
import { loadAlertsConfig, type AlertsConfig } from './alerts/alerts.config.ts';
import { alertRoutes } from './api/routes/alerts.routes.ts';
// [tele] secure messaging, FHIR Communication (issue 8)
import { createMessagesRepository } from './messaging/messages.repository.ts';
import { createMessagingService } from './messaging/messaging.service.ts';
import { communicationProvider } from './messaging/communication.fhir.ts';
import { messageRoutes } from './api/routes/messages.routes.ts';
// [tele] appointments, video visits (issue 8)
import { createAppointmentsRepository } from './appointments/appointments.repository.ts';
import { createAppointmentsService } from './appointments/appointments.service.ts';
import { appointmentProviders } from './appointments/appointment.fhir.ts';
import { startTelehealthEmail } from './messaging/telehealth-email.ts';
import { createTasksRepository } from './messaging/tasks.repository.ts';
import { createTasksService } from './messaging/tasks.service.ts';
import { taskRoutes } from './api/routes/tasks.routes.ts';
import { taskProvider } from './messaging/task.fhir.ts';
import { appointmentRoutes } from './api/routes/appointments.routes.ts';
import { createVisitRooms } from './visits/visit-rooms.ts';
import { createVisitsService } from './visits/visits.service.ts';
import { createVisitCluster } from './visits/visit-cluster.ts';
import { rtcConfigurationFor } from './visits/visits.config.ts';
import { visitRoutes } from './api/routes/visits.routes.ts';
// [demo] the localhost demo clinic: mailbox, seed, simulated devices
import { startDemo } from './demo/index.ts';
import { demoRoutes } from './api/routes/demo.routes.ts';

export const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Builds the services on an open database: what the server and the offline CLI share. */
export function createServices(
  db: Db,
  deps: {
    logger: Logger;
    secrets: Secrets;
    security?: SecurityConfig;
    clock?: Clock;
    flushMs?: number;
    alertsConfig?: AlertsConfig;
    erasureRetain?: Erasable[];
    ownership?: Ownership;
    /** The site's URL (public URL, or http://localhost:PORT once listening) and extra origins: passkeys are bound to it. */
    site?: { url: () => string; allowedOrigins: string[] };
  },
) {
  const clock = deps.clock ?? systemClock;
  // [sec] encryption at rest for free text and files: seal/open under per-patient keys, shred to erase
  const cipher = createPatientCipher(db, deps.secrets.masterKeys);
  const events = createEventBus({ logger: deps.logger.child({ module: 'events' }) });
  const repos = {
    patients: createPatientsRepository(db),
    users: createUsersRepository(db),
    devices: createDevicesRepository(db),
    readings: createReadingsRepository(db),
    ecg: createEcgRepository(db),
    rejections: createRejectionsRepository(db),
  };
  // Several instances on one PostgreSQL: who does a patient's once-only work, and events between instances.
  const ownership = deps.ownership ?? soleOwnership(randomBytes(4).toString('hex'));
  const relay = createRelay({
    db,
    events,
    instanceId: ownership.instanceId,
    logger: deps.logger,
    load: { readings: (ids) => repos.readings.byIds(ids), ecg: (ids) => repos.ecg.byIds(ids) },
  });
  const audit = createAuditService(db, { keys: deps.secrets.auditKeys, anchorFile: deps.secrets.anchorFile, clock });
  const emergency = createEmergencyAccess({ db, audit, patients: repos.patients, clock });
  // The access policy asks consents on every request (a revoked consent is a 404 at once); consents ask access.
  const access = createAccessPolicy({
    patients: repos.patients,
    emergencyPatientIds: emergency.activePatientIds,
    caregiverPatientIds: (userId) => consents.caregiverPatientIds(userId),
  });
  const consents = createConsents({ db, audit, access, clock });
  const sec = deps.security;
  const auth = createAuthService({
    users: repos.users,
    patients: repos.patients,
    audit,
    clock,
    mfa: createMfa(db, cipher, () => clock.now()),
    passkeys: createPasskeys(db, passkeySite(deps.site ?? { url: () => 'http://localhost', allowedOrigins: [] }), () => clock.now()),
    settings: sec
      ? { idleMs: sec.sessionIdleMin * 60_000, maxMs: sec.sessionMaxHours * 3600_000, requireMfa: sec.requireMfa, tokenTtlDays: sec.tokenTtlDays }
      : undefined,
  });
  const mappings = loadDeviceMappings(); // devices/mappings/*.json: a new device model is a file
  const deviceService = createDeviceService({
    devices: repos.devices,
    patients: repos.patients,
    rejections: repos.rejections,
    audit,
    access,
    clock,
    mappedTypes: [...mappings.keys()],
  });
  // [alerts] built before the patient service, which shows open-alert counts on the panel
  const alerts = createAlertsModule({
    db,
    events,
    clock,
    logger: deps.logger,
    access,
    audit,
    patients: repos.patients,
    devices: repos.devices,
    config: deps.alertsConfig ?? loadAlertsConfig({}),
    ownership,
    onResync: relay.onResync,
  });
  const patientService = createPatientService({
    patients: repos.patients,
    readings: repos.readings,
    devices: repos.devices,
    access,
    audit,
    clock,
    alerts: alerts.service,
  });
  const ingest = createIngestService({
    db,
    ...repos,
    deviceService,
    events,
    clock,
    logger: deps.logger,
    flushMs: deps.flushMs ?? 5,
    pressure: () => alerts.monitor.belowHighWater(),
    announce: relay.enabled ? relay.announceStored : undefined,
    mappings,
  });
  // [tele] messages: bodies and files sealed with the patient's key
  const messagesRepo = createMessagesRepository(db);
  const messaging = createMessagingService({ repo: messagesRepo, access, audit, events, clock, cipher });
  const tasks = createTasksService({ repo: createTasksRepository(db), messages: messagesRepo, patients: repos.patients, access, audit, clock, cipher });
  const appointmentsRepo = createAppointmentsRepository(db);
  const appointments = createAppointmentsService({ repo: appointmentsRepo, patients: repos.patients, access, audit, clock, events });
  const erasure = createErasure({ db, cipher, audit, access, retain: deps.erasureRetain ?? [] });
  // [csv] spreadsheet import (the server's route and the offline CLI share it)
  const csvImport = createCsvImportService({ db, readings: repos.readings, access, audit });
  const csvExport = createCsvExportService({ db, access, audit });
  return {
    db,
    clock,
    events,
    repos,
    audit,
    access,
    emergency,
    erasure,
    consents,
    auth,
    deviceService,
    patientService,
    ingest,
    alerts,
    cipher,
    messaging,
    tasks,
    appointments,
    appointmentsRepo,
    csvImport,
    csvExport,
    logger: deps.logger,
    ownership,
    relay,
  };
}

export type Services = ReturnType<typeof createServices>;

export interface RunningApp {
  services: Services;
  httpUrl: string;
  httpPort: number;
  mqttPort: number | null;
  gateway: DeviceGateway | null;
  /** The demo clinic (VIGIL_DEMO=1): its logins, shown on the sign-in page, and its lines for the start banner. */
  demo: { logins: DemoLogin[]; banner: string[] };
  /** Every HTTP route with its declared policy and schemas (api/routes.test.ts walks it). */
  routes: RouteRegistry;
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
 * The composition root: config → database → migrations → services → monitoring → broker → HTTP. `close()`
 * shuts them down in reverse, draining ingest so nothing acknowledged is left unwritten.
 */
export async function startApp(
  config: Config,
  opts: { logger?: Logger; clock?: Clock; /** Tests: alert delivery settings over the config's. */ alerts?: Partial<AlertsConfig> } = {},
): Promise<RunningApp> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  await mkdir(config.dataDir, { recursive: true });
  await secureDataDir(config.dataDir); // owner-only data dir and files (umask 077 + sweep)
  const secrets = await loadSecrets(config);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const closers: Array<() => Promise<void> | void> = [() => db.close()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await Promise.resolve(c()).catch((err) => logger.error({ err }, 'error while closing'));
  };
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, 'database migrated');
    await assertKeyRingCovers(db, secrets.masterKeys); // [sec] every instance shares the master key
    const retention = createRetention({ db, clock: opts.clock ?? systemClock, logger, policy: config.retention });
    retention.start();
    closers.push(() => retention.stop());
    // The ownership session closes just before the database: its locks (this instance's patients) are
    // released only after monitoring and ingest have finished with them.
    const ownership = await createLeaseOwnership({ db, instanceId: `${await instanceId(config.dataDir)}.${process.pid}`, logger });
    closers.push(() => ownership.close());
    // The demo clinic (localhost only): its mailbox exists before alerts choose where emails go.
    const demo = config.demo ? await startDemo(config, logger) : null;
    if (demo) closers.push(() => demo.close());
    const alertsConfig = { ...config.alerts, ...(demo?.smtpUrl ? { smtpUrl: demo.smtpUrl } : {}), ...opts.alerts };
    // The public URL is known once HTTP listens; notifications, FHIR links and passkeys read it then.
    const urls = { base: config.publicUrl ?? '' };
    const services = createServices(db, {
      site: { url: () => urls.base, allowedOrigins: config.security.allowedOrigins },
      logger,
      secrets,
      security: config.security,
      clock: opts.clock,
      flushMs: config.ingestFlushMs,
      alertsConfig,
      erasureRetain: config.privacy.erasureRetain,
      ownership,
    });
    closers.push(() => services.audit.flush());
    closers.push(() => services.ingest.close()); // last: also writes what monitoring derived while closing
    await services.relay.start();
    closers.push(() => services.relay.close());
    const monitoring = await startMonitoring(services, { appUrl: () => urls.base, dataDir: config.dataDir });
    // Closers run in reverse: the gateway stops taking messages, ingest drains what it acknowledged, and
    // only then does monitoring stop, so readings committed during the drain still meet the rules.
    closers.push(async () => {
      await services.ingest.drain();
      await monitoring.close();
    });
    const gateway = await startDeviceGateway(config, services, logger);
    if (gateway) closers.push(() => gateway.close());
    const server = createServerServices(config, services, {
      gateway,
      monitoring,
      baseUrl: () => urls.base,
      logger,
      smtp: { url: alertsConfig.smtpUrl, from: alertsConfig.emailFrom },
    });
    closers.push(() => server.close());
    await server.visitCluster.start();

    const demoInfo = { logins: [] as DemoLogin[], banner: [] as string[] };
    const { http, registry } = await createHttpServer({
      logger,
      auth: services.auth,
      access: services.access,
      version: VERSION,
      strictResponses: config.strictResponses,
      authenticateDevice: async (id, secret) => (await services.deviceService.authenticate(id, secret)) !== false,
      security: { ...config.security, publicUrl: config.publicUrl },
    });
    registerReadAudit(http, services.audit); // F11: reads and refused access
    const origins = createOriginCheck({ publicUrl: config.publicUrl, allowedOrigins: config.security.allowedOrigins });
    const live = registerLiveGateway(http, {
      events: services.events,
      access: services.access,
      auth: services.auth,
      logger,
      origins,
      scopeChanges: services.consents,
      strict: config.strictResponses,
    });
    closers.push(() => live.close());
    registerRoutes(http, { config, services, server, gateway, live, demoLogins: () => demoInfo.logins, urls });
    if (demo?.mails) demoRoutes(http, { mails: demo.mails });

    await http.listen({ port: config.httpPort, host: config.httpHost }).catch((err) => {
      throw portError('VIGIL_HTTP_PORT', config.httpPort, err);
    });
    closers.push(() => http.close());
    const httpPort = (http.server.address() as { port: number }).port;
    urls.base = config.publicUrl ?? `http://localhost:${httpPort}`;
    const mqttPort = gateway?.kind === 'embedded' ? (gateway.port ?? null) : null;
    if (demo) {
      const clinic = await demo.start(
        { ...services, userCount: () => services.repos.users.count() },
        config.mqttUrl ?? (mqttPort ? `mqtt://127.0.0.1:${mqttPort}` : null),
      );
      closers.push(() => demo.stopDevices()); // first at close: no more readings while the rest drains
      demoInfo.logins = clinic?.logins ?? [];
      demoInfo.banner = demo.banner();
    }
    return { services, httpUrl: urls.base, httpPort, mqttPort, gateway, demo: demoInfo, routes: registry, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Analysis as data arrives: alert rules, derived NEWS2, the ECG stream, CGM daily summaries. */
async function startMonitoring(services: Services, alertsStart: { appUrl: () => string; dataDir: string }) {
  // Alerts start before the broker so that the first readings meet loaded rules.
  await services.alerts.start(alertsStart);
  const derived = createDerivedObservations({ ...services });
  const ecgMonitor = createEcgMonitor({ ...services });
  const cgmDaily = createCgmDailySummaries({ ...services });
  return {
    afSince: ecgMonitor.afSince,
    async close() {
      cgmDaily.close();
      ecgMonitor.close();
      derived.close();
      await services.alerts.close();
    },
  };
}

type Gateway = DeviceGateway & { port?: number; clientCount?: () => number; configWarnings?: () => string[] };

/** The device side: an external broker (MQTT_URL), the embedded one, or none (VIGIL_MQTT_PORT=0). */
async function startDeviceGateway(config: Config, services: Services, logger: Logger): Promise<Gateway | null> {
  if (config.nats) {
    return connectNatsJetStream({
      ...config.nats,
      instanceId: await instanceId(config.dataDir),
      ingest: services.ingest,
      events: services.events,
      clock: services.clock,
      logger,
    });
  }
  if (config.mqttUrl) {
    const gateway = await connectExternalBroker({
      url: config.mqttUrl,
      instanceId: await instanceId(config.dataDir),
      consumers: 4,
      ingest: services.ingest,
      events: services.events,
      clock: services.clock,
      logger,
    });
    // Where the broker's acknowledgement is the device's only guarantee: say what in its setup loses readings.
    const warnings = await checkExternalBroker({ url: config.mqttUrl, confPath: config.mosquittoConf, logger });
    return Object.assign(gateway, { configWarnings: () => warnings });
  }
  if (config.mqttPort === 0) return null;
  const brokerDeps = { deviceService: services.deviceService, ingest: services.ingest, events: services.events, clock: services.clock, logger };
  try {
    return await startEmbeddedBroker({ port: config.mqttPort, ...brokerDeps });
  } catch (err) {
    // The default port is often held by a broker already on the machine (Mosquitto): when the port was not
    // chosen explicitly, take the next free one and say so, rather than failing a first `npm start`.
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || config.mqttPortExplicit) throw portError('VIGIL_MQTT_PORT', config.mqttPort, err);
    const embedded = await startEmbeddedBrokerOnNextFreePort(config.mqttPort, brokerDeps);
    logger.warn(
      `port ${config.mqttPort} is in use (another MQTT broker?); the embedded broker listens on ${embedded.port} instead. Set VIGIL_MQTT_PORT to choose.`,
    );
    return embedded;
  }
}

/**
 * The services that need the running parts: the ECG monitor's AF state, the device gateway (commands), the
 * public URL (visit links, FHIR). Built here, beside createServices, so that route wiring builds nothing.
 */
function createServerServices(
  config: Config,
  s: Services,
  d: {
    gateway: Gateway | null;
    monitoring: { afSince(deviceId: string): number | null };
    baseUrl: () => string;
    logger: Logger;
    smtp: { url: string | null; from: string };
  },
) {
  const derived = createDerivedService({ access: s.access, patients: s.repos.patients, readings: s.repos.readings, clock: s.clock });
  const series = createSeriesService({ access: s.access, readings: s.repos.readings, ecg: s.repos.ecg, clock: s.clock, afSince: d.monitoring.afSince });
  const rooms = createVisitRooms({
    appointments: s.appointmentsRepo,
    messaging: s.messaging,
    audit: s.audit,
    events: s.events,
    clock: s.clock,
    logger: d.logger,
    maxParticipants: config.visits.maxParticipants,
    onChange: (appointment, status) => visitCluster.publish(appointment, status),
  });
  const visitCluster = createVisitCluster({
    db: s.db,
    rooms,
    cipher: s.cipher,
    instanceId: s.ownership.instanceId,
    logger: d.logger,
    rtc: (peerId) => rtcConfigurationFor(config.visits, peerId, s.clock.now()),
  });
  const visits = createVisitsService({
    appointments: s.appointments,
    repo: s.appointmentsRepo,
    messaging: s.messaging,
    audit: s.audit,
    clock: s.clock,
    config: config.visits,
    baseUrl: d.baseUrl,
  });
  // FHIR R4: other modules register their resource types on fhir.registry before the routes go up.
  const fhir = createFhirModule({
    db: s.db,
    access: s.access,
    audit: s.audit,
    patients: s.repos.patients,
    devices: s.repos.devices,
    version: VERSION,
    dataDir: config.dataDir,
    cipher: s.cipher,
    logger: s.logger,
    clock: s.clock,
    writes: {
      patientService: s.patientService,
      storeReadings: (rows) => s.ingest.storeDerived(rows),
      storeReadingsIn: (tx, rows) => s.ingest.storeIn(tx, rows),
    },
    baseUrl: () => d.baseUrl() + '/fhir/R4',
    publicBase: d.baseUrl,
    userById: (id) => s.auth.userById(id),
  });
  // [tele] Communication, Appointment, Encounter, Schedule, Slot
  const telehealthFhir = {
    communication: communicationProvider({ db: s.db, messaging: s.messaging, access: s.access }),
    task: taskProvider({ db: s.db, tasks: s.tasks, access: s.access }),
    ...appointmentProviders({ db: s.db, appointments: s.appointments, repo: s.appointmentsRepo, access: s.access, audit: s.audit, now: () => s.clock.now() }),
  };
  for (const provider of Object.values(telehealthFhir)) fhir.registry.register(provider);
  fhir.registry.register(auditEventProvider({ db: s.db, access: s.access })); // [sec] (d)(3) AuditEvent
  // [sec] the patient's own export (GDPR art. 15/20): Patient/$everything plus every patient-searchable type
  const patientExport = createPatientExport({ registry: fhir.registry, everything: fhir.service.everything, access: s.access, audit: s.audit, clock: s.clock });
  // Device commands: a durable queue in the database, delivered through the gateway.
  const commands = createCommandService({
    commands: createCommandsRepository(s.db),
    devices: s.deviceService,
    access: s.access,
    audit: s.audit,
    events: s.events,
    gateway: d.gateway,
    clock: s.clock,
    logger: d.logger,
    timeouts: { answerMs: config.commandAnswerTimeoutS * 1000, queuedMs: config.commandQueueTtlS * 1000 },
    // Every instance hears every device event: the patient's owner delivers (an unassigned device: where it connected).
    shouldAct: (patientId, event) => (patientId ? s.ownership.owns(patientId) : Promise.resolve(!s.relay.isRemote(event))),
  });
  const sweeper = startExpirySweeper(commands.expireDue, d.logger);
  // [tele] unread-message nudges and appointment reminders by email
  const telehealthEmail = startTelehealthEmail({
    db: s.db,
    appointments: s.appointmentsRepo,
    audit: s.audit,
    clock: s.clock,
    logger: d.logger,
    baseUrl: d.baseUrl,
    smtp: d.smtp,
    config: config.visits.email,
  });
  return {
    derived,
    series,
    rooms,
    visitCluster,
    visits,
    fhir,
    telehealthFhir,
    patientExport,
    commands,
    telehealthEmail,
    async close() {
      await telehealthEmail.close();
      await rooms.close();
      await visitCluster.close();
      await sweeper.stop();
      await commands.close();
    },
  };
}

type ServerServices = ReturnType<typeof createServerServices>;

/** Every HTTP route module, each given only the services it uses. Builds nothing: app.ts built them above. */
function registerRoutes(
  http: Api,
  d: {
    config: Config;
    services: Services;
    server: ServerServices;
    gateway: Gateway | null;
    live: { clientCount(): number };
    demoLogins: () => DemoLogin[];
    urls: { base: string };
  },
) {
  const { config, services: s, server, gateway } = d;
  http.get(
    '/health',
    {
      config: { policy: policy.public('load balancers and supervisors') },
      schema: { summary: 'Liveness: database and broker', response: { 200: Health, 503: Health } },
    },
    async (_req, reply) => {
      // A database that does not answer within 2 s is down for a load balancer's purposes (503, not a hang).
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 2_000)));
      const dbOk = await Promise.race([
        s.db.query('SELECT 1').then(
          () => true,
          () => false,
        ),
        timeout,
      ]);
      clearTimeout(timer);
      const brokerOk = gateway ? gateway.healthy() : true;
      return reply
        .status(dbOk && brokerOk ? 200 : 503)
        .send({ status: dbOk && brokerOk ? 'ok' : 'unavailable', database: dbOk ? 'up' : 'down', broker: gateway ? (brokerOk ? 'up' : 'down') : 'disabled' });
    },
  );
  const secureCookies = (config.publicUrl ?? '').startsWith('https:');
  authRoutes(http, { auth: s.auth, secureCookies, demoLogins: d.demoLogins });
  patientRoutes(http, { patients: s.patientService, derived: server.derived, series: server.series });
  deviceRoutes(http, {
    devices: s.deviceService,
    ingest: s.ingest,
    gatewayStats: () => ({ kind: gateway?.kind ?? 'none', clients: gateway?.clientCount?.() ?? null, liveClients: d.live.clientCount() }),
  });
  userRoutes(http, { auth: s.auth, access: s.access, patients: s.patientService });
  auditRoutes(http, { audit: s.audit, access: s.access, users: s.auth, emergency: s.emergency, erasure: s.erasure }); // [sec] (d)(3) audit reports
  consentRoutes(http, { consents: s.consents }); // [sec] consent
  const fhirBase = () => d.urls.base + '/fhir/R4';
  exportRoutes(http, { exporter: server.patientExport, fhirBase }); // [sec] the patient's export
  messageRoutes(http, { messaging: s.messaging }); // [tele]
  taskRoutes(http, { tasks: s.tasks, visits: server.visits }); // [tele]
  appointmentRoutes(http, { appointments: s.appointments, now: () => s.clock.now() });
  visitRoutes(http, {
    visits: server.visits,
    rooms: server.rooms,
    cluster: server.visitCluster,
    appointments: s.appointments,
    auth: s.auth,
    origins: createOriginCheck({ publicUrl: config.publicUrl, allowedOrigins: config.security.allowedOrigins }),
  });
  server.fhir.routes(http, { auth: s.auth, secureCookies });
  csvRoutes(http, { exporter: s.csvExport, importer: s.csvImport });
  commandRoutes(http, { commands: server.commands });
  alertRoutes(http, { alerts: s.alerts.service, rules: s.alerts.rules, preferences: s.alerts.preferences, pushPublicKey: s.alerts.pushPublicKey });
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
