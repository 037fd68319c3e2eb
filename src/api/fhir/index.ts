import type { FastifyInstance } from 'fastify';
import type { AccessPolicy } from '../../auth/access.ts';
import type { AuditService } from '../../audit/audit.service.ts';
import type { Db } from '../../platform/db.ts';
import type { DevicesRepository } from '../../store/devices.repository.ts';
import type { PatientsRepository } from '../../store/patients.repository.ts';
import { createFhirService } from './fhir.service.ts';
import { fhirRoutes } from './fhir.routes.ts';
import { createFhirRegistry } from './registry.ts';
import { deviceProvider, devicesByIds } from './resources/device.ts';
import { observationProvider } from './resources/observation.ts';
import { createObservationStore } from './resources/observation.store.ts';
import { patientProvider, patientsByIds } from './resources/patient.ts';
import { practitionerProvider } from './resources/practitioner.ts';

export type { ResourceProvider, FhirContext, SearchResult } from './registry.ts';

/**
 * The FHIR R4 module: the registry with Vigil's core types, the service and its routes. Other modules add
 * their types with `fhir.registry.register(provider)` before `routes` is called (see registry.ts).
 */
export function createFhirModule(deps: { db: Db; access: AccessPolicy; audit: AuditService; patients: PatientsRepository; devices: DevicesRepository; version: string }) {
  const registry = createFhirRegistry();
  registry.register(patientProvider(deps));
  registry.register(practitionerProvider(deps));
  registry.register(deviceProvider(deps));
  registry.register(
    observationProvider({
      access: deps.access,
      audit: deps.audit,
      store: createObservationStore(deps.db),
      include: { patients: (ids) => patientsByIds(deps.db, ids), devices: (ids) => devicesByIds(deps.db, ids) },
    }),
  );
  const service = createFhirService({ registry, version: deps.version });
  return {
    registry,
    service,
    routes(app: FastifyInstance, baseUrl: () => string) {
      fhirRoutes(app, { fhir: service, baseUrl });
    },
  };
}

export type FhirModule = ReturnType<typeof createFhirModule>;
