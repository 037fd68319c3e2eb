import { policy } from '../api/policy.ts';
import { Readable } from 'node:stream';
import type { Api } from '../api/http-server.ts';
import { requirePrincipal } from '../api/principal.ts';
import { CsvText, IdParams, ReadingsCsvQuery, ReadingsImportBody, ReadingsImportResult } from '../api/contracts/index.ts';
import type { CsvExportService } from './export.ts';
import type { CsvImportService } from './import.service.ts';

export { IMPORT_BATCH_MAX } from '../api/contracts/index.ts';

/**
 * CSV over HTTP (interfaces.md §4): `GET /api/v1/patients/{id}/readings.csv` (tidy, pandas-ready) and
 * `POST /api/v1/readings/import` (rows already parsed by `vigil import csv`, for a running server).
 */
export function csvRoutes(app: Api, deps: { exporter: CsvExportService; importer: CsvImportService }) {
  app.get(
    '/api/v1/patients/:id/readings.csv',
    {
      config: { policy: policy.patient('id') },
      schema: {
        summary: 'Readings as tidy CSV (pandas.read_csv(url, parse_dates=["time"]))',
        params: IdParams,
        querystring: ReadingsCsvQuery,
        response: { 200: CsvText },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const csv = await deps.exporter.readingsFor(requirePrincipal(req), id, {
        from: req.query.from,
        to: req.query.to,
        codes: req.query.code ?? req.query.codes,
      });
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="readings-${id}.csv"`)
        .send(Readable.from(csv) as unknown as string);
    },
  );

  app.post(
    '/api/v1/readings/import',
    {
      config: { policy: policy.staff('readings of the patients they may manage (the import service checks each row)') },
      schema: {
        summary: 'Store readings parsed by `vigil import csv` (a reading already stored, same patient, code and time, is skipped)',
        body: ReadingsImportBody,
        response: { 200: ReadingsImportResult },
      },
    },
    async (req) => deps.importer.importBatch(requirePrincipal(req), req.body.rows),
  );
}
