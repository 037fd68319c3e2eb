import { mkdir } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError } from './errors.ts';
import { lockEmbeddedDatabase } from './data-dir-lock.ts';

/**
 * One SQL dialect (PostgreSQL), two engines: embedded PGlite (WASM, persisted under the data dir) and a
 * real server through node-postgres. Repositories see only this interface.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** `COPY … FROM '/dev/blob'` with CSV text, where the engine supports it (PGlite); the fastest bulk path. */
  copyCsv?(sql: string, csv: string | Uint8Array): Promise<void>;
  /**
   * `COPY … FROM STDIN` with the given data, inside a PostgreSQL transaction (pg-copy-streams): the server's
   * fastest way in, several times cheaper per row than a parameterised INSERT.
   */
  copyIn?(sql: string, data: string | Uint8Array): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs fn in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * `query` for a statement the app runs very often with different values (the FHIR Observation search): on
   * PostgreSQL a named prepared statement with a generic plan, so it is parsed and planned once per
   * connection instead of on every call (see openPostgres); on PGlite the same, in its one session
   * (pglite-worker.ts). With `preparedStatements: false` (PostgreSQL behind some poolers) the same as `query`.
   * Outside a transaction only.
   */
  queryPrepared<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Several statements separated by semicolons, no parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * PostgreSQL LISTEN on a dedicated connection (other instances' `pg_notify`), reconnecting when it drops;
   * after a reconnect the handler is called with '' ("you may have missed something: resync"). Absent on
   * PGlite, which only ever has one instance. Resolves to the unsubscribe.
   */
  listen?(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * A new dedicated PostgreSQL session outside the pool (session-level advisory locks live as long as it
   * does; cluster/ownership.ts). Absent on PGlite. The caller ends it.
   */
  openSession?(applicationName: string): Promise<pg.Client>;
  close(): Promise<void>;
}

/** A dedicated LISTEN connection that comes back after a database restart. */
async function listenOn(url: string, channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  let client: pg.Client | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | null = null;
  const connect = async (resync: boolean): Promise<void> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    c.on('notification', (m) => m.channel === channel && onMessage(m.payload ?? ''));
    c.on('error', () => undefined); // 'end' follows; reconnect there
    c.on('end', () => {
      if (stopped || client !== c) return;
      client = null;
      schedule();
    });
    await c.connect();
    await c.query(`LISTEN ${channel}`);
    if (stopped) return void (await c.end().catch(() => undefined));
    client = c;
    if (resync) onMessage('');
  };
  const schedule = () => {
    if (stopped) return;
    retry = setTimeout(() => connect(true).catch(schedule), 1000);
    retry.unref();
  };
  await connect(false);
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    await client?.end().catch(() => undefined);
    client = null;
  };
}

/** At most this many distinct statement texts are prepared (per connection of the prepared pool); the rest run unnamed. */
export const PREPARED_STATEMENTS_MAX = 64;

/**
 * The pool for `queryPrepared`: named statements (the name is a hash of the text, so one name is never two
 * texts) on connections whose plan_cache_mode is force_generic_plan, so each is planned once per connection.
 * PostgreSQL's own choice keeps re-planning them (auto mode compares the generic plan's estimate, which
 * cannot prune the readings partitions at plan time, with custom plans that can, and never picks it),
 * and planning the Observation search cost about as much as running it (bench:fhir). The partitions are
 * still pruned when the generic plan starts (PostgreSQL runtime pruning), and a plan is rebuilt when a
 * table it uses changes (a new partition). Its own pool because the setting also applies to unnamed
 * statements with parameters, which every other query is and should stay.
 */
function preparedPool(url: string, fallback: pg.Pool) {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000, options: '-c plan_cache_mode=force_generic_plan' });
  pool.on('error', () => undefined);
  const names = new Map<string, string>();
  const nameOf = (sql: string): string | undefined => {
    let name = names.get(sql);
    if (name === undefined && names.size < PREPARED_STATEMENTS_MAX) {
      name = 'vigil_' + createHash('sha256').update(sql).digest('hex').slice(0, 32);
      names.set(sql, name);
    }
    return name;
  };
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      const name = nameOf(sql);
      if (name === undefined) return (await fallback.query(sql, params as unknown[])).rows as T[];
      return (await pool.query({ name, text: sql, values: params as unknown[] })).rows as T[];
    },
    end: () => pool.end(),
  };
}

/**
 * node-postgres pools. `preparedStatements` (VIGIL_PG_PREPARED, default on): queryPrepared uses named
 * statements on a pool of its own (preparedPool); turn it off behind a pooler that cannot keep named
 * statements (PgBouncer before 1.21, or without max_prepared_statements, in transaction mode).
 */
