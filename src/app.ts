/**
 * The composition root, the one place where Vigil is put together (src/app/README.md has the map). Two
 * flavours share one set of services (app/services.ts):
 * - `startApp`: the server. config → data dir → database → migrations → services → monitoring → device
 *   gateway → server-side services → HTTP (+ the demo clinic). `close()` shuts them down in reverse,
 *   draining ingest so nothing acknowledged is left unwritten.
 * - `openOfflineApp`: the same services on the database with nothing started (no broker, no HTTP, no
 *   monitoring), for CLI verbs run while no server holds the database (`vigil user add`, `audit verify`,
 *   `smart app add`, `import csv`, `export csv`…).
 * Nothing but the CLI's entry points imports this file or src/app/ (src/app.test.ts checks).
 */
import { preloadUnits } from './domain/units.ts';
import { mkdir } from 'node:fs/promises';
import { AppError } from './platform/errors.ts';
import type { Config } from './config/config.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import { openDatabase, type Db } from './platform/db.ts';
import { secureDataDir } from './platform/data-dir.ts';
import { assertKeyRingCovers } from './platform/encryption/index.ts';
import { loadSecrets } from './platform/secrets.ts';
import { migrate } from './store/migrate.ts';
import { createRetention } from './store/retention.ts';
import { registerReadAudit } from './audit/read-audit.ts';
import { createOriginCheck } from './auth/origin.ts';
import type { DeviceGateway } from './ingest/broker/gateway.ts';
// [rel] several instances: per-patient ownership across instances (issue 11)
import { createLeaseOwnership } from './cluster/ownership.ts';
import { createHttpServer } from './api/http-server.ts';
import { createPrincipalCache } from './api/principal-cache.ts';
import type { RouteRegistry } from './api/policy.ts';
import { registerLiveGateway } from './api/live-gateway.ts';
import type { AlertsConfig } from './alerts/alerts.config.ts';
// [demo] the localhost demo clinic: mailbox, seed, simulated devices
import { startDemo } from './demo/index.ts';
import { demoRoutes } from './api/routes/demo.routes.ts';
import { createServices, type Services } from './app/services.ts';
import { startMonitoring } from './app/monitoring.ts';
import { instanceId, portError, startDeviceGateway } from './app/device-gateway.ts';
import { loadTls } from './auth/tls.ts';
import { createServerServices } from './app/server-services.ts';
import { registerRoutes, type DemoLogin } from './app/routes.ts';
import { VERSION } from './app/version.ts';
import { reportAuditRole } from './audit/audit-role.ts';

export { VERSION };
export type { Services, DemoLogin };

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

/** Creates the data dir, owner-only (umask 077 + sweep); one that cannot be used is a one-line error naming the setting. */
async function useDataDir(dir: string) {
  try {
    await mkdir(dir, { recursive: true });
    await secureDataDir(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!e.code) throw err;
    const why = e.code === 'EEXIST' || e.code === 'ENOTDIR' ? 'a file is in the way' : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code;
    throw new AppError('UNAVAILABLE', `VIGIL_DATA_DIR: cannot use ${dir} as the data directory (${why})`);
  }
}

