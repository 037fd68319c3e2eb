/**
 * CSV in and out on the real server and CLI: `vigil import csv` through a running server (and straight
 * into the database when none runs), re-runs that store nothing twice, a rejected-rows file, and an export
 * that real pandas (Debian python3-pandas) reads with parse_dates=["time"].
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../test/support/app.ts';
import { runCliCaptured } from '../cli/run-captured.ts';
import { writeServerFile } from '../cli/runtime.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-pandas lives

async function pandas(script: string, ...args: string[]) {
  const { stdout } = await run(PYTHON, ['-c', script, ...args], { timeout: 60_000 });
  return JSON.parse(stdout);
}

describe('CSV import and export', () => {
  let app: TestApp;
  let dir: string;
  let admin: string;
  let patientId: string;
  const env = { ...process.env };

  beforeAll(async () => {
    app = await bootApp();
    dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-csv-'));
    admin = (await app.tokenFor('admin')).token;
    patientId = (await app.services.patientService.create({ name: 'Hana Health', mrn: 'HH-7' }, 'system')).id;
    // The CLI finds the running server the way `vigil start` advertises it.
    await writeServerFile(app.dataDir, { pid: process.pid, url: app.httpUrl, token: admin });
    process.env.VIGIL_DATA_DIR = app.dataDir;
  });
  afterAll(async () => {
    process.env = env;
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("imports last year's spreadsheet through the running server, once, with a file of rejected rows", async () => {
    const file = path.join(dir, 'healthdata.csv');
    await writeFile(
      file,
      '\uFEFFDatum;Patient;Puls;SpO2;Gewicht (lb);Temp [°F];Bemerkung\r\n' +
        '24.11.2025 08:00;HH-7;71;97;150;98,6;"gut; danke"\r\n' +
        '24.11.2025 20:00;HH-7;75;96;;99,1;\r\n' +
        '25.11.2025 08:00;HH-7;300000;95;;;\r\n' +
        '25.11.2025 09:00;XX-0;70;95;;;\r\n',
    );
    const args = ['import', 'csv', file, '--map', 'timestamp=Datum,hr=Puls,weight=Gewicht,temp=Temp', '--tz', 'Europe/Berlin', '--json'];
    const first = await runCliCaptured(args);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.out);
    expect(summary).toMatchObject({ via: 'server', format: 'wide', rows: 4, stored: 8, duplicates: 0, rejected: 2, ignoredColumns: ['Bemerkung'] });
    const rejected = await readFile(summary.rejectsFile, 'utf8');
    expect(rejected.split('\n')[0]).toBe('line,reason,row');
    expect(rejected).toContain('4,hr: 300000 /min is outside the possible range 0–350');
    expect(rejected).toContain('5,"patient ""XX-0"" not found (by id or MRN)",25.11.2025 09:00;XX-0;70;95;;;');
    // Converted and stored: 98.6 °F → 37 °C at 07:00 UTC (08:00 in Berlin).
    const temp = await app.api<any>(admin, 'GET', `/fhir/R4/Observation?patient=${patientId}&code=8310-5&_sort=date`);
    expect(temp.body.entry.map((e: any) => [e.resource.effectiveDateTime, e.resource.valueQuantity.value, e.resource.valueQuantity.code])).toEqual([
      ['2025-11-24T07:00:00.000Z', 37, 'Cel'],
      ['2025-11-24T19:00:00.000Z', 37.277778, 'Cel'],
    ]);
    // Last year's month got its own partition before the rows went in: none of them wait in DEFAULT to be moved.
    const where = await app.services.db.query<{ part: string; n: string }>(
      `SELECT tableoid::regclass::text AS part, count(*) AS n FROM readings WHERE patient_id = $1 GROUP BY 1`,
      [patientId],
    );
    expect(where.map((r) => [r.part, Number(r.n)])).toEqual([['readings_y2025m11', 8]]);
    const again = JSON.parse((await runCliCaptured(args)).out);
    expect(again).toMatchObject({ stored: 0, duplicates: 8, rejected: 2 });
    expect((await app.api<any>(admin, 'GET', `/fhir/R4/Observation?patient=${patientId}&_summary=count`)).body.total).toBe(8);
  });

  it('names the line and reason of each refused row: a local time the clocks skipped, a row across lines at its first line; empty rows counted', async () => {
    await app.services.patientService.create({ name: 'Dora Daylight', mrn: 'DST-1' }, 'system'); // her own: the export test counts Hana's readings
    const file = path.join(dir, 'dst.csv');
    await writeFile(
      file,
      'timestamp,patient,code,value,note\r\n' +
        '2026-03-29 01:30,DST-1,hr,60,\r\n' +
        '2026-03-29 02:30,DST-1,hr,61,\r\n' + // Berlin's clocks went from 02:00 to 03:00
        '2026-03-29 03:30,XX-0,hr,62,"two\r\nlines"\r\n' + // lines 4–5, refused by the server (no such patient)
        '\r\n' +
        ',,,,\r\n' +
        '2026-03-29 04:30,DST-1,hr,63,\r\n' +
        '2026-03-29 04:31,DST-1,hr,abc,\r\n',
    );
    const r = await runCliCaptured(['import', 'csv', file, '--tz', 'Europe/Berlin', '--json']);
    expect(r.err).toBe('');
    const summary = JSON.parse(r.out);
    expect(summary).toMatchObject({ rows: 7, emptyRows: 2, stored: 2, rejected: 3 }); // a row across lines is one row
    const lines = (await readFile(summary.rejectsFile, 'utf8')).split('\r\n').join('\\r\\n').split('\n');
    expect(lines[0]).toBe('line,reason,row');
    expect(lines[1]).toMatch(/^3,"timestamp: ""2026-03-29 02:30"" never happened in Europe\/Berlin \(the clocks skipped it/);
    expect(lines[2]).toBe('9,"hr: value ""abc"" is not a number","2026-03-29 04:31,DST-1,hr,abc,"');
    expect(lines[3]).toBe('4,"patient ""XX-0"" not found (by id or MRN)","2026-03-29 03:30,XX-0,hr,62,""two\\r\\nlines"""');
    const text = (await runCliCaptured(['import', 'csv', file, '--tz', 'Europe/Berlin'])).out;
    expect(text).toMatch(/7 rows read, 2 of them empty \(skipped\)/);
  });

  it('skips a reading already stored, by a device or earlier in the same batch, also among many stored readings', async () => {
    const s = app.services;
    const p = (await s.patientService.create({ name: 'Dedup Case' }, 'system')).id;
    const t0 = Date.parse('2024-03-01T00:00:00Z');
    // 25,001 heart rates a second apart already stored (a device): more than one range lookup returns, so the
    // batch's own instants are looked up exactly.
    const many = Array.from({ length: 25_001 }, (_, i) => ({
      patientId: p,
      deviceId: null,
      code: '8867-4',
      value: 60,
      unit: '/min',
      ts: t0 + i * 1000,
      seq: null,
    }));
    await s.db.transaction((tx) => s.repos.readings.insertBatch(tx, many));
    const row = (line: number, ts: number, value = 70) => ({ line, patient: p, code: '8867-4', value, unit: '/min', ts });
    const r = await app.api<any>(admin, 'POST', '/api/v1/readings/import', {
      rows: [row(2, t0 + 5_000), row(3, t0 + 5_500), row(4, t0 + 5_500, 99), row(5, t0 + 30_000_000)],
    });
    expect(r.body).toMatchObject({ stored: 2, duplicates: 2, rejections: [] });
    const half = await s.db.query<{ value: number }>('SELECT value FROM readings WHERE patient_id = $1 AND ts = $2', [p, new Date(t0 + 5_500).toISOString()]);
    expect(half.map((x) => x.value)).toEqual([70]); // the first of the batch's repeats
    // A small range: found by the range scan.
    const q = (await s.patientService.create({ name: 'Dedup Small' }, 'system')).id;
    await s.db.transaction((tx) =>
      s.repos.readings.insertBatch(tx, [{ patientId: q, deviceId: null, code: '8867-4', value: 61, unit: '/min', ts: t0, seq: null }]),
    );
    const r2 = await app.api<any>(admin, 'POST', '/api/v1/readings/import', {
      rows: [
        { ...row(2, t0), patient: q },
        { ...row(3, t0 + 1000), patient: q },
      ],
    });
    expect(r2.body).toMatchObject({ stored: 1, duplicates: 1 });
    expect(Number((await s.db.query<{ n: string }>('SELECT count(*) AS n FROM readings WHERE patient_id = $1', [q]))[0].n)).toBe(2);
  });

  it('checks every row itself, whoever parsed it: a known code, its unit, the possible range, a time that can be', async () => {
    const s = app.services;
    const p = (await s.patientService.create({ name: 'Row Checks' }, 'system')).id;
    const t = Date.parse('2025-06-01T08:00:00Z');
    const row = (line: number, code: string, value: number, unit: string, ts = t + line * 1000) => ({ line, patient: p, code, value, unit, ts });
    // A client that skipped `vigil import csv`'s own checks (the route takes parsed rows).
    const r = await app.api<any>(admin, 'POST', '/api/v1/readings/import', {
      rows: [
        row(2, '=HYPERLINK("http://evil")', 70, '/min'),
        row(3, '59408-5', 500, '%'),
        row(4, '8867-4', 70, 'kg'),
        row(5, '8867-4', 70, '/min', Date.parse('2100-01-01T00:00:00Z')),
        row(6, '8867-4', 70, '/min', Date.parse('1900-01-01T00:00:00Z')),
        row(7, '29463-7', 150, 'lb'),
        row(8, '8867-4', 72, 'bpm'),
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.stored).toBe(2);
    const reasons = Object.fromEntries(r.body.rejections.map((x: { line: number; reason: string }) => [x.line, x.reason]));
    expect(reasons[2]).toMatch(/^unknown code "=HYPERLINK/);
    expect(reasons[3]).toMatch(/Oxygen saturation.*500 % is outside the possible range 0–100/);
    expect(reasons[4]).toMatch(/Heart rate: unit "kg" is not accepted \(use \/min\)/);
    expect(reasons[5]).toMatch(/2100-01-01T00:00:00.000Z is in the future/);
    expect(reasons[6]).toMatch(/is before 2000/);
    const stored = await s.db.query<{ code: string; value: number; unit: string }>('SELECT code, value, unit FROM readings WHERE patient_id = $1 ORDER BY ts', [
      p,
    ]);
    expect(stored).toEqual([
      { code: '29463-7', value: 68.038856, unit: 'kg' }, // converted to the canonical unit, as the CLI would
      { code: '8867-4', value: 72, unit: '/min' },
    ]);
    // The CLI straight into the database (no server) is held to the same: a row dated in 2031 is refused.
    const file = path.join(dir, 'future.csv');
    await writeFile(file, 'timestamp,patient,hr\n2031-06-01T08:00:00Z,' + p + ',70\n2025-06-02T08:00:00Z,' + p + ',71\n');
    const out = await runCliCaptured(['import', 'csv', file, '--json']);
    expect(JSON.parse(out.out)).toMatchObject({ stored: 1, rejected: 1 });
  });

  it('writes text a spreadsheet would run as a formula as text (CSV injection)', async () => {
    const s = app.services;
    const p = (await s.patientService.create({ name: 'Formula Cells' }, 'system')).id;
    // A unit stored before rows were checked, or by a future path that forgets to: the export still defuses it.
    const ts = Date.parse('2025-07-01T08:00:00Z');
    await s.db.transaction((tx) =>
      s.repos.readings.insertBatch(tx, [{ patientId: p, deviceId: null, code: '8867-4', value: -1, unit: "=cmd|' /C calc'!A0", ts, seq: null }]),
    );
    const csv = await (await fetch(`${app.httpUrl}/api/v1/patients/${p}/readings.csv`, { headers: { authorization: `Bearer ${admin}` } })).text();
    const line = csv.trim().split('\n')[1];
    expect(line).toBe("2025-07-01T08:00:00.000Z,8867-4,Heart rate,-1,'=cmd|' /C calc'!A0,");
  });

  it('says plainly what is wrong with a file it cannot read', async () => {
    const file = path.join(dir, 'bad.csv');
    await writeFile(file, 'a,b,c\n1,2,3\n');
    const r = await runCliCaptured(['import', 'csv', file]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no timestamp column/);
    expect((await runCliCaptured(['import', 'csv', file, '--tz', 'Mars/Olympus'])).err).toMatch(/unknown time zone "Mars\/Olympus"/);
    expect((await runCliCaptured(['import', 'csv', path.join(dir, 'missing.csv')])).err).toMatch(/cannot read/);
  });

  it('exports tidy CSV that pandas reads as is, from the API and the CLI', async () => {
    const url = `${app.httpUrl}/api/v1/patients/${patientId}/readings.csv`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect((await res.text()).split('\n')[0]).toBe('time,code,display,value,unit,device');
    const df = await pandas(
      `import sys, json, pandas as pd
df = pd.read_csv(sys.argv[1], parse_dates=["time"], storage_options={"Authorization": "Bearer " + sys.argv[2]})
print(json.dumps({"columns": list(df.columns), "rows": len(df), "tz": str(df["time"].dt.tz), "time_dtype": str(df["time"].dtype),
  "value_dtype": str(df["value"].dtype), "first": df.iloc[0]["time"].isoformat(), "codes": sorted(df["code"].astype(str).unique().tolist()),
  "mean_hr": float(df[df["code"] == "8867-4"]["value"].mean())}))`,
      url,
      admin,
    );
    expect(df).toMatchObject({
      columns: ['time', 'code', 'display', 'value', 'unit', 'device'],
      rows: 8,
      tz: 'UTC',
      value_dtype: 'float64',
      first: '2025-11-24T07:00:00+00:00',
      mean_hr: 73,
    });
    expect(df.time_dtype).toMatch(/^datetime64\[ns, UTC\]$/);
    expect(df.codes).toEqual(['29463-7', '59408-5', '8310-5', '8867-4']);
    // Filters, and the CLI writing a file pandas reads.
    const out = path.join(dir, 'export.csv');
    const cli = await runCliCaptured(['export', 'csv', '--patient', patientId, '--from', '2025-11-24T12:00:00Z', '--codes', 'hr,temp', '--out', out]);
    expect(cli.code).toBe(0);
    const filtered = await pandas(
      `import sys, json, pandas as pd
df = pd.read_csv(sys.argv[1], parse_dates=["time"])
print(json.dumps({"rows": len(df), "values": df["value"].tolist(), "codes": df["code"].astype(str).tolist()}))`,
      out,
    );
    expect(filtered).toEqual({ rows: 2, values: [75, 37.277778], codes: ['8867-4', '8310-5'] });
    const bad = await app.api<any>(admin, 'GET', `/api/v1/patients/${patientId}/readings.csv?from=yesterday`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/from must be a date/);
    const typo = await app.api<any>(admin, 'GET', `/api/v1/patients/${patientId}/readings.csv?code=hr,hrr`);
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toMatch(/^unknown code "hrr"/);
  });

  it("lets nobody export or import another patient's readings", async () => {
    const other = (await app.services.patientService.create({ name: 'Other One' }, 'system')).id;
    const patientToken = (await app.tokenFor('patient', { patientId: other })).token;
    expect((await app.api(patientToken, 'GET', `/api/v1/patients/${patientId}/readings.csv`)).status).toBe(404);
    expect((await app.api(patientToken, 'GET', `/api/v1/patients/${other}/readings.csv`)).status).toBe(200);
    expect((await app.api(patientToken, 'POST', '/api/v1/readings/import', { rows: [] })).status).toBe(403);
    const clinician = (await app.tokenFor('clinician')).token;
    const r = await app.api<any>(clinician, 'POST', '/api/v1/readings/import', {
      rows: [{ line: 2, patient: patientId, code: '8867-4', value: 60, unit: '/min', ts: Date.now() }],
    });
    expect(r.body).toMatchObject({ stored: 0, rejections: [{ line: 2, reason: `patient "${patientId}" not found (by id or MRN)` }] });
    expect(
      (await app.api<any>(admin, 'POST', '/api/v1/readings/import', { rows: [{ line: 1, patient: 'x', code: '8867-4', value: 'NaN', unit: '/min', ts: 1 }] }))
        .status,
    ).toBe(400);
  });
});
