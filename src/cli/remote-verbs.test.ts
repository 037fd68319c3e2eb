/**
 * Verbs that reach a running server (server.json in the data dir), against the real Vigil server booted
 * in-process: what they do is checked on the server (its API, its database), and so are the files they write
 * holding patient data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bootApp, type TestApp } from '../../test/support/app.ts';
import { runCliCaptured } from './run-captured.ts';
import { writeServerFile } from './runtime.ts';

let app: TestApp;
let dir: string;
let admin: string;
const saved = { ...process.env };
const mode = async (file: string) => (await stat(file)).mode & 0o777;
const count = async (sql: string, params: unknown[] = []) => (await app.services.db.query<{ n: number }>(sql, params))[0].n;
const patients = () => count('SELECT count(*)::int AS n FROM patients');
const readingsOf = (patientId: string) => count('SELECT count(*)::int AS n FROM readings WHERE patient_id = $1', [patientId]);

beforeAll(async () => {
  app = await bootApp();
  dir = app.dataDir;
  admin = (await app.tokenFor('admin')).token;
  await writeServerFile(app.dataDir, { pid: process.pid, url: app.httpUrl, token: admin });
  Object.assign(process.env, { VIGIL_DATA_DIR: app.dataDir, VIGIL_LOG_LEVEL: 'silent' });
  delete process.env.DATABASE_URL;
});
afterAll(async () => {
  process.env = saved;
  await app?.stop();
});

describe('verbs through a running server', () => {
  it('token revoke ends the token at once (DELETE without a body: a content-type would be refused)', async () => {
    const user = await app.tokenFor('clinician');
    const extra = await app.services.auth.createToken(user.email, 'second', 'system');
    for (const t of [user.token, extra.token]) expect((await app.api(t, 'GET', '/api/v1/patients')).status).toBe(200);
    const { id } = (await app.services.auth.listTokens('cli')).find((t) => t.email === user.email && t.name === 'test')!;
    const revoked = await runCliCaptured(['token', 'revoke', id]);
    expect(revoked.err).toBe('');
    expect(revoked.code).toBe(0);
    expect(revoked.out).toBe(`Token ${id} revoked.\n`);
    expect((await app.api(user.token, 'GET', '/api/v1/patients')).status).toBe(401);
    expect((await app.api(extra.token, 'GET', '/api/v1/patients')).status).toBe(200); // only that one
  });

  it('--json before a positional leaves it a positional', async () => {
    const user = await app.tokenFor('clinician');
    const t = await app.services.auth.createToken(user.email, 'scripted', 'system');
    const r = await runCliCaptured(['token', 'revoke', '--json', t.id]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ id: t.id, revoked: true });
    expect((await app.api(t.token, 'GET', '/api/v1/patients')).status).toBe(401);
  });

  it('smart app add registers an app through the server; smart app remove removes it', async () => {
    const added = await runCliCaptured(['smart', 'app', 'add', '--name', 'Chart Viewer', '--redirect-uri', 'https://viewer.example/callback', '--json']);
    expect(added.err).toBe('');
    expect(added.code).toBe(0);
    const { clientId } = JSON.parse(added.out) as { clientId: string };
    expect(JSON.parse(added.out)).toEqual({ clientId, name: 'Chart Viewer', redirectUris: ['https://viewer.example/callback'] });
    const listed = async () => (await app.api<Array<{ id: string }>>(admin, 'GET', '/api/v1/smart/apps')).body.map((a) => a.id);
    expect(await listed()).toContain(clientId);

    const removed = await runCliCaptured(['smart', 'app', 'remove', clientId, '--json']);
    expect(removed.err).toBe('');
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.out)).toEqual({ id: clientId, revokedTokens: 0 });
    expect(await listed()).not.toContain(clientId);
    expect(await count('SELECT count(*)::int AS n FROM smart_clients WHERE id = $1', [clientId])).toBe(0);
    // Gone: the API (and so the CLI) no longer knows it.
    expect((await app.api(admin, 'PATCH', `/api/v1/smart/apps/${clientId}`, { name: 'Renamed' })).status).toBe(404);
    const again = await runCliCaptured(['smart', 'app', 'remove', clientId]);
    expect(again.code).toBe(1);
    expect(again.err).not.toBe('');
  });

  it('patient add checks --clinician before creating the patient', async () => {
    const before = await patients();
    const bad = await runCliCaptured(['patient', 'add', '--name', 'X', '--birth-date', '1950-01-01', '--clinician', 'nobody@x.test']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/nobody@x\.test is not a clinician/);
    expect(await patients()).toBe(before); // no orphan patient

    const clinician = await app.tokenFor('clinician');
    const good = await runCliCaptured(['patient', 'add', '--name', 'Xena Example', '--birth-date', '1950-01-01', '--clinician', clinician.email, '--json']);
    expect(good.err).toBe('');
    expect(good.code).toBe(0);
    const { id } = JSON.parse(good.out) as { id: string };
    expect(await patients()).toBe(before + 1);
    const team = await app.services.db.query<{ practitioner_id: string }>('SELECT practitioner_id FROM care_team_members WHERE patient_id = $1', [id]);
    expect(team.map((t) => t.practitioner_id)).toEqual([clinician.practitionerId]);
    // The clinician sees the patient as theirs.
    const mine = await app.api<Array<{ id: string }>>(clinician.token, 'GET', '/api/v1/patients');
    expect(mine.body.map((p) => p.id)).toEqual([id]);
  });

  it('export csv --json prints the readings as one array, or with --out a summary; the file is 0600', async () => {
    const s = app.services;
    const patientId = (await s.patientService.create({ name: 'Erin Export' }, 'system')).id;
    const device = (await s.deviceService.provision({ patientId, type: 'multi' }, 'system')).id;
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 120_000;
    await s.ingest.acceptTelemetry(device, JSON.stringify({ ts: t0, seq: 1, hr: 72 }));
    await s.ingest.acceptTelemetry(device, JSON.stringify({ ts: t0 + 60_000, seq: 2, temp: 37.2 }));
    // A reading whose code (and so display) holds a comma, a quote and a newline: JSON must not split them. No
    // device or import writes such a code, so it goes into the database as is.
    const odd = 'resting, "calm"\nat home';
    await s.db.query(`INSERT INTO readings (patient_id, device_id, system, code, value, unit, ts) VALUES ($1, NULL, 'urn:example:codes', $2, 5, '1', $3)`, [
      patientId,
      odd,
      new Date(t0 + 90_000).toISOString(),
    ]);
    const iso = (t: number) => new Date(t).toISOString();

    const rows = await runCliCaptured(['export', 'csv', '--patient', patientId, '--json']);
    expect(rows.err).toBe('');
    expect(rows.code).toBe(0);
    expect(JSON.parse(rows.out)).toEqual([
      { time: iso(t0), code: '8867-4', display: 'Heart rate', value: 72, unit: '/min', device },
      { time: iso(t0 + 60_000), code: '8310-5', display: 'Body temperature', value: 37.2, unit: 'Cel', device },
      { time: iso(t0 + 90_000), code: odd, display: `urn:example:codes|${odd}`, value: 5, unit: '1', device: null },
    ]);

    const out = path.join(dir, 'export.csv');
    await writeFile(out, 'old', { mode: 0o644 }); // an existing file is made private too
    const summary = await runCliCaptured(['export', 'csv', '--patient', patientId, '--out', out, '--json']);
    expect(summary.err).toBe('');
    expect(summary.code).toBe(0);
    expect(JSON.parse(summary.out)).toEqual({ file: out, rows: 3 });
    // What the server's own endpoint answers, byte for byte.
    const served = await fetch(`${app.httpUrl}/api/v1/patients/${patientId}/readings.csv`, { headers: { authorization: `Bearer ${admin}` } });
    const csv = await served.text();
    expect(csv).toBe(
      'time,code,display,value,unit,device\n' +
        `${iso(t0)},8867-4,Heart rate,72,/min,${device}\n` +
        `${iso(t0 + 60_000)},8310-5,Body temperature,37.2,Cel,${device}\n` +
        `${iso(t0 + 90_000)},"resting, ""calm""\nat home","urn:example:codes|resting, ""calm""\nat home",5,1,\n`,
    );
    expect(await readFile(out, 'utf8')).toBe(csv);
    expect(await mode(out)).toBe(0o600);

    const unwritable = await runCliCaptured(['export', 'csv', '--patient', patientId, '--out', '/nonexistent/x.csv']);
    expect(unwritable.code).toBe(1);
    expect(unwritable.err).toMatch(/^vigil export csv: --out: cannot write \/nonexistent\/x\.csv: ENOENT[^\n]*\n$/); // one line
  });
});

describe('import csv rejects file', () => {
  let patientId: string;
  // One good row and one bad, at a time of their own for each file (a re-run would find duplicates).
  let minute = 0;
  const csvFor = () => {
    const t = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000 - ++minute * 60_000).toISOString();
    return `timestamp,patient,code,value\n${t},${patientId},hr,72\n${t},${patientId},hr,abc\n`;
  };
  beforeAll(async () => {
    patientId = (await app.services.patientService.create({ name: 'Ivan Import' }, 'system')).id;
  });

  it('is written 0600 with the rejected rows', async () => {
    const file = path.join(dir, 'in.csv');
    await writeFile(file, csvFor());
    await writeFile(`${file}.rejected.csv`, '', { mode: 0o644 });
    const before = await readingsOf(patientId);
    const r = await runCliCaptured(['import', 'csv', file, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ via: 'server', stored: 1, rejected: 1, rejectsFile: `${file}.rejected.csv` });
    expect(await readingsOf(patientId)).toBe(before + 1);
    expect(await readFile(`${file}.rejected.csv`, 'utf8')).toMatch(/^line,reason,row\n3,/);
    expect(await mode(`${file}.rejected.csv`)).toBe(0o600);
  });

  it('that cannot be written is a loud error naming it: before the import when chosen, after the summary otherwise', async () => {
    const file = path.join(dir, 'in2.csv');
    await writeFile(file, csvFor());
    const before = await readingsOf(patientId);
    const chosen = await runCliCaptured(['import', 'csv', file, '--rejects', '/nonexistent/r.csv']);
    expect(chosen.code).toBe(1);
    expect(chosen.err).toMatch(/--rejects: cannot write \/nonexistent\/r\.csv: ENOENT/);
    expect(await readingsOf(patientId)).toBe(before); // nothing imported

    await mkdir(`${file}.rejected.csv`); // the default path, unwritable
    const late = await runCliCaptured(['import', 'csv', file, '--json']);
    expect(late.code).toBe(1);
    expect(JSON.parse(late.out)).toMatchObject({ stored: 1, rejected: 1, rejectsFile: null });
    expect(late.err).toContain(`cannot write ${file}.rejected.csv: EISDIR; 1 not saved`);
    expect(await readingsOf(patientId)).toBe(before + 1); // the good row was stored all the same
  });

  it('a binary file is named as such, its bytes escaped and cut short', async () => {
    const file = path.join(dir, 'garbage.bin');
    await writeFile(file, Buffer.concat([Buffer.from('\x00\x01\x1b[31m'), Buffer.alloc(2000, 0xfe), Buffer.from('\n')]));
    const before = await count('SELECT count(*)::int AS n FROM readings');
    const r = await runCliCaptured(['import', 'csv', file]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not a CSV text file/);
    expect(r.err).toContain('\\x00\\x01\\x1b[31m');
    expect(r.err).not.toMatch(/[\x00-\x08\x1b]/);
    expect(r.err.length).toBeLessThan(300);
    expect(await count('SELECT count(*)::int AS n FROM readings')).toBe(before);
  });
});

describe('import fhir rejects file', () => {
  it('that cannot be written is refused before the import', async () => {
    const patientId = (await app.services.patientService.create({ name: 'Fiona Fhir' }, 'system')).id;
    const file = path.join(dir, 'obs.ndjson');
    const observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${patientId.replace('_', '-')}` },
      effectiveDateTime: new Date(Date.now() - 600_000).toISOString(),
      valueQuantity: { value: 64, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    await writeFile(file, JSON.stringify(observation) + '\n{"resourceType":"Patient"}\n');
    const r = await runCliCaptured(['import', 'fhir', file, '--rejects', '/nonexistent/r.csv']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--rejects: cannot write \/nonexistent\/r\.csv: ENOENT/);
    expect(await readingsOf(patientId)).toBe(0);
    // With a rejects file it can write, the same file imports (so the refusal above was the rejects file's).
    const ok = await runCliCaptured(['import', 'fhir', file, '--rejects', path.join(dir, 'obs.rejected.csv'), '--json']);
    expect(JSON.parse(ok.out)).toMatchObject({ via: 'server', stored: 1, rejected: 1 });
    expect(await readingsOf(patientId)).toBe(1);
  });
});
