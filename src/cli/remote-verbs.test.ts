/**
 * Verbs that reach a running server (server.json in the data dir), against a stand-in Fastify server that
 * records what they send; and the files they write holding patient data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCliCaptured } from './run-captured.ts';
import { writeServerFile } from './runtime.ts';

let dir: string;
let server: FastifyInstance;
const calls: Array<{ method: string; url: string }> = [];
const saved = { ...process.env };
const mode = async (file: string) => (await stat(file)).mode & 0o777;

// A display and a device holding a comma, a quote and a newline: JSON must not split them.
const CSV =
  'time,code,display,value,unit,device\n2026-01-02T03:04:05.000Z,8867-4,"Heart rate, ""resting""\nat home",72,/min,dev_1\n2026-01-02T03:05:05.000Z,8310-5,Body temperature,37.2,Cel,\n';

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-cli-remote-'));
  Object.assign(process.env, { VIGIL_DATA_DIR: dir, VIGIL_LOG_LEVEL: 'silent' });
  delete process.env.DATABASE_URL;
  server = Fastify(); // its JSON parser refuses a content-type without a body, as the real server does
  server.addHook('onRequest', async (req) => void calls.push({ method: req.method, url: req.url }));
  server.get('/health', async () => ({ ok: true }));
  server.delete('/api/v1/tokens/:id', async () => ({}));
  server.delete('/api/v1/smart/apps/:id', async (req) => ({ id: (req.params as { id: string }).id, revokedTokens: 0 }));
  server.get('/api/v1/users', async () => [{ id: 'usr_1', email: 'dr@x.test', practitionerId: 'prac_1' }]);
  server.post('/api/v1/patients', async () => ({ id: 'pat_1' }));
  server.post('/api/v1/patients/:id/care-team', async () => ({}));
  server.post('/api/v1/readings/import', async () => ({ stored: 1, duplicates: 0, rejections: [] }));
  server.get('/api/v1/patients/:id/readings.csv', async (_req, reply) => reply.type('text/csv').send(CSV));
  const url = await server.listen({ port: 0, host: '127.0.0.1' });
  await writeServerFile(dir, { pid: process.pid, url, token: 'tok_test' });
});
afterAll(async () => {
  process.env = saved;
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('verbs through a running server', () => {
  it('token revoke and smart app remove send no content-type without a body (the server refused them)', async () => {
    const revoked = await runCliCaptured(['token', 'revoke', 'tok_x']);
    expect(revoked.err).toBe('');
    expect(revoked.code).toBe(0);
    const removed = await runCliCaptured(['smart', 'app', 'remove', 'app_1', '--json']);
    expect(removed.err).toBe('');
    expect(JSON.parse(removed.out)).toMatchObject({ id: 'app_1' });
  });

  it('--json before a positional leaves it a positional', async () => {
    const r = await runCliCaptured(['token', 'revoke', '--json', 'tok_y']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ id: 'tok_y', revoked: true });
  });

  it('patient add checks --clinician before creating the patient', async () => {
    calls.length = 0;
    const bad = await runCliCaptured(['patient', 'add', '--name', 'X', '--birth-date', '1950-01-01', '--clinician', 'nobody@x.test']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/nobody@x\.test is not a clinician/);
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]); // no orphan patient
    const good = await runCliCaptured(['patient', 'add', '--name', 'X', '--clinician', 'dr@x.test', '--json']);
    expect(good.code).toBe(0);
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.url)).toEqual(['/api/v1/patients', '/api/v1/patients/pat_1/care-team']);
  });

  it('export csv --json prints the readings as one array, or with --out a summary; the file is 0600', async () => {
    const rows = await runCliCaptured(['export', 'csv', '--patient', 'pat_1', '--json']);
    expect(rows.code).toBe(0);
    expect(JSON.parse(rows.out)).toEqual([
      { time: '2026-01-02T03:04:05.000Z', code: '8867-4', display: 'Heart rate, "resting"\nat home', value: 72, unit: '/min', device: 'dev_1' },
      { time: '2026-01-02T03:05:05.000Z', code: '8310-5', display: 'Body temperature', value: 37.2, unit: 'Cel', device: null },
    ]);
    const out = path.join(dir, 'export.csv');
    await writeFile(out, 'old', { mode: 0o644 }); // an existing file is made private too
    const summary = await runCliCaptured(['export', 'csv', '--patient', 'pat_1', '--out', out, '--json']);
    expect(summary.code).toBe(0);
    expect(JSON.parse(summary.out)).toEqual({ file: out, rows: 2 });
    expect(await readFile(out, 'utf8')).toBe(CSV);
    expect(await mode(out)).toBe(0o600);
    const unwritable = await runCliCaptured(['export', 'csv', '--patient', 'pat_1', '--out', '/nonexistent/x.csv']);
    expect(unwritable.code).toBe(1);
    expect(unwritable.err).toMatch(/--out: cannot write \/nonexistent\/x\.csv: ENOENT/);
  });
});

describe('import csv rejects file', () => {
  const csv = 'timestamp,patient,code,value\n2026-01-02T03:04:05Z,pat_1,hr,72\n2026-01-02T03:04:05Z,pat_1,hr,abc\n';

  it('is written 0600 with the rejected rows', async () => {
    const file = path.join(dir, 'in.csv');
    await writeFile(file, csv);
    await writeFile(`${file}.rejected.csv`, '', { mode: 0o644 });
    const r = await runCliCaptured(['import', 'csv', file, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ stored: 1, rejected: 1, rejectsFile: `${file}.rejected.csv` });
    expect(await readFile(`${file}.rejected.csv`, 'utf8')).toMatch(/^line,reason,row\n3,/);
    expect(await mode(`${file}.rejected.csv`)).toBe(0o600);
  });

  it('that cannot be written is a loud error naming it: before the import when chosen, after the summary otherwise', async () => {
    const file = path.join(dir, 'in2.csv');
    await writeFile(file, csv);
    calls.length = 0;
    const chosen = await runCliCaptured(['import', 'csv', file, '--rejects', '/nonexistent/r.csv']);
    expect(chosen.code).toBe(1);
    expect(chosen.err).toMatch(/--rejects: cannot write \/nonexistent\/r\.csv: ENOENT/);
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]); // nothing imported
    await mkdir(`${file}.rejected.csv`); // the default path, unwritable
    const late = await runCliCaptured(['import', 'csv', file, '--json']);
    expect(late.code).toBe(1);
    expect(JSON.parse(late.out)).toMatchObject({ stored: 1, rejected: 1, rejectsFile: null });
    expect(late.err).toContain(`cannot write ${file}.rejected.csv: EISDIR; 1 not saved`);
  });

  it('a binary file is named as such, its bytes escaped and cut short', async () => {
    const file = path.join(dir, 'garbage.bin');
    await writeFile(file, Buffer.concat([Buffer.from('\x00\x01\x1b[31m'), Buffer.alloc(2000, 0xfe), Buffer.from('\n')]));
    const r = await runCliCaptured(['import', 'csv', file]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not a CSV text file/);
    expect(r.err).toContain('\\x00\\x01\\x1b[31m');
    expect(r.err).not.toMatch(/[\x00-\x08\x1b]/);
    expect(r.err.length).toBeLessThan(300);
  });
});

describe('import fhir rejects file', () => {
  it('that cannot be written is refused before the import', async () => {
    const file = path.join(dir, 'obs.ndjson');
    await writeFile(file, '{"resourceType":"Patient"}\n');
    const r = await runCliCaptured(['import', 'fhir', file, '--rejects', '/nonexistent/r.csv']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--rejects: cannot write \/nonexistent\/r\.csv: ENOENT/);
  });
});
