import type { LoginThrottle } from '../../auth/login-throttle.ts';
import type { FastifyInstance } from 'fastify';
import type { AccessPolicy } from '../../auth/access.ts';
import { auditedTransactions, type AuditService } from '../../audit/audit.service.ts';
import type { Db, Queryable } from '../../platform/db.ts';
import type { DevicesRepository } from '../../store/devices.repository.ts';
import type { PatientsRepository } from '../../store/patients.repository.ts';
import { createFhirService } from './fhir.service.ts';
import { createBulkExport } from './bulk-export.ts';
import { fhirRoutes } from './fhir.routes.ts';
import { createFhirRegistry } from './registry.ts';
import { deviceProvider, devicesByIds, type ProvisionDevice } from './resources/device.ts';
import { observationProvider } from './resources/observation.ts';
import { createObservationStore } from './resources/observation.store.ts';
import { patientProvider, patientsByIds } from './resources/patient.ts';
import { practitionerProvider } from './resources/practitioner.ts';
import type { SmartService } from './smart/smart.service.ts';
import { smartRoutes } from './smart/smart.routes.ts';
import type { AuthService } from '../../auth/auth.service.ts';
import type { StoredReading } from '../../domain/types.ts';
import type { PatientCipher } from '../../platform/encryption/index.ts';
import type { PatientService } from '../../patients/patient.service.ts';
import type { NewReading } from '../../store/readings.repository.ts';
import { createVersionStore } from './versions.ts';
import type { Logger } from '../../platform/logger.ts';
import { systemClock, type Clock } from '../../platform/clock.ts';
import { careTeamGroupMembers, groupProvider } from './resources/group.ts';

export type { ResourceProvider, FhirContext, SearchResult } from './registry.ts';

/**
 * The FHIR R4 module: the registry with Vigil's core types, the service and its routes. Other modules add
 * their types with `fhir.registry.register(provider)` before `routes` is called (see registry.ts).
 */
export function createFhirModule(deps: {
  db: Db;
  /** SMART on FHIR (built by the composition root with the core services: the offline CLI registers apps too). */
  smart: SmartService;
  access: AccessPolicy;
  audit: AuditService;
  patients: PatientsRepository;
  devices: DevicesRepository;
  version: string;
  dataDir?: string;
  logger?: Logger;
  clock?: Clock;
  /** Seals stored versions with the patient's data key (versions.ts). */
  cipher: PatientCipher;
  /** FHIR writes: Patient create goes through the patient service, Observation create through ingest. */
  writes?: {
    patientService: PatientService;
    storeReadings(rows: NewReading[]): Promise<StoredReading[]>;
    /** Readings inside a transaction Bundle's database transaction (ingest.storeIn). */
    storeReadingsIn(tx: Queryable, rows: NewReading[]): Promise<{ readings: StoredReading[]; committed(): void }>;
    /** Device create: the devices API's provisioning (device.service provisionFor). */
    provisionDevice?: ProvisionDevice;
  };
  /** The FHIR base URL and the server's public URL (known once HTTP listens). */
  baseUrl: () => string;
  publicBase: () => string;
}) {
  const registry = createFhirRegistry();
  const versions = createVersionStore({ db: deps.db, cipher: deps.cipher });
  registry.register(patientProvider({ ...deps, versions, patientService: deps.writes?.patientService }));
  registry.register(practitionerProvider({ ...deps, versions }));
  registry.register(deviceProvider({ ...deps, versions, provision: deps.writes?.provisionDevice }));
  registry.register(groupProvider(deps));
  registry.register(
    observationProvider({
      access: deps.access,
      audit: deps.audit,
      store: createObservationStore(deps.db),
      include: { patients: (ids) => patientsByIds(deps.db, ids), devices: (ids) => devicesByIds(deps.db, ids) },
      write: deps.writes
        ? { storeReadings: deps.writes.storeReadings, storeIn: deps.writes.storeReadingsIn, devices: deps.devices, versions, clock: deps.clock ?? systemClock }
        : undefined,
    }),
  );
  const service = createFhirService({
    registry,
    db: auditedTransactions(deps.db, deps.audit), // [audit] a Bundle's audit entries are written at its end, before COMMIT
    version: deps.version,
    access: deps.access,
    patients: deps.patients,
    versions,
    clock: deps.clock,
    disclosed: (e) => deps.audit.recordSoon(e),
    // SMART App Launch 2.x §conformance: where to authorize (also in /.well-known/smart-configuration).
    security: () => ({
      cors: true,
      service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
      extension: [
        {
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [
            { url: 'authorize', valueUri: `${deps.publicBase()}/oauth/authorize` },
            { url: 'token', valueUri: `${deps.publicBase()}/oauth/token` },
          ],
        },
      ],
      description:
        'SMART App Launch 2.x (authorization code + PKCE) at /oauth/authorize and /oauth/token; or Authorization: Bearer <token> (vigil token create) or a signed-in session',
    }),
  });
  // Bulk export jobs (durable, claimed across instances): a service, built here with the module.
  const bulk = createBulkExport({
    db: deps.db,
    registry,
    access: deps.access,
    logger: deps.logger,
    clock: deps.clock,
    groupMembers: (ctx, id) => careTeamGroupMembers(deps, ctx.principal, id),
    disclosed: (e) => deps.audit.recordSoon(e),
  });
  const smart = deps.smart;
  return {
    registry,
    service,
    /** The stored versions (versions.ts), for other modules' versioned types (Appointment). */
    versions,
    bulk,
    smart,
    /** Registers the FHIR and SMART routes (other modules' resource types must be registered first). */
    routes(app: FastifyInstance, web: { auth: AuthService; secureCookies: boolean; throttle: LoginThrottle }) {
      fhirRoutes(app, { fhir: service, baseUrl: deps.baseUrl, bulk });
      smartRoutes(app, {
        smart,
        auth: web.auth,
        access: deps.access,
        patients: deps.patients,
        fhirBase: deps.baseUrl,
        publicBase: deps.publicBase,
        secureCookies: web.secureCookies,
        throttle: web.throttle,
      });
    },
  };
}

export type FhirModule = ReturnType<typeof createFhirModule>;