export async function openPostgres(url: string, opts: { preparedStatements?: boolean } = {}): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined); // idle-client errors surface on the next query instead of crashing
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new AppError('UNAVAILABLE', `DATABASE_URL: cannot connect (${(err as Error).message})`);
  }
  const listeners = new Set<() => Promise<void>>();
  const prepared = opts.preparedStatements === false ? null : preparedPool(url, pool);
  const query = async <T>(sql: string, params?: unknown[]) => (await pool.query(sql, params as unknown[])).rows as T[];
  return {
    kind: 'postgres',
    async openSession(applicationName) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, application_name: applicationName, keepAlive: true });
      await client.connect();
      return client;
    },
    async listen(channel, onMessage) {
      const stop = await listenOn(url, channel, onMessage);
      const unsubscribe = async () => {
        listeners.delete(unsubscribe);
        await stop();
      };
      listeners.add(unsubscribe);
      return unsubscribe;
    },
    query,
    queryPrepared: (sql, params) => (prepared ? prepared.query(sql, params) : query(sql, params)),
    async transaction(fn) {
      const client = await pool.connect();
      // A checked-out client whose server goes away (a restart) emits 'error'; without a listener that is
      // an uncaught exception that took the whole instance down. The query in flight rejects anyway.
      let broken = false;
      const ignore = () => void (broken = true);
      client.on('error', ignore);
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
          copyIn: (sql, data) =>
            new Promise<void>((resolve, reject) => {
              const stream = client.query(copyFrom(sql));
              stream.on('error', reject);
              stream.on('finish', () => resolve());
              stream.end(data);
            }),
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', ignore);
        client.release(broken); // a broken connection is destroyed, not handed to the next caller
      }
    },
    exec: async (sql) => void (await pool.query(sql)),
    close: async () => {
      for (const l of [...listeners]) await l();
      await prepared?.end();
      await pool.end();
    },
  };
}

/**
 * PGlite in a worker thread (see pglite-worker.ts), behind the same interface. `fsync` (default on): each commit
 * is flushed to the disk before it is acknowledged, as PostgreSQL does; off, a power cut can lose or damage data.
 */
export async function openPgliteWorker(
  dataDir: string | null,
  opts: { fsync?: boolean } = {},
): Promise<
  Db & { readonly worker: Worker; /** files PostgreSQL has flushed to disk so far (of which WAL segments) */ fsyncs(): Promise<{ all: number; wal: number }> }
> {
  let dir: string | null = null;
  let unlock = async () => undefined as void;
  if (dataDir) {
    dir = path.join(dataDir, 'pgdata');
    await mkdir(dir, { recursive: true });
    unlock = await lockEmbeddedDatabase(dir);
  }
  // The worker is TypeScript: a tiny JS bootstrap registers tsx inside it first (Node 20 cannot do it by flag).
  const worker = new Worker(new URL('./ts-worker.mjs', import.meta.url), {
    workerData: { entry: new URL('./pglite-worker.ts', import.meta.url).href, dataDir: dir, fsync: opts.fsync ?? true },
  });
  worker.unref();
  const pending = new Map<number, { resolve(rows: unknown[]): void; reject(err: Error): void }>();
  let nextId = 1;
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => {
      worker.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    await unlock();
    throw err;
  });
  worker.on('message', (m: { id: number; rows?: unknown[]; error?: { message: string; code?: string; detail?: string } }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code, detail: m.error.detail }));
    else p.resolve(m.rows ?? []);
  });
  // If the worker dies (a WASM abort, out of memory, terminate), every waiting and every later query fails
  // at once with UNAVAILABLE, so requests and /health answer instead of waiting forever.
  let dead: Error | null = null;
  const die = (why: string) => {
    dead ??= new AppError('UNAVAILABLE', `embedded database unavailable: ${why}`);
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  worker.on('error', (err) => die(`the PGlite worker failed (${err.message})`));
  worker.on('exit', (code) => die(`the PGlite worker exited (code ${code})`));
  const call = (op: string, fields: Record<string, unknown>) =>
    new Promise<unknown[]>((resolve, reject) => {
      if (dead) return reject(dead);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, ...fields });
    });

  // One transaction at a time: the worker runs statements in order, so BEGIN … COMMIT from one caller must
  // not interleave with another caller's statements.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };
  const q = <T>(sql: string, params?: unknown[]) => call('query', { sql, params: params ?? [] }) as Promise<T[]>;
  const copyCsv = async (sql: string, csv: string | Uint8Array) => void (await call('copy', { sql, csv }));
  return {
    kind: 'pglite',
    worker,
    query: (sql, params) => serial(() => q(sql, params)),
    queryPrepared: (sql, params) => serial(() => call('prepared', { sql, params: params ?? [] }) as Promise<never[]>),
    copyCsv: (sql, csv) => serial(() => copyCsv(sql, csv)),
    transaction: (fn) =>
      serial(async () => {
        await q('BEGIN');
        try {
          const result = await fn({ query: q, copyCsv });
          await q('COMMIT');
          return result;
        } catch (err) {
          await q('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    exec: (sql) => serial(async () => void (await call('exec', { sql }))),
    fsyncs: async () => {
      const [r] = (await call('fsyncs', {})) as Array<{ fsyncs: number; walSyncs: number }>;
      return { all: r.fsyncs, wal: r.walSyncs };
    },
    close: () =>
      serial(async () => {
        if (!dead) await call('close', {}).catch(() => undefined);
        await worker.terminate();
        await unlock();
      }),
  };
}

export function openDatabase(opts: { databaseUrl?: string; dataDir: string | null; preparedStatements?: boolean; fsync?: boolean }): Promise<Db> {
  return opts.databaseUrl
    ? openPostgres(opts.databaseUrl, { preparedStatements: opts.preparedStatements })
    : openPgliteWorker(opts.dataDir, { fsync: opts.fsync });
}
