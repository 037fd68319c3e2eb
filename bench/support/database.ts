import pg from 'pg';

/** The PostgreSQL server a bench run with --postgres uses (BENCH_DATABASE_URL, or the machine's). */
export const BENCH_PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A throw-away database `vigil_bench_<tag>_<pid>` on the PostgreSQL server at `url` (dropped first if a
 * crashed run left it), so a bench never touches real data. Returns its URL.
 */
export async function freshBenchDatabase(tag: string, url = BENCH_PG_URL): Promise<string> {
  const name = `vigil_bench_${tag}_${process.pid}`;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name}`);
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops a database made by freshBenchDatabase (its URL), closing any session still on it. */
export async function dropBenchDatabase(databaseUrl: string, url = BENCH_PG_URL): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^vigil_bench_\w+$/.test(name)) throw new Error(`not a bench database: ${name}`);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
