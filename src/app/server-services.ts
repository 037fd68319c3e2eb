import type { Config } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import { createDerivedService } from '../patients/derived.service.ts';
import { createSeriesService } from '../patients/series.service.ts';
import { createPatientExport } from '../api/export/patient-export.ts';
import { auditEventProvider } from '../audit/audit-event.fhir.ts';
import { createFhirModule } from '../api/fhir/index.ts';
// [commands] device commands (issue 4 part 4)
import { createCommandsRepository } from '../commands/commands.repository.ts';
import { createCommandService } from '../commands/command.service.ts';
import { startExpirySweeper } from '../commands/expiry-sweeper.ts';
// [tele] FHIR Communication, Task, Appointment…; telehealth email; video visits (issue 8)
import { communicationProvider } from '../messaging/communication.fhir.ts';
import { appointmentProviders } from '../appointments/appointment.fhir.ts';
import { startTelehealthEmail } from '../messaging/telehealth-email.ts';
import { taskProvider } from '../messaging/task.fhir.ts';
import { createVisitRooms } from '../visits/visit-rooms.ts';
import { createVisitsService } from '../visits/visits.service.ts';
import { createVisitCluster } from '../visits/visit-cluster.ts';
import { rtcConfigurationFor } from '../visits/visits.config.ts';
// [sec] account emails: password reset links and caregiver invites
import { createAuthMailer } from '../auth/mailer.ts';
import { createPasswordReset } from '../auth/password-reset.ts';
import { createCaregiverInvites } from '../auth/caregiver-invites.ts';
import type { Services } from './services.ts';
import type { Gateway } from './device-gateway.ts';
import { VERSION } from './version.ts';

/**
 * The services that need the running parts: the ECG monitor's AF state, the device gateway (commands), the
 * public URL (visit links, FHIR). Built here, beside createServices, so that route wiring builds nothing.
 */
export function createServerServices(
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
  const derived = createDerivedService({ access: s.access, patients: s.repos.patients, readings: s.repos.readings, clock: s.clock, timeZone: s.timeZone });
  const series = createSeriesService({ access: s.access, readings: s.repos.readings, ecg: s.repos.ecg, clock: s.clock, afSince: d.monitoring.afSince });
  const rooms = createVisitRooms({
    appointments: s.appointmentsRepo,
    messaging: s.messaging,
    audit: s.audit,
    events: s.events,
    clock: s.clock,
    logger: d.logger,
    maxParticipants: config.visits.maxParticipants,
    rejoinMs: config.visits.rejoinS * 1000,
    onChange: (appointment, status) => visitCluster.publish(appointment, status),
  });
  const visitCluster = createVisitCluster({
    db: s.db,
    rooms,
    cipher: s.cipher,
    instanceId: s.ownership.instanceId,
    logger: d.logger,
    rtc: (peerId) => rtcConfigurationFor(config.visits, peerId, s.clock.now()),
    appointments: s.appointmentsRepo,
    audit: s.audit,
    clock: s.clock,
    rejoinMs: config.visits.rejoinS * 1000,
  });
  const visits = createVisitsService({
    appointments: s.appointments,
    repo: s.appointmentsRepo,
    messaging: s.messaging,
    audit: s.audit,
    clock: s.clock,
    config: config.visits,
    baseUrl: d.baseUrl,
    access: s.access,
    waitingRooms: (patientIds) => visitCluster.waiting(patientIds),
  });
  // FHIR R4: other modules register their resource types on fhir.registry before the routes go up.
  const fhir = createFhirModule({
    db: s.db,
    smart: s.smart,
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
      provisionDevice: (principal, input) => s.deviceService.provisionFor(principal, input),
    },
    baseUrl: () => d.baseUrl() + '/fhir/R4',
    publicBase: d.baseUrl,
  });
  // [tele] Communication, Appointment, Encounter, Schedule, Slot
  const telehealthFhir = {
    communication: communicationProvider({ db: s.db, messaging: s.messaging, access: s.access }),
    task: taskProvider({ db: s.db, tasks: s.tasks, access: s.access }),
    ...appointmentProviders({
      db: s.db,
      appointments: s.appointments,
      repo: s.appointmentsRepo,
      access: s.access,
      audit: s.audit,
      versions: fhir.versions,
      now: () => s.clock.now(),
    }),
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
    timeZone: s.timeZone,
  });
  // [sec] account emails over the same SMTP relay
  const mailer = createAuthMailer(d.smtp, d.logger);
  const passwordReset = createPasswordReset({
    db: s.db,
    users: s.repos.users,
    auth: s.auth,
    audit: s.audit,
    clock: s.clock,
    logger: d.logger,
    send: mailer?.send ?? null,
    baseUrl: d.baseUrl,
  });
  return {
    derived,
    series,
    passwordReset,
    caregiverInvites: createCaregiverInvites({
      db: s.db,
      audit: s.audit,
      access: s.access,
      auth: s.auth,
      consents: s.consents,
      clock: s.clock,
      send: mailer?.send ?? null,
      baseUrl: d.baseUrl,
    }),
    mailer,
    rooms,
    visitCluster,
    visits,
    fhir,
    telehealthFhir,
    patientExport,
    commands,
    telehealthEmail,
    async close() {
      mailer?.close();
      await telehealthEmail.close();
      await rooms.close();
      await visitCluster.close();
      await sweeper.stop();
      await commands.close();
      // The bulk-export poller stops here too, not only in the HTTP server's onClose: when start-up fails before
      // HTTP listens (a port in use), that hook never runs and the timer would poll a closed database.
      await fhir.bulk.stop();
    },
  };
}

export type ServerServices = ReturnType<typeof createServerServices>;
