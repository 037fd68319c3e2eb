import { policy } from '../api/policy.ts';
import { Readable } from 'node:stream';
import type { Api } from '../api/http-server.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Db } from '../platform/db.ts';
import { AppError } from '../platform/errors.ts';
import { requirePrincipal } from '../api/principal.ts';
import { CsvText, IdParams, ReadingsCsvQuery, ReadingsImportBody, ReadingsImportResult } from '../api/contracts/index.ts';
import { parseBound, readingsCsv } from './export.ts';
import type { CsvImportService } from './import.service.ts';

export { IMPORT_BATCH_MAX } from '../api/contracts/index.ts';

/**
 * CSV over HTTP (interfaces.md §4): `GET /api/v1/patients/{id}/readings.csv` (tidy, pandas-ready) and
 * `POST /api/v1/readings/import` (rows already parsed by `vigil import csv`, for a running server).
 */
export function csvRoutes(app: Api, deps: { db: Db; access: AccessPolicy; audit: AuditService; importer: CsvImportService }) {
  app.get('/api/v1/patients/:id/readings.csv', {
    config: { policy: policy.patient('id') },
    schema: { summary: 'Readings as tidy CSV (pandas.read_csv(url, parse_dates=["time"]))', params: IdParams, querystring: ReadingsCsvQuery, response: { 200: CsvText } },
  }, async (req, reply) => {
    const principal = requirePrincipal(req);
    const { id } = req.params;
    const q = req.query;
    await deps.access.assertPatient(principal, id);
    const from = parseBound('from', q.from);
    const to = parseBound('to', q.to);
    if (from !== undefined && to !== undefined && from > to) throw new AppError('BAD_REQUEST', 'from is after to');
    const codes = q.code ?? q.codes;
    await deps.audit.record({ actor: principal, action: 'readings.export', entityType: 'Patient', entityId: id, patientId: id, details: { format: 'csv', from: q.from, to: q.to, codes } });
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="readings-${id}.csv"`)
      .send(Readable.from(readingsCsv(deps.db, { patientId: id, from, to, codes: codes ? codes.split(',').filter(Boolean) : undefined })) as unknown as string);
  });

  app.post('/api/v1/readings/import', {
    config: { policy: policy.staff('readings of the patients they may manage (the import service checks each row)') },
    schema: { summary: 'Store readings parsed by `vigil import csv` (each (patient, code, time) once, ever)', body: ReadingsImportBody, response: { 200: ReadingsImportResult } },
  }, async (req) => deps.importer.importBatch(requirePrincipal(req), req.body.rows));
}
