import { realDay } from './search/date.ts';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../platform/db.ts';
import type { Principal } from '../../domain/types.ts';
import type { Logger } from '../../platform/logger.ts';
import { systemClock, type Clock } from '../../platform/clock.ts';
import { badRequest, notFound } from '../../platform/errors.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { FhirContext, FhirRegistry } from './registry.ts';
import { parseSearch } from './search/params.ts';
import { toFhirId } from './ids.ts';
import { patientsOf } from './patients-of.ts';

/**
 * Bulk Data Access IG (v2) `$export` at system, Patient and Group level: asynchronous (kick-off answers 202
 * with a status URL), NDJSON per type, for the user who asked only. Each file is written by paging the
 * type's ordinary search with the requester's principal, so scope and access are exactly the API's.
 *
 * Jobs and their files live in the database (fhir_export_jobs, fhir_export_parts), so a job survives a
 * restart and any instance on the same PostgreSQL answers its status and serves its files. An instance
 * claims a queued job (`FOR UPDATE SKIP LOCKED`), beats a heartbeat after every page, and a job whose
 * instance died (stale heartbeat) is taken over and rerun from the start by another (at most 3 attempts).
 */

const TYPES = ['Patient', 'Practitioner', 'Device', 'Observation'];
const JOB_TTL_MS = 24 * 3600_000;
const PART_BYTES = 1 << 20;
const MAX_ATTEMPTS = 3;
const GROUP_CHUNK = 100;

type Level = 'system' | 'patient' | 'group';

interface JobRow {
  id: string;
  user_id: string;
  principal: Principal;
  level: Level;
  group_id: string | null;
  types: string[];
  since: string | null;
  base_url: string;
  request: string;
  transaction_time: Date | string;
  status: 'queued' | 'running' | 'done' | 'failed';
  progress: string;
  output: Array<{ type: string; url: string; count: number }>;
  /** type → patient id → resources of that patient in the file (audited on download). */
  disclosed: Record<string, Record<string, number>>;
  error: string | null;
}

class Cancelled extends Error {}

