import { randomBytes } from 'node:crypto';
import type { SecurityConfig } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import { createEventBus } from '../platform/events.ts';
import { systemClock, type Clock } from '../platform/clock.ts';
import type { Db } from '../platform/db.ts';
import { createPatientCipher } from '../platform/encryption/index.ts';
import { loadDeviceMappings } from '../devices/mappings.ts';
import type { Secrets } from '../platform/secrets.ts';
import { createSignInThrottles } from '../auth/login-throttle.ts';
import { dbThrottleStore } from '../auth/throttle-store.ts';
import { createPatientsRepository } from '../store/patients.repository.ts';
import { createUsersRepository } from '../store/users.repository.ts';
import { createDevicesRepository } from '../store/devices.repository.ts';
import { createReadingsRepository } from '../store/readings.repository.ts';
import { createEcgRepository } from '../store/ecg.repository.ts';
import { createRejectionsRepository } from '../store/rejections.repository.ts';
import { createAuditService } from '../audit/audit.service.ts';
import { createAuthService } from '../auth/auth.service.ts';
import { createAccessPolicy } from '../auth/access.ts';
import { createMfa } from '../auth/mfa.ts';
import { createPasskeys, passkeySite } from '../auth/passkeys.ts';
import { createEmergencyAccess } from '../auth/emergency-access.ts';
import { createErasure, type Erasable } from '../privacy/erasure.ts';
import { createConsents } from '../privacy/consent.ts';
import { createDeviceService } from '../devices/device.service.ts';
import { createPatientService } from '../patients/patient.service.ts';
import { createIngestService } from '../ingest/ingest.service.ts';
import { soleOwnership, type Ownership } from '../cluster/ownership.ts';
import { createRelay } from '../cluster/relay.ts';
// [csv] CSV import/export of readings (issue 10)
import { createCsvImportService } from '../csv/import.service.ts';
import { createCsvExportService } from '../csv/export.ts';
import { createSmartService } from '../api/fhir/smart/smart.service.ts';
// [alerts] rules, lifecycle, delivery (issue 4 parts 1–3)
import { createAlertsModule } from '../alerts/alerts.module.ts';
import { loadAlertsConfig, type AlertsConfig } from '../alerts/alerts.config.ts';
// [tele] secure messaging, tasks, appointments (issue 8)
import { createMessagesRepository } from '../messaging/messages.repository.ts';
import { createMessagingService } from '../messaging/messaging.service.ts';
import { createAppointmentsRepository } from '../appointments/appointments.repository.ts';
import { createAppointmentsService } from '../appointments/appointments.service.ts';
import { createTasksRepository } from '../messaging/tasks.repository.ts';
import { createTasksService } from '../messaging/tasks.service.ts';

/**
 * The services on an open database, with nothing started: what the server (app.ts `startApp`) and the
 * offline CLI (app.ts `openOfflineApp`) share. Each service is given only what it uses.
 */
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
    /** The FHIR base URL SMART tokens name (the server knows it once HTTP listens; offline: the configured one). */
    fhirBase?: () => string;
    /** The clinic's IANA time zone (VIGIL_TIME_ZONE) for clock times of patients without their own. */
    timeZone?: string;
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
    peers: () => ownership.stats().peers,
  });
  // Relayed readings of patients another instance owns are dropped on arrival (the live gateway adds its own interest).
  relay.addInterest((patientId) => ownership.mayOwn(patientId));
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
    events, // [sec] ended sessions reach every instance's live streams (relayed)
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
    events, // [sec] credential changes close open device sessions (relayed to other instances)
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
    events,
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
  const messagesRepo = createMessagesRepository(db, cipher);
  const messaging = createMessagingService({ repo: messagesRepo, access, audit, events, clock, cipher });
  const tasks = createTasksService({ repo: createTasksRepository(db), messages: messagesRepo, patients: repos.patients, access, audit, clock, cipher });
  const appointmentsRepo = createAppointmentsRepository(db, cipher);
  const appointments = createAppointmentsService({ repo: appointmentsRepo, patients: repos.patients, access, audit, clock, events });
  const erasure = createErasure({ db, cipher, audit, access, retain: deps.erasureRetain ?? [] });
  // [csv] spreadsheet import (the server's route and the offline CLI share it)
  const csvImport = createCsvImportService({ db, readings: repos.readings, access, audit, clock });
  const csvExport = createCsvExportService({ db, access, audit });
  // [fhir] SMART on FHIR app registrations and grants (the server's OAuth routes and `vigil smart app add`)
  const smart = createSmartService({
    db,
    audit,
    access,
    cipher,
    principalOfUser: (id) => auth.activeUserById(id),
    baseUrl: deps.fhirBase ?? (() => ''),
    clock,
  });
  return {
    db,
    clock,
    events,
    // [sec] failed sign-ins counted in the database, the same on every instance
    throttles: createSignInThrottles({ store: dbThrottleStore(db, deps.secrets.auditKeys.current), clock }),
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
    smart,
    logger: deps.logger,
    timeZone: deps.timeZone ?? 'UTC',
    ownership,
    relay,
  };
}

export type Services = ReturnType<typeof createServices>;
