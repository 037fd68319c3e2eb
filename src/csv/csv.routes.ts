import { policy } from '../api/policy.ts';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Db } from '../platform/db.ts';
import { AppError } from '../platform/errors.ts';
import { requirePrincipal } from '../api/principal.ts';
import { parseBound, readingsCsv } from './export.ts';
import type { CsvImportService } from './import.service.ts';

export const IMPORT_BATCH_MAX = 10_000;

const importBody = z.object({
  rows: z
    .array(
      z.object({
        line: z.number().int().nonnegative(),
        patient: z.string().min(1).max(200),
        code: z.string().min(1).max(64),
        value: z.number().finite(),
        unit: z.string().min(1).max(32),
        ts: z.number().int(),
        device: z.string().min(1).max(200).optional(),
      }),
    )
    .max(IMPORT_BATCH_MAX),
});

/**
 * CSV over HTTP (interfaces.md §4): `GET /api/v1/patients/{id}/readings.csv` (tidy, pandas-ready) and
 * `POST /api/v1/readings/import` (rows already parsed by `vigil import csv`, for a running server).
 */
export function csvRoutes(app: FastifyInstance, deps: { db: Db; access: AccessPolicy; audit: AuditService; importer: CsvImportService }) {
  app.get('/api/v1/patients/:id/readings.csv', { config: { policy: policy.patient('id') } }, async (req, reply) => {
    const principal = requirePrincipal(req);
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, string | undefined>;
    await deps.access.assertPatient(principal, id);
    const from = parseBound('from', q.from);
    const to = parseBound('to', q.to);
    if (from !== undefined && to !== undefined && from > to) throw new AppError('BAD_REQUEST', 'from is after to');
    const codes = q.code ?? q.codes;
    await deps.audit.record({ actor: principal, action: 'readings.export', entityType: 'Patient', entityId: id, patientId: id, details: { format: 'csv', from: q.from, to: q.to, codes } });
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="readings-${id}.csv"`)
      .send(Readable.from(readingsCsv(deps.db, { patientId: id, from, to, codes: codes ? codes.split(',').filter(Boolean) : undefined })));
  });

  app.post('/api/v1/readings/import', { config: { policy: policy.staff('readings of the patients they may manage (the import service checks each row)') } }, async (req) => {
    const principal = requirePrincipal(req);
    deps.access.assertStaff(principal);
    const parsed = importBody.safeParse(req.body);
    if (!parsed.success) throw new AppError('VALIDATION', `import body: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return deps.importer.importBatch(principal, parsed.data.rows);
  });
}
