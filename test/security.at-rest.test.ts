/**
 * Encryption at rest (issue 9, HIPAA §164.312(a)(2)(iv)): a unique string planted in a message and in a PDF
 * attachment is readable through the API, and found nowhere in the files under the data directory (embedded
 * PGlite) nor in the PostgreSQL server's files for the test database and its WAL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, postgresAvailable, PG_ADMIN_URL, skipNote } from './support/services.ts';

async function filesUnder(dir: string, since = 0): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (since === 0 || (await stat(p)).mtimeMs >= since)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

async function findIn(files: string[], needles: Buffer[]): Promise<string[]> {
  const hits: string[] = [];
  for (const f of files) {
    const buf = await readFile(f).catch(() => null);
    if (buf && needles.some((n) => buf.includes(n))) hits.push(f);
  }
  return hits;
}

async function plant(app: TestApp) {
  const admin = await app.tokenFor('admin');
  const patientId = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Rest Encrypted' })).body.id;
  const pat = await app.tokenFor('patient', { patientId });
  const textCanary = 'CANARY-TEXT-' + randomBytes(8).toString('hex');
  const fileCanary = 'CANARY-FILE-' + randomBytes(8).toString('hex');
  const pdf = Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% ${fileCanary}\ntrailer << /Root 1 0 R >>\n%%EOF\n`);
  const res = await app.api<{ id: string; messages?: unknown }>(pat.token, 'POST', `/api/v1/patients/${patientId}/threads`, {
    subject: 'Results',
    text: `My note: ${textCanary}`,
    attachments: [{ name: 'letter.pdf', contentType: 'application/pdf', data: pdf.toString('base64') }],
  });
  expect(res.status).toBe(201);
  const threads = await app.api<Array<{ id: string }>>(pat.token, 'GET', `/api/v1/threads?patient=${patientId}`);
  const msgs = await app.api<{ messages: Array<{ text: string; attachments: Array<{ url: string }> }> }>(
    pat.token,
    'GET',
    `/api/v1/threads/${threads.body[0].id}/messages`,
  );
  expect(JSON.stringify(msgs.body)).toContain(textCanary); // really stored, readable through the API
  const file = await fetch(app.httpUrl + msgs.body.messages[0].attachments[0].url, { headers: { authorization: `Bearer ${pat.token}` } });
  expect(Buffer.from(await file.arrayBuffer()).includes(Buffer.from(fileCanary))).toBe(true);
  return [Buffer.from(textCanary), Buffer.from(fileCanary), Buffer.from(textCanary).toString('base64').slice(0, 20)].map((x) =>
    typeof x === 'string' ? Buffer.from(x) : x,
  );
}

const hasPostgres = await postgresAvailable();
if (!hasPostgres) skipNote('PostgreSQL (encryption at rest on a server)');

describe('encryption at rest', () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const s of stops) await s();
  });

  it('embedded PGlite: the planted strings are nowhere under the data directory', async () => {
    const app = await bootApp();
    stops.push(() => app.stop());
    const needles = await plant(app);
    await app.services.db.exec('CHECKPOINT');
    const files = await filesUnder(app.dataDir);
    expect(files.length).toBeGreaterThan(100);
    expect(await findIn(files, needles)).toEqual([]);
  });

  it.skipIf(!hasPostgres)('PostgreSQL: nowhere in the database files or the WAL written during the test', async () => {
    const started = Date.now() - 1000;
    const database = await createTestDatabase();
    const app = await bootApp({ databaseUrl: database.url });
    stops.push(async () => {
      await app.stop();
      await database.drop();
    });
    const needles = await plant(app);
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query('CHECKPOINT');
      const [{ data_directory }] = (await admin.query('SHOW data_directory')).rows as Array<{ data_directory: string }>;
      const [{ oid }] = (
        await admin.query('SELECT oid FROM pg_database WHERE datname = current_database() OR datname = $1 ORDER BY datname = $1 DESC LIMIT 1', [
          new URL(database.url).pathname.slice(1),
        ])
      ).rows as Array<{ oid: number }>;
      const files = [
        ...(await filesUnder(path.join(data_directory, 'base', String(oid)))),
        ...(await filesUnder(path.join(data_directory, 'pg_wal'), started)),
      ];
      if (files.length === 0) return void skipNote('PostgreSQL data directory not readable by this user');
      expect(await findIn(files, needles)).toEqual([]);
    } finally {
      await admin.end();
    }
  });
});
