/**
 * The embedded database flushes commits to disk (pglite-worker.ts DurableNodeFS): PGlite alone runs with fsync
 * off and no flush in its file layer, so a power cut could lose acknowledged readings or damage the database.
 * Checked here through PostgreSQL's own settings and the flushes the file layer really makes (fsync(2) on the
 * data directory's files), and that turning it off (VIGIL_PGLITE_FSYNC=0) is what it says.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPgliteWorker } from './db.ts';

describe('PGlite durability', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'vigil-fsync-'));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('flushes the WAL at every commit and the data files at a checkpoint, and keeps what it committed', async () => {
    const dir = await tempDir();
    let db = await openPgliteWorker(dir);
    try {
      expect(await db.query(`SELECT current_setting('fsync') AS f, current_setting('wal_sync_method') AS m`)).toEqual([{ f: 'on', m: 'fsync' }]);
      await db.exec('CREATE TABLE r (id serial PRIMARY KEY, v float8)');
      const before = await db.fsyncs();
      for (let i = 0; i < 5; i++) await db.transaction((tx) => tx.query('INSERT INTO r (v) VALUES ($1)', [i]));
      const afterCommits = await db.fsyncs();
      expect(afterCommits.wal - before.wal).toBeGreaterThanOrEqual(5); // at least one WAL flush per commit
      await db.query('SELECT count(*) FROM r');
      expect(await db.fsyncs()).toEqual(afterCommits); // a read flushes nothing
      await db.exec('CHECKPOINT');
      const afterCheckpoint = await db.fsyncs();
      expect(afterCheckpoint.all - afterCheckpoint.wal).toBeGreaterThan(afterCommits.all - afterCommits.wal); // data files, control file
    } finally {
      await db.close();
    }
    db = await openPgliteWorker(dir);
    try {
      expect(await db.query<{ n: number }>('SELECT count(*)::int AS n FROM r')).toEqual([{ n: 5 }]);
    } finally {
      await db.close();
    }
  });

  it('flushes nothing when turned off (VIGIL_PGLITE_FSYNC=0: trials, tests), as PGlite alone does', async () => {
    const db = await openPgliteWorker(await tempDir(), { fsync: false });
    try {
      expect(await db.query(`SELECT current_setting('fsync') AS f`)).toEqual([{ f: 'off' }]);
      await db.exec('CREATE TABLE r (v int); INSERT INTO r VALUES (1); CHECKPOINT;');
      expect(await db.fsyncs()).toEqual({ all: 0, wal: 0 });
    } finally {
      await db.close();
    }
  });
});