/** The server: every part started, HTTP listening. */
export async function startApp(
  config: Config,
  opts: { logger?: Logger; clock?: Clock; /** Tests: alert delivery settings over the config's. */ alerts?: Partial<AlertsConfig> } = {},
): Promise<RunningApp> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  await useDataDir(config.dataDir);
  const secrets = await loadSecrets(config);
  preloadUnits(); // UCUM's definitions now, not on the event loop of the first device sending pounds (units.ts)
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    preparedStatements: config.databasePrepared,
    fsync: config.pgliteFsync,
  });
  const closers: Array<() => Promise<void> | void> = [() => db.close()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await Promise.resolve(c()).catch((err) => logger.error({ err }, 'error while closing'));
  };
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, 'database migrated');
    if (db.kind === 'postgres') await reportAuditRole(db, logger); // [audit] (d)(2) a separate audit-owner role
    await assertKeyRingCovers(db, secrets.masterKeys); // [sec] every instance shares the master key
    // The ownership session closes just before the database: its locks (this instance's patients) are
    // released only after monitoring and ingest have finished with them.
    const ownership = await createLeaseOwnership({ db, instanceId: `${await instanceId(config.dataDir)}.${process.pid}`, logger });
    closers.push(() => ownership.close());
    // The demo clinic (localhost only): its mailbox exists before alerts choose where emails go.
    const demo = config.demo ? await startDemo(config, logger) : null;
    if (demo) closers.push(() => demo.close());
    const alertsConfig = { ...config.alerts, ...(demo?.smtpUrl ? { smtpUrl: demo.smtpUrl } : {}), ...opts.alerts };
    // The public URL is known once HTTP listens; notifications, FHIR and SMART links and passkeys read it then.
    const urls = { base: config.publicUrl ?? '' };
    const services = createServices(db, {
      site: { url: () => urls.base, allowedOrigins: config.security.allowedOrigins },
      ...serviceSettings(config, opts.clock),
      logger,
      secrets,
      flushMs: config.ingestFlushMs,
      alertsConfig,
      ownership,
      fhirBase: () => urls.base + '/fhir/R4',
    });
    closers.push(() => services.audit.flush());
    // Each table's scheduled deletion commits with its audit entry ((d)(2)), so retention starts once audit exists.
    const retention = createRetention({ db, audit: services.audit, clock: opts.clock ?? systemClock, logger, policy: config.retention });
    retention.start();
    closers.push(() => retention.stop());
    closers.push(() => services.ingest.close()); // last: also writes what monitoring derived while closing
    await services.relay.start();
    closers.push(() => services.relay.close());
    const monitoring = await startMonitoring(services, { appUrl: () => urls.base, dataDir: config.dataDir });
    await ownership.ready(); // evaluating now: instances over their share may hand this one buckets
    // Closers run in reverse: the gateway stops taking messages, ingest drains what it acknowledged, and
    // only then does monitoring stop, so readings committed during the drain still meet the rules.
    closers.push(async () => {
      await services.ingest.drain();
      await monitoring.close();
    });
    const tls = config.tls ? await loadTls(config.tls) : undefined; // [sec] (d)(9) HTTPS and MQTTS
    const gateway = await startDeviceGateway(config, services, logger, tls);
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
    // [fhir] Bearer tokens → principals from memory, dropped at once on revocation (principal-cache.ts).
    const principals = createPrincipalCache({ auth: services.auth, db, logger });
    await principals.start();
    closers.push(() => principals.close());
    // An erasure deletes the patient's login: their cached tokens stop at once too (the auth service does not see it).
    const erase = services.erasure.erase.bind(services.erasure);
    services.erasure.erase = async (...args) => {
      try {
        return await erase(...args);
      } finally {
        principals.invalidateAll();
      }
    };
    const { http, registry } = await createHttpServer({
      logger,
      auth: services.auth,
      principals,
      access: services.access,
      version: VERSION,
      strictResponses: config.strictResponses,
      authenticateDevice: async (id, secret) => (await services.deviceService.authenticate(id, secret)) !== false,
      security: { ...config.security, publicUrl: config.publicUrl },
      tls,
    });
    registerReadAudit(http, services.audit, services.db); // F11: reads and refused access
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
    closers.push(services.relay.addInterest(live.watches));
    registerRoutes(http, { config, services, server, gateway, live, demoLogins: () => demoInfo.logins, urls });
    if (demo?.mails) demoRoutes(http, { mails: demo.mails });

    await http.listen({ port: config.httpPort, host: config.httpHost }).catch((err) => {
      throw portError('VIGIL_HTTP_PORT', config.httpPort, err);
    });
    closers.push(() => http.close());
    // Before HTTP closes the sockets: visit rooms first tell their people to reconnect (1012) and keep the visits
    // going (closing the sockets first made every call's last person leave, which ended the visit).
    closers.push(() => server.rooms.close());
    const httpPort = (http.server.address() as { port: number }).port;
    urls.base = config.publicUrl ?? `${tls ? 'https' : 'http'}://localhost:${httpPort}`;
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

export interface OfflineApp {
  db: Db;
  services: Services;
  /** Flushes the audit trail and what ingest holds, then closes the database. */
  close(): Promise<void>;
}

/**
 * The offline flavour: the server's services (same settings, same key checks) on the database, with nothing
 * started. For CLI verbs run while no server holds the database; a verb uses what it needs of `services`.
 */
export async function openOfflineApp(config: Config, opts: { logger?: Logger; clock?: Clock } = {}): Promise<OfflineApp> {
  const logger = opts.logger ?? createLogger('warn');
  await mkdir(config.dataDir, { recursive: true });
  await secureDataDir(config.dataDir);
  const secrets = await loadSecrets(config);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    preparedStatements: config.databasePrepared,
    fsync: config.pgliteFsync,
  });
  try {
    await migrate(db);
    await assertKeyRingCovers(db, secrets.masterKeys);
  } catch (err) {
    await db.close();
    throw err;
  }
  const services = createServices(db, {
    ...serviceSettings(config, opts.clock),
    logger,
    secrets,
    alertsConfig: config.alerts,
    site: { url: () => config.publicUrl ?? 'http://localhost', allowedOrigins: config.security.allowedOrigins },
    fhirBase: () => (config.publicUrl ?? '') + '/fhir/R4',
  });
  return {
    db,
    services,
    async close() {
      await services.audit.flush();
      await services.ingest.close();
      await db.close();
    },
  };
}

/** The settings both flavours give the services from the config. */
function serviceSettings(config: Config, clock: Clock | undefined) {
  return { security: config.security, clock: clock ?? systemClock, erasureRetain: config.privacy.erasureRetain, timeZone: config.timeZone };
}
