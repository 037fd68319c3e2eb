import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db, Queryable } from '../platform/db.ts';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
// Serialises concurrent instances migrating the same PostgreSQL database.
const MIGRATION_LOCK_KEY = 7_441_001;
const LOCK_POLL_MS = 200;
/** First line of a migration that must run outside a transaction (CREATE INDEX CONCURRENTLY, long VALIDATE). */
const NO_TRANSACTION = /^-- migrate: no-transaction\s*$/m;

interface Migration {
  file: string;
  statements: string[];
  inTransaction: boolean;
}

/**
 * Applies the numbered, forward-only SQL migrations not yet applied; the same files for PGlite and PostgreSQL.
 * Several instances may start at once: one migrates while the others wait for the migration lock (a
 * session-level advisory lock). Consecutive ordinary migrations run in one transaction. A file marked
 * `-- migrate: no-transaction` runs statement by statement, each its own transaction (CREATE INDEX
 * CONCURRENTLY, a VALIDATE that must not block writers); its statements must be idempotent, because a start
 * that stops half-way runs the whole file again. `until` (tests) stops after that file.
 */
export async function migrate(db: Db, opts: { until?: string } = {}): Promise<string[]> {
  const names = (await readdir(MIGRATIONS_DIR))
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .filter((f) => !opts.until || f <= opts.until);
  const migrations: Migration[] = [];
  for (const file of names) {
    const sql = await readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
    migrations.push({ file, statements: splitStatements(sql), inTransaction: !NO_TRANSACTION.test(sql.split('\n')[0]) });
  }
  const applied: string[] = [];
  const apply = async (q: Queryable, group: Migration[]) => {
    for (const m of group) {
      for (const statement of m.statements) await q.query(statement);
      await q.query('INSERT INTO schema_migrations (name) VALUES ($1)', [m.file]);
      applied.push(m.file);
    }
  };
  await withMigrationLock(db, async () => {
    await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await db.query<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name));
    const pending = migrations.filter((m) => !done.has(m.file));
    for (let i = 0; i < pending.length;) {
      let j = i + 1;
      if (pending[i].inTransaction) while (j < pending.length && pending[j].inTransaction) j++;
      const group = pending.slice(i, j);
      if (group[0].inTransaction) await db.transaction((tx) => apply(tx, group));
      else await apply(db, group);
      i = j;
    }
  });
  return applied;
}

/**
 * Runs fn holding the migration lock on a dedicated PostgreSQL session. The lock is polled, not awaited: a
 * session blocked in pg_advisory_lock holds a snapshot, and CREATE INDEX CONCURRENTLY in the migrating
 * session waits for every older snapshot: a deadlock. PGlite has one connection and one instance: no lock.
 */
async function withMigrationLock(db: Db, fn: () => Promise<void>): Promise<void> {
  if (!db.openSession) return fn();
  const session = await db.openSession('vigil-migrate');
  try {
    while (!(await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATION_LOCK_KEY])).rows[0].ok)
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    await fn();
  } finally {
    await session.end().catch(() => undefined); // ending the session releases the lock
  }
}

/**
 * Splits a migration on semicolons at line ends, except inside dollar-quoted bodies ($$ … $$, used by
 * trigger functions). Comment lines are dropped.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    if (!inDollar && /^\s*--/.test(line)) continue;
    current += line + '\n';
    if ((line.match(/\$\$/g) ?? []).length % 2 === 1) inDollar = !inDollar;
    if (!inDollar && /;\s*$/.test(line)) {
      out.push(current.trim().replace(/;$/, '').trim());
      current = '';
    }
  }
  if (current.trim()) out.push(current.trim().replace(/;$/, '').trim());
  return out.filter(Boolean);
}
