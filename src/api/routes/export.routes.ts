import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { PatientExport } from '../export/patient-export.ts';
import { requirePrincipal } from '../principal.ts';
import { ExportHtml, FhirResource, IdParams } from '../contracts/index.ts';

/** The patient's own copy (GDPR art. 15/20, HIPAA §164.524): FHIR Bundle and a printable summary. */
export function exportRoutes(app: Api, deps: { exporter: PatientExport; fhirBase: () => string }) {
  const who = policy.patient('id');
  app.get(
    '/api/v1/patients/:id/export.json',
    {
      config: { policy: who },
      schema: {
        summary: 'Download everything about the patient as a FHIR R4 Bundle (the patient themself and admins; audited)',
        params: IdParams,
        response: { 200: FhirResource },
      },
    },
    async (req, reply) => {
      const bundle = await deps.exporter.bundle(requirePrincipal(req), req.params.id, deps.fhirBase());
      return reply.header('content-disposition', `attachment; filename="vigil-record-${req.params.id}.json"`).type('application/fhir+json').send(bundle);
    },
  );
  app.get(
    '/api/v1/patients/:id/export.html',
    {
      config: { policy: who },
      schema: {
        summary: 'A readable, printable summary of the same data (print to PDF; the patient themself and admins; audited)',
        params: IdParams,
        response: { 200: ExportHtml },
      },
    },
    async (req, reply) => reply.type('text/html; charset=utf-8').send(await deps.exporter.html(requirePrincipal(req), req.params.id, deps.fhirBase())),
  );
}
