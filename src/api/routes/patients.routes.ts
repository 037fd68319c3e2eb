import type { PatientService } from '../../patients/patient.service.ts';
import type { DerivedService } from '../../patients/derived.service.ts';
import type { SeriesService } from '../../patients/series.service.ts';
import type { Api } from '../http-server.ts';
import { requirePrincipal } from '../principal.ts';
import { policy } from '../policy.ts';
import {
  Created,
  CreatePatientBody,
  Derived,
  EcgQuery,
  EcgStrip,
  IdParams,
  PanelPatient,
  PatientDetail,
  PatientSettings,
  ReadingSeries,
  ReadingsQuery,
  SettingsPatch,
} from '../contracts/index.ts';

/** Patients: the panel, one patient's page, clinical settings, chart series, the ECG strip, analysis results. */
export function patientRoutes(app: Api, deps: { patients: PatientService; derived: DerivedService; series: SeriesService }) {
  app.get(
    '/api/v1/patients',
    {
      config: { policy: policy.signedIn('the patients they may see (auth/access.ts)') },
      schema: { summary: 'The panel: every visible patient with latest vitals, NEWS2 and status', response: { 200: PanelPatient.array() } },
    },
    async (req) => deps.patients.panel(requirePrincipal(req)),
  );

  app.post(
    '/api/v1/patients',
    {
      config: { policy: policy.staff("a clinician's new patient joins their care team") },
      schema: { summary: 'Register a patient', body: CreatePatientBody, response: { 201: Created } },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      const created = await deps.patients.createFor(p, req.body);
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/api/v1/patients/:id',
    {
      config: { policy: policy.patient('id') },
      schema: { summary: 'One patient: panel entry, settings, care team', params: IdParams, response: { 200: PatientDetail } },
    },
    async (req) => deps.patients.detail(requirePrincipal(req), req.params.id),
  );

  app.patch(
    '/api/v1/patients/:id/settings',
    {
      config: { policy: policy.managePatient('id') },
      schema: {
        summary: 'Change clinical settings (NEWS2 SpO2 scale, oxygen, consciousness)',
        params: IdParams,
        body: SettingsPatch,
        response: { 200: PatientSettings },
      },
    },
    async (req) => deps.patients.updateSettings(requirePrincipal(req), req.params.id, req.body),
  );

  app.get(
    '/api/v1/patients/:id/readings',
    {
      config: { policy: policy.patient('id') },
      schema: { summary: "One code's readings over a range, downsampled", params: IdParams, querystring: ReadingsQuery, response: { 200: ReadingSeries } },
    },
    async (req) => deps.series.readings(requirePrincipal(req), req.params.id, req.query),
  );

  app.get(
    '/api/v1/patients/:id/derived',
    {
      config: { policy: policy.patient('id') },
      schema: { summary: 'Analysis results: NEWS2, BP category, CGM metrics with AGP, ECG findings', params: IdParams, response: { 200: Derived } },
    },
    async (req) => deps.derived.forPatient(requirePrincipal(req), req.params.id),
  );

  app.get(
    '/api/v1/patients/:id/ecg',
    {
      config: { policy: policy.patient('id') },
      schema: { summary: 'The latest ECG strip with beat marks and AF episodes', params: IdParams, querystring: EcgQuery, response: { 200: EcgStrip } },
    },
    async (req) => deps.series.ecgStrip(requirePrincipal(req), req.params.id, req.query.seconds),
  );
}
