import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { badRequest, notFound } from '../../platform/errors.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { FhirContext, FhirRegistry } from './registry.ts';
import { parseSearch } from './search/params.ts';

/**
 * Bulk Data Access IG (v2) `$export`, system and Patient level: asynchronous (kick-off answers 202 with a
 * status URL), NDJSON files per type under the data directory (owner-only), for the user who asked only.
 * Each file is written by paging the type's ordinary search, so scope and access are exactly the API's.
 */

const TYPES = ['Patient', 'Practitioner', 'Device', 'Observation'];
const JOB_TTL_MS = 24 * 3600_000;

interface Job {
  id: string;
  userId: string;
  request: string;
  transactionTime: string;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  progress: string;
  output: Array<{ type: string; url: string; count: number }>;
  error?: string;
  created: number;
}

export function createBulkExport(deps: { registry: FhirRegistry; access: AccessPolicy; dataDir: string }) {
  const jobs = new Map<string, Job>();
  const dir = (id: string) => path.join(deps.dataDir, 'exports', id);

  async function run(job: Job, ctx: FhirContext, types: string[], since: string | undefined, level: 'system' | 'patient') {
    await mkdir(dir(job.id), { recursive: true, mode: 0o700 });
    for (const type of types) {
      if (job.status === 'cancelled') return;
      job.progress = `exporting ${type}`;
      const p = deps.registry.get(type)!;
      const file = path.join(dir(job.id), `${type}.ndjson`);
      const out = createWriteStream(file, { mode: 0o600 });
      let count = 0;
      let cursor: string | undefined;
      do {
        const query: Record<string, string> = { _count: '1000', _total: 'none', ...(cursor ? { _cursor: cursor } : {}), ...(since ? { _lastUpdated: `gt${since}` } : {}) };
        // Patient-level: resources in the patient compartment only (practitioners are not).
        const result = await p.searchType(ctx, parseSearch(type, query, p.search, true));
        for (const r of result.resources) {
          if (!out.write(JSON.stringify(r) + '\n')) await once(out, 'drain');
          count++;
        }
        cursor = result.next;
      } while (cursor && (job.status as Job['status']) !== 'cancelled');
      out.end();
      await once(out, 'finish');
      if (count > 0) job.output.push({ type, url: `${ctx.baseUrl}/$export-file/${job.id}/${type}.ndjson`, count });
      else await rm(file, { force: true });
      void level;
    }
    job.status = 'done';
    job.progress = 'done';
  }

  return {
    /** Kick-off (Bulk Data IG §kick-off): `Prefer: respond-async` required; returns the status URL. */
    kickOff(ctx: FhirContext, level: 'system' | 'patient', query: Record<string, string | string[] | undefined>, prefer: string | undefined, requestUrl: string): string {
      if (!/respond-async/.test(prefer ?? '')) throw badRequest('$export is asynchronous: send the header Prefer: respond-async');
      if (level === 'system') deps.access.assertSystemExport(ctx.principal);
      const str = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : v);
      for (const k of Object.keys(query)) if (!['_type', '_since', '_outputFormat'].includes(k)) throw badRequest(`$export parameter "${k}" is not supported (supported: _type, _since, _outputFormat)`);
      const format = str(query._outputFormat);
      if (format && !['application/fhir+ndjson', 'application/ndjson', 'ndjson'].includes(format)) throw badRequest(`_outputFormat ${format} is not supported (application/fhir+ndjson)`);
      const allowed = level === 'patient' ? TYPES.filter((t) => t !== 'Practitioner') : TYPES;
      const types = str(query._type)?.split(',').map((t) => t.trim()) ?? allowed;
      for (const t of types) if (!allowed.includes(t)) throw badRequest(`_type ${t} is not exported here (types: ${allowed.join(', ')})`);
      const since = str(query._since);
      if (since && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(since)) throw badRequest('_since must be an instant, e.g. 2026-11-24T10:00:00Z');
      for (const [id, j] of jobs) if (Date.now() - j.created > JOB_TTL_MS) void this.remove(ctx, id, true);
      const job: Job = { id: randomBytes(12).toString('base64url'), userId: ctx.principal.userId, request: requestUrl, transactionTime: new Date().toISOString(), status: 'running', progress: 'queued', output: [], created: Date.now() };
      jobs.set(job.id, job);
      run(job, ctx, types, since, level).catch((err) => {
        job.status = 'failed';
        job.error = (err as Error).message;
      });
      return `${ctx.baseUrl}/$export-status/${job.id}`;
    },

    /** Status (Bulk Data IG §status): 202 + X-Progress while running, 200 + manifest when complete. */
    status(ctx: FhirContext, id: string): { status: 202; progress: string } | { status: 200; manifest: unknown } | { status: 500; error: string } {
      const job = jobs.get(id);
      if (!job || job.userId !== ctx.principal.userId || job.status === 'cancelled') throw notFound(`export ${id}`);
      if (job.status === 'running') return { status: 202, progress: job.progress };
      if (job.status === 'failed') return { status: 500, error: job.error ?? 'export failed' };
      return { status: 200, manifest: { transactionTime: job.transactionTime, request: job.request, requiresAccessToken: true, output: job.output, error: [] } };
    },

    file(ctx: FhirContext, id: string, name: string): string {
      const job = jobs.get(id);
      if (!job || job.userId !== ctx.principal.userId || job.status !== 'done' || !/^[A-Z][A-Za-z]+\.ndjson$/.test(name) || !job.output.some((o) => `${o.type}.ndjson` === name)) throw notFound(`export file ${name}`);
      return path.join(dir(id), name);
    },

    async remove(ctx: FhirContext, id: string, expired = false) {
      const job = jobs.get(id);
      if (!job || (!expired && job.userId !== ctx.principal.userId)) throw notFound(`export ${id}`);
      job.status = 'cancelled';
      jobs.delete(id);
      await rm(dir(id), { recursive: true, force: true });
    },
  };
}

export type BulkExport = ReturnType<typeof createBulkExport>;