export function createBulkExport(deps: {
  db: Db;
  registry: FhirRegistry;
  access: AccessPolicy;
  logger?: Logger;
  /** Group level: the member patients (internal ids) the principal may see, or null when no such group. */
  groupMembers?: (ctx: FhirContext, groupId: string) => Promise<string[] | null>;
  /** Records a patient whose data a downloaded file carried (audit.recordSoon), one entry per patient. */
  disclosed?: (entry: { actor: Principal; action: string; entityType: string; patientId: string; details: Record<string, unknown> }) => void;
  /** A job whose heartbeat is older than this is taken over (its instance died). */
  staleMs?: number;
  pollMs?: number;
  clock?: Clock;
}) {
  const clock = deps.clock ?? systemClock;
  const db = deps.db;
  const instance = randomBytes(8).toString('hex');
  const staleMs = deps.staleMs ?? 30_000;
  let active: Promise<void> | null = null;
  let stopping = false;

  /** Records progress; false when the job was cancelled or taken over (then this instance stops working on it). */
  async function beat(id: string, progress: string): Promise<boolean> {
    if (stopping) return false;
    const rows = await db.query(
      `UPDATE fhir_export_jobs SET heartbeat_at = now(), progress = $2 WHERE id = $1 AND owner = $3 AND status = 'running' RETURNING id`,
      [id, progress, instance],
    );
    return rows.length === 1;
  }

  async function run(job: JobRow) {
    const ctx: FhirContext = { principal: job.principal, baseUrl: job.base_url };
    await db.query('DELETE FROM fhir_export_parts WHERE job_id = $1', [job.id]); // a takeover starts again
    const members = job.level === 'group' ? await deps.groupMembers?.(ctx, job.group_id!) : null;
    if (job.level === 'group' && !members) throw new Error(`Group/${job.group_id} is no longer visible`);
    const output: JobRow['output'] = [];
    const disclosed: JobRow['disclosed'] = {};
    for (const type of job.types) {
      if (!(await beat(job.id, `exporting ${type}`))) throw new Cancelled();
      const p = deps.registry.get(type)!;
      let part = 0;
      let count = 0;
      let buf: string[] = [];
      let size = 0;
      const patients: Record<string, number> = (disclosed[type] = {});
      const flush = async () => {
        if (!buf.length) return;
        await db.query('INSERT INTO fhir_export_parts (job_id, type, part, body) VALUES ($1, $2, $3, $4)', [
          job.id,
          type,
          part++,
          Buffer.from(buf.join(''), 'utf8'),
        ]);
        buf = [];
        size = 0;
        if (!(await beat(job.id, `exporting ${type} (${count})`))) throw new Cancelled();
      };
      // Group level: the members, a hundred at a time (Patient by _id, the others by patient).
      const slices: Array<string[] | null> = members
        ? Array.from({ length: Math.ceil(members.length / GROUP_CHUNK) }, (_, i) => members.slice(i * GROUP_CHUNK, (i + 1) * GROUP_CHUNK))
        : [null];
      for (const slice of slices) {
        let cursor: string | undefined;
        do {
          // Nothing changed after transactionTime (Bulk Data IG, export: such resources SHOULD NOT be included; an
          // incremental `_since=transactionTime` sends them).
          const until = `le${new Date(job.transaction_time).toISOString()}`;
          const query: Record<string, string | string[]> = {
            _count: '1000',
            _total: 'none',
            ...(cursor ? { _cursor: cursor } : {}),
            _lastUpdated: job.since ? [`gt${job.since}`, until] : until,
          };
          if (slice) query[type === 'Patient' ? '_id' : 'patient'] = slice.map(toFhirId).join(',');
          const result = await p.searchType(ctx, parseSearch(type, query, p.search, true));
          for (const r of result.resources) {
            const line = JSON.stringify(r) + '\n';
            buf.push(line);
            size += line.length;
            count++;
            for (const patientId of patientsOf(r)) patients[patientId] = (patients[patientId] ?? 0) + 1;
          }
          if (size >= PART_BYTES) await flush();
          else if (!(await beat(job.id, `exporting ${type} (${count})`))) throw new Cancelled();
          cursor = result.next;
        } while (cursor);
      }
      await flush();
      if (count > 0) output.push({ type, url: `${job.base_url}/$export-file/${job.id}/${type}.ndjson`, count });
    }
    await db.query(`UPDATE fhir_export_jobs SET status = 'done', progress = 'done', output = $2, disclosed = $4 WHERE id = $1 AND owner = $3`, [
      job.id,
      JSON.stringify(output),
      instance,
      JSON.stringify(disclosed),
    ]);
  }

  /** Claims the oldest claimable job (queued, or running with a dead owner) and runs it; one at a time here. */
  async function claimAndRun(): Promise<void> {
    if (active || stopping) return;
    await db.query(
      `UPDATE fhir_export_jobs SET status = 'failed', error = 'the export was interrupted ${MAX_ATTEMPTS} times', progress = 'failed'
       WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1) AND attempts >= ${MAX_ATTEMPTS}`,
      [staleMs / 1000],
    );
    const rows = await db.query<JobRow>(
      `UPDATE fhir_export_jobs SET status = 'running', owner = $1, heartbeat_at = now(), attempts = attempts + 1, progress = 'starting'
       WHERE id = (SELECT id FROM fhir_export_jobs
                   WHERE status = 'queued' OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => $2))
                   ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [instance, staleMs / 1000],
    );
    const job = rows[0];
    if (!job) return;
    active = run(job)
      .catch(async (err) => {
        if (err instanceof Cancelled) return;
        deps.logger?.error({ err, job: job.id }, 'bulk export failed');
        await db
          .query(`UPDATE fhir_export_jobs SET status = 'failed', progress = 'failed', error = $2 WHERE id = $1 AND owner = $3`, [
            job.id,
            (err as Error).message,
            instance,
          ])
          .catch(() => undefined);
      })
      .finally(() => {
        active = null;
        if (!stopping) void tick();
      });
    await active;
  }

  const tick = () => claimAndRun().catch((err) => deps.logger?.warn({ err }, 'bulk export: claiming a job failed'));
  const timer = setInterval(() => void tick(), deps.pollMs ?? 5_000);
  timer.unref();

  async function jobOf(ctx: FhirContext, id: string): Promise<JobRow> {
    const rows = await db.query<JobRow>('SELECT * FROM fhir_export_jobs WHERE id = $1 AND user_id = $2', [id, ctx.principal.userId]);
    if (!rows[0]) throw notFound(`export ${id}`);
    return rows[0];
  }

  return {
    /** Kick-off (Bulk Data IG §kick-off): `Prefer: respond-async` required; returns the status URL. */
    async kickOff(
      ctx: FhirContext,
      level: Level,
      query: Record<string, string | string[] | undefined>,
      prefer: string | undefined,
      requestUrl: string,
      groupId?: string,
    ): Promise<string> {
      if (!/respond-async/.test(prefer ?? '')) throw badRequest('$export is asynchronous: send the header Prefer: respond-async');
      if (level === 'system') deps.access.assertSystemExport(ctx.principal);
      if (level === 'group' && !(await deps.groupMembers?.(ctx, groupId!))) throw notFound(`Group/${groupId}`);
      const str = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : v);
      for (const k of Object.keys(query))
        if (!['_type', '_since', '_outputFormat'].includes(k))
          throw badRequest(`$export parameter "${k}" is not supported (supported: _type, _since, _outputFormat)`);
      const format = str(query._outputFormat);
      if (format && !['application/fhir+ndjson', 'application/ndjson', 'ndjson'].includes(format))
        throw badRequest(`_outputFormat ${format} is not supported (application/fhir+ndjson)`);
      // Patient and Group level: the patient compartment (practitioners are not in it).
      const allowed = level === 'system' ? TYPES : TYPES.filter((t) => t !== 'Practitioner');
      const types =
        str(query._type)
          ?.split(',')
          .map((t) => t.trim()) ?? allowed;
      for (const t of types) if (!allowed.includes(t)) throw badRequest(`_type ${t} is not exported here (types: ${allowed.join(', ')})`);
      const since = str(query._since);
      if (
        since &&
        (!/^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(since) ||
          !realDay(+since.slice(0, 4), +since.slice(5, 7), +since.slice(8, 10)))
      )
        throw badRequest('_since must be an instant, e.g. 2026-11-24T10:00:00Z');
      await db.query(`DELETE FROM fhir_export_jobs WHERE created_at < $1`, [new Date(clock.now() - JOB_TTL_MS).toISOString()]);
      const id = randomBytes(12).toString('base64url');
      await db.query(
        `INSERT INTO fhir_export_jobs (id, user_id, principal, level, group_id, types, since, base_url, request, transaction_time, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), 'queued')`,
        [id, ctx.principal.userId, JSON.stringify(ctx.principal), level, groupId ?? null, types, since ?? null, ctx.baseUrl, requestUrl],
      );
      void tick();
      return `${ctx.baseUrl}/$export-status/${id}`;
    },

    /** Status (Bulk Data IG §status): 202 + X-Progress while running, 200 + manifest when complete. */
    async status(
      ctx: FhirContext,
      id: string,
    ): Promise<{ status: 202; progress: string } | { status: 200; manifest: unknown } | { status: 500; error: string }> {
      const job = await jobOf(ctx, id);
      if (job.status === 'queued' || job.status === 'running') return { status: 202, progress: job.progress };
      if (job.status === 'failed') return { status: 500, error: job.error ?? 'export failed' };
      return {
        status: 200,
        manifest: {
          transactionTime: new Date(job.transaction_time).toISOString(),
          request: job.request,
          requiresAccessToken: true,
          output: job.output,
          error: [],
        },
      };
    },

    /** The parts of one NDJSON file, in order (streamed: one part in memory at a time). */
    async file(ctx: FhirContext, id: string, name: string): Promise<AsyncIterable<Buffer>> {
      const job = await jobOf(ctx, id);
      const type = name.replace(/\.ndjson$/, '');
      if (job.status !== 'done' || !job.output.some((o) => o.type === type)) throw notFound(`export file ${name}`);
      // The download is the disclosure: one audit entry per patient the file carries (the route's own entry
      // names no patient; found by review). Recorded before the first byte is sent.
      for (const [patientId, count] of Object.entries(job.disclosed?.[type] ?? {}))
        deps.disclosed?.({ actor: ctx.principal, action: 'fhir.export', entityType: type, patientId, details: { count, export: id } });
      const parts = await db.query<{ part: number }>('SELECT part FROM fhir_export_parts WHERE job_id = $1 AND type = $2 ORDER BY part', [id, type]);
      return (async function* () {
        for (const { part } of parts) {
          const rows = await db.query<{ body: Uint8Array }>('SELECT body FROM fhir_export_parts WHERE job_id = $1 AND type = $2 AND part = $3', [
            id,
            type,
            part,
          ]);
          if (rows[0]) yield Buffer.from(rows[0].body);
        }
      })();
    },

    /** DELETE on the status URL: the job and its files go; an instance running it stops at its next page. */
    async remove(ctx: FhirContext, id: string) {
      await jobOf(ctx, id);
      await db.query('DELETE FROM fhir_export_jobs WHERE id = $1', [id]);
    },

    /** Looks for claimable jobs now (tests; the timer does it every few seconds). */
    poll: tick,

    /** Stops claiming; a job running here is handed back (queued) for another instance or the next start. */
    async stop() {
      stopping = true;
      clearInterval(timer);
      await active?.catch(() => undefined);
      await db
        .query(`UPDATE fhir_export_jobs SET status = 'queued', owner = NULL, progress = 'queued (instance stopped)' WHERE owner = $1 AND status = 'running'`, [
          instance,
        ])
        .catch(() => undefined);
    },
  };
}

export type BulkExport = ReturnType<typeof createBulkExport>;
