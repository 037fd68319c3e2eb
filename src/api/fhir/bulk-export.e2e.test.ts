/**
 * Bulk Data $export (system and Patient level) on the real server: kick-off with Prefer: respond-async,
 * polling the status URL, NDJSON files whose contents equal what search returns, and only for the user
 * who asked.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../test/support/app.ts';
import { runCliCaptured } from '../../cli/run-captured.ts';
import { writeServerFile } from '../../cli/runtime.ts';

describe('FHIR Bulk Data $export', () => {
  let app: TestApp;
  let admin: string;
  let clin: string;
  let mine: string;
  let other: string;
  let team: string; // the clinician's care team as a Group id (their Practitioner id)
  const req = (token: string, url: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(url.startsWith('http') ? url : app.httpUrl + url, { method, headers: { authorization: `Bearer ${token}`, ...headers } });

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    admin = (await app.tokenFor('admin')).token;
    const c = await app.tokenFor('clinician');
    clin = c.token;
    mine = (await s.patientService.create({ name: 'Mia Mine' }, 'system')).id;
    other = (await s.patientService.create({ name: 'Otto Other' }, 'system')).id;
    await s.patientService.assignClinician(mine, c.practitionerId!, 'system');
    team = c.practitionerId!.replace('_', '-');
    for (const [p, n] of [
      [mine, 5],
      [other, 3],
    ] as const) {
      const dev = (await s.deviceService.provision({ patientId: p, type: 'pulse-oximeter' }, 'system')).id;
      for (let i = 0; i < n; i++) await s.ingest.acceptTelemetry(dev, JSON.stringify({ ts: Date.now() - i * 1000, seq: i + 1, hr: 60 + i }));
    }
  });
  afterAll(async () => app && (await app.stop()));

  async function complete(token: string, statusUrl: string) {
    for (let i = 0; i < 200; i++) {
      const res = await req(token, statusUrl);
      if (res.status === 200) return (await res.json()) as { output: Array<{ type: string; url: string; count: number }>; requiresAccessToken: boolean };
      expect(res.status).toBe(202);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('export did not finish');
  }
  const ndjson = async (token: string, url: string) =>
    (await (await req(token, url)).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));

  it('exports the whole system for an admin as NDJSON per type', async () => {
    const kick = await req(admin, '/fhir/R4/$export', { prefer: 'respond-async' });
    expect(kick.status).toBe(202);
    const manifest = await complete(admin, kick.headers.get('content-location')!);
    expect(manifest.requiresAccessToken).toBe(true);
    const byType = Object.fromEntries(manifest.output.map((o) => [o.type, o]));
    expect(byType.Observation.count).toBe(8);
    const obs = await ndjson(admin, byType.Observation.url);
    expect(obs).toHaveLength(8);
    expect(obs.every((o) => o.resourceType === 'Observation' && o.meta.versionId === '1')).toBe(true);
    expect((await ndjson(admin, byType.Patient.url)).map((p) => p.name[0].text).sort()).toEqual(['Mia Mine', 'Otto Other']);
    // Each download is audited once per patient it carried, so each patient's own log shows it (found by review:
    // only the route was recorded, under no patient).
    const exportId = kick.headers.get('content-location')!.split('/').pop();
    const disclosed = async () =>
      app.services.db.query<{ entity_type: string; patient_id: string; details: string }>(
        "SELECT entity_type, patient_id, details::text AS details FROM audit_log WHERE action = 'fhir.export' ORDER BY entity_type, patient_id",
      );
    for (let i = 0; i < 50 && (await disclosed()).length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    const rows = await disclosed();
    expect(rows.map((r) => [r.entity_type, r.patient_id, JSON.parse(r.details).count])).toEqual(
      [
        ['Observation', mine, 5],
        ['Observation', other, 3],
        ['Patient', mine, 1],
        ['Patient', other, 1],
      ].sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`)),
    );
    expect(rows.every((r) => JSON.parse(r.details).export === exportId)).toBe(true);
    // Another user cannot read the job or its files.
    expect((await req(clin, kick.headers.get('content-location')!)).status).toBe(404);
    expect((await req(clin, byType.Observation.url)).status).toBe(404);
    expect((await req(admin, kick.headers.get('content-location')!, {}, 'DELETE')).status).toBe(202);
    expect((await req(admin, byType.Observation.url)).status).toBe(404);
  });

  it("exports a clinician's own patients at Patient level, filtered by _type and _since", async () => {
    expect((await req(clin, '/fhir/R4/$export', { prefer: 'respond-async' })).status).toBe(403);
    expect((await req(clin, '/fhir/R4/Patient/$export')).status).toBe(400);
    const kick = await req(clin, '/fhir/R4/Patient/$export?_type=Observation', { prefer: 'respond-async' });
    expect(kick.status).toBe(202);
    const manifest = await complete(clin, kick.headers.get('content-location')!);
    expect(manifest.output.map((o) => o.type)).toEqual(['Observation']);
    const obs = await ndjson(clin, manifest.output[0].url);
    expect(obs.map((o) => o.valueQuantity.value).sort()).toEqual([60, 61, 62, 63, 64]);
    const later = await req(clin, `/fhir/R4/Patient/$export?_since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, {
      prefer: 'respond-async',
    });
    expect((await complete(clin, later.headers.get('content-location')!)).output).toEqual([]);
    expect((await req(clin, '/fhir/R4/Patient/$export?_type=Practitioner', { prefer: 'respond-async' })).status).toBe(400);
    expect((await req(clin, '/fhir/R4/Patient/$export?_elements=id', { prefer: 'respond-async' })).status).toBe(400);
  });

  it("exports a care team as a Group: its patients the caller may see, and nobody else's team", async () => {
    const group = (await (await req(clin, `/fhir/R4/Group/${team}`)).json()) as any;
    expect(group).toMatchObject({
      resourceType: 'Group',
      type: 'person',
      actual: true,
      quantity: 1,
      member: [{ entity: { reference: `Patient/${mine.replace('_', '-')}` } }],
    });
    const groups = (await (await req(clin, '/fhir/R4/Group')).json()) as any;
    expect(groups.entry.map((e: any) => e.resource.id)).toEqual([team]);
    const kick = await req(clin, `/fhir/R4/Group/${team}/$export`, { prefer: 'respond-async' });
    expect(kick.status).toBe(202);
    const manifest = await complete(clin, kick.headers.get('content-location')!);
    const byType = Object.fromEntries(manifest.output.map((o) => [o.type, o]));
    expect(Object.keys(byType).sort()).toEqual(['Device', 'Observation', 'Patient']);
    expect((await ndjson(clin, byType.Patient.url)).map((p) => p.name[0].text)).toEqual(['Mia Mine']);
    expect((await ndjson(clin, byType.Observation.url)).map((o) => o.valueQuantity.value).sort()).toEqual([60, 61, 62, 63, 64]);
    // Another clinician: the group does not exist for them (404), nor may they export it.
    const stranger = (await app.tokenFor('clinician')).token;
    expect((await req(stranger, `/fhir/R4/Group/${team}`)).status).toBe(404);
    expect((await req(stranger, `/fhir/R4/Group/${team}/$export`, { prefer: 'respond-async' })).status).toBe(404);
    expect((await req(admin, `/fhir/R4/Group/${team}/$export?_type=Practitioner`, { prefer: 'respond-async' })).status).toBe(400);
  });

  it('round-trips: what $export wrote, `vigil import fhir` reads back (once), refusing what Vigil computes', async () => {
    const s = app.services;
    const dev = (await s.deviceService.provision({ patientId: mine, type: 'multi' }, 'system')).id;
    await s.ingest.acceptTelemetry(dev, JSON.stringify({ seq: 1, sbp: 118, dbp: 76, temp: 37.2 }));
    await s.ingest.acceptEcg(dev, JSON.stringify({ seq: 2, fs: 250, lead: 'II', unit: 'uV', samples: [0, 1, 2, 3] }));
    const kick = await req(admin, `/fhir/R4/Patient/$export?_type=Observation`, { prefer: 'respond-async' });
    const manifest = await complete(admin, kick.headers.get('content-location')!);
    const text = await (await req(admin, manifest.output[0].url)).text();
    // Into a new patient: point every line's subject at them.
    const target = (await s.patientService.create({ name: 'Tara Target' }, 'system')).id;
    const lines = text
      .trim()
      .split('\n')
      .filter((l) => JSON.parse(l).subject.reference === `Patient/${mine.replace('_', '-')}`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-ndjson-'));
    const file = path.join(dir, 'Observation.ndjson');
    await writeFile(
      file,
      lines
        .map((l) => {
          const o = JSON.parse(l);
          o.subject.reference = `Patient/${target.replace('_', '-')}`;
          delete o.device;
          return JSON.stringify(o);
        })
        .join('\n') + '\nnot json\n',
    );
    const env = { ...process.env };
    await writeServerFile(app.dataDir, { pid: process.pid, url: app.httpUrl, token: admin });
    process.env.VIGIL_DATA_DIR = app.dataDir;
    try {
      const first = JSON.parse((await runCliCaptured(['import', 'fhir', file, '--json'])).out);
      // 5 heart rates + systolic + diastolic (one panel) + temperature; the ECG chunk and the bad line refused.
      expect(first).toMatchObject({ via: 'server', stored: 8, duplicates: 0, rejected: 2 });
      const rejected = await readFile(first.rejectsFile, 'utf8');
      expect(rejected).toMatch(/ECG is computed by Vigil \(or a waveform\), not imported/);
      expect(rejected).toMatch(/not valid JSON/);
      const again = JSON.parse((await runCliCaptured(['import', 'fhir', file, '--json'])).out);
      expect(again).toMatchObject({ stored: 0, duplicates: 8 });
      const back = (await (await req(admin, `/fhir/R4/Observation?patient=${target}&code=85354-9`)).json()) as any;
      expect(back.entry[0].resource.component.map((c: any) => c.valueQuantity.value)).toEqual([118, 76]);
    } finally {
      process.env = env;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves out what was stored after transactionTime (Bulk Data IG: an incremental _since=transactionTime sends it)', async () => {
    const s = app.services;
    const late = (await s.patientService.create({ name: 'Lena Late' }, 'system')).id;
    const dev = (await s.deviceService.provision({ patientId: late, type: 'pulse-oximeter' }, 'system')).id;
    for (let i = 0; i < 3; i++) await s.ingest.acceptTelemetry(dev, JSON.stringify({ ts: Date.now() - i * 1000, seq: i + 1, hr: 90 + i }));
    // Two readings arrive while the export runs: stored (received) after the kick-off's transactionTime.
    await s.db.query(
      `UPDATE readings SET received_at = received_at + interval '1 hour' WHERE patient_id = $1 AND id IN (SELECT id FROM readings WHERE patient_id = $1 ORDER BY id LIMIT 2)`,
      [late],
    );
    const kick = await req(admin, `/fhir/R4/$export?_type=Observation`, { prefer: 'respond-async' });
    const manifest = (await complete(admin, kick.headers.get('content-location')!)) as unknown as {
      transactionTime: string;
      output: Array<{ url: string }>;
    };
    const obs = await ndjson(admin, manifest.output[0].url);
    const lates = obs.filter((o) => o.subject.reference === `Patient/${late.replace('_', '-')}`);
    expect(lates.map((o) => o.valueQuantity.value)).toHaveLength(1);
    expect(obs.every((o) => Date.parse(o.meta.lastUpdated) <= Date.parse(manifest.transactionTime))).toBe(true);
  });
});
