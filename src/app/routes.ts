import type { Config } from '../config/config.ts';
import type { Api } from '../api/http-server.ts';
import { policy } from '../api/policy.ts';
import { Health } from '../api/contracts/index.ts';
import { createOriginCheck } from '../auth/origin.ts';
import { authRoutes } from '../api/routes/auth.routes.ts';
import { caregiverInviteRoutes } from '../api/routes/caregiver-invites.routes.ts';
import { patientRoutes } from '../api/routes/patients.routes.ts';
import { deviceRoutes } from '../api/routes/devices.routes.ts';
import { userRoutes } from '../api/routes/users.routes.ts';
import { auditRoutes } from '../api/routes/audit.routes.ts';
import { consentRoutes } from '../api/routes/consent.routes.ts';
import { exportRoutes } from '../api/routes/export.routes.ts';
import { csvRoutes } from '../csv/csv.routes.ts';
import { commandRoutes } from '../api/routes/commands.routes.ts';
import { alertRoutes } from '../api/routes/alerts.routes.ts';
import { messageRoutes } from '../api/routes/messages.routes.ts';
import { taskRoutes } from '../api/routes/tasks.routes.ts';
import { appointmentRoutes } from '../api/routes/appointments.routes.ts';
import { visitRoutes } from '../api/routes/visits.routes.ts';
import type { Services } from './services.ts';
import type { ServerServices } from './server-services.ts';
import type { Gateway } from './device-gateway.ts';

/** Every HTTP route module, each given only the services it uses. Builds nothing: app.ts built them (services.ts, server-services.ts). */
export function registerRoutes(
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
  const secureCookies = !!config.tls || (config.publicUrl ?? '').startsWith('https:');
  authRoutes(http, { auth: s.auth, passwordReset: server.passwordReset, secureCookies, demoLogins: d.demoLogins, throttles: s.throttles });
  caregiverInviteRoutes(http, { invites: server.caregiverInvites, throttle: s.throttles.invite }); // [sec]
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
    audit: s.audit,
    origins: createOriginCheck({ publicUrl: config.publicUrl, allowedOrigins: config.security.allowedOrigins }),
    events: s.events,
    recheckMs: config.visits.recheckS * 1000,
  });
  server.fhir.routes(http, { auth: s.auth, secureCookies, throttle: s.throttles.signIn });
  csvRoutes(http, { exporter: s.csvExport, importer: s.csvImport });
  commandRoutes(http, { commands: server.commands });
  alertRoutes(http, { alerts: s.alerts.service, rules: s.alerts.rules, preferences: s.alerts.preferences, pushPublicKey: s.alerts.pushPublicKey });
}

export interface DemoLogin {
  email: string;
  password: string;
  role: string;
}
