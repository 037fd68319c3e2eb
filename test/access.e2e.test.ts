/**
 * "No route reaches data without the right role" (interfaces.md §4), on the real server: no token → 401 on
 * every /api and /fhir route; a clinician outside the care team, or another patient, gets 404 and never
 * the data; FHIR search is scoped the same way and pages correctly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';

describe('access control and FHIR scoping', () => {
  let app: TestApp;
  let a: string;
  let b: string;
  let admin: string;
  let own: string;
  let other: string;
  let patientA: string;

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    a = (await s.patientService.create({ name: 'Alice Ames', birthDate: '1941-03-02' }, 'system')).id;
    b = (await s.patientService.create({ name: 'Bob Brown', birthDate: '1950-07-14' }, 'system')).id;
    admin = (await app.tokenFor('admin')).token;
    const c1 = await app.tokenFor('clinician');
    own = c1.token;
    other = (await app.tokenFor('clinician')).token;
    patientA = (await app.tokenFor('patient', { patientId: a })).token;
    await s.patientService.assignClinician(a, c1.practitionerId!, 'system');
    const dev = await s.deviceService.provision({ patientId: a, type: 'multi' }, 'system');
    for (let seq = 1; seq <= 5; seq++) {
      const r = await s.ingest.acceptTelemetry(dev.id, JSON.stringify({ ts: Date.now() - (6 - seq) * 60_000, seq, hr: 60 + seq }));
      expect(r.ok).toBe(true);
    }
  });
  afterAll(async () => app && (await app.stop()));

  const routes = () => [
    '/api/v1/me',
    '/api/v1/patients',
    `/api/v1/patients/${a}`,
    `/api/v1/patients/${a}/readings?code=8867-4`,
    `/api/v1/patients/${a}/ecg`,
    `/api/v1/patients/${a}/derived`,
    '/api/v1/devices',
    '/api/v1/admin/rejections',
    '/api/v1/admin/stats',
    '/api/v1/users',
    '/fhir/R4/Patient',
    `/fhir/R4/Patient/${a}`,
    '/fhir/R4/Observation',
    '/fhir/R4/Device',
    '/fhir/R4/Practitioner',
  ];

  it('answers 401 on every /api and /fhir route without a token, and with a forged one', async () => {
    for (const route of routes()) {
      expect((await app.api('', 'GET', route)).status, route).toBe(401);
      expect((await app.api('vgl_forged', 'GET', route)).status, route).toBe(401);
    }
    const fhir = await app.api<{ resourceType: string }>('', 'GET', '/fhir/R4/Patient');
    expect(fhir.body.resourceType).toBe('OperationOutcome');
    // SMART App Launch: the CapabilityStatement is public (clients read it before they have a token).
    expect((await app.api<{ resourceType: string }>('', 'GET', '/fhir/R4/metadata')).body.resourceType).toBe('CapabilityStatement');
  });

  it('shows a clinician only their care team', async () => {
    const mine = await app.api<Array<{ id: string }>>(own, 'GET', '/api/v1/patients');
    expect(mine.body.map((p) => p.id)).toEqual([a]);
    const theirs = await app.api<Array<{ id: string }>>(other, 'GET', '/api/v1/patients');
    expect(theirs.body).toEqual([]);
    for (const route of [
      `/api/v1/patients/${a}`,
      `/api/v1/patients/${a}/readings?code=8867-4`,
      `/api/v1/patients/${a}/ecg`,
      `/api/v1/patients/${a}/derived`,
      `/fhir/R4/Patient/${a}`,
    ]) {
      const res = await app.api<string>(other, 'GET', route);
      expect(res.status, route).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain('Alice');
    }
    const search = await app.api<{ total: number }>(other, 'GET', `/fhir/R4/Observation?patient=${a}&_summary=count`);
    expect(search.body.total).toBe(0);
    const all = await app.api<{ total: number }>(other, 'GET', `/fhir/R4/Observation?_summary=count`);
    expect(all.body.total).toBe(0);
  });

  it('shows a patient only themself and lets them change nothing clinical', async () => {
    expect((await app.api<Array<{ id: string }>>(patientA, 'GET', '/api/v1/patients')).body.map((p) => p.id)).toEqual([a]);
    expect((await app.api(patientA, 'GET', `/api/v1/patients/${b}`)).status).toBe(404);
    expect((await app.api(patientA, 'POST', '/api/v1/devices', { patientId: a, type: 'scale' })).status).toBe(403);
    expect((await app.api(patientA, 'PATCH', `/api/v1/patients/${a}/settings`, { spo2Scale: 2 })).status).toBe(403);
    expect((await app.api(patientA, 'GET', '/api/v1/admin/rejections')).status).toBe(403);
  });

  it('creates a patient with validated clinical settings', async () => {
    const bad = await app.api<{ error: { message: string } }>(admin, 'POST', '/api/v1/patients', { name: 'Cora Copd', settings: { spo2Scale: 3 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/spo2Scale must be 1 or 2/);
    const ok = await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Cora Copd', settings: { spo2Scale: 2 } });
    expect(ok.status).toBe(201);
    const detail = await app.api<{ settings: { spo2Scale: number } }>(admin, 'GET', `/api/v1/patients/${ok.body.id}`);
    expect(detail.body.settings.spo2Scale).toBe(2);
  });

  it('serves FHIR search with exact totals, date prefixes, sorting and paging links', async () => {
    const first = await app.api<{
      total: number;
      entry: Array<{ resource: { valueQuantity: { value: number } } }>;
      link: Array<{ relation: string; url: string }>;
    }>(own, 'GET', `/fhir/R4/Observation?patient=${a}&code=http://loinc.org|8867-4&_sort=-date&_count=2`);
    expect(first.status).toBe(200);
    expect(first.body.total).toBe(5);
    expect(first.body.entry.map((e) => e.resource.valueQuantity.value)).toEqual([65, 64]);
    const next = first.body.link.find((l) => l.relation === 'next')!;
    const page2 = await app.api<{ entry: Array<{ resource: { valueQuantity: { value: number } } }> }>(own, 'GET', next.url.replace(app.httpUrl, ''));
    expect(page2.body.entry.map((e) => e.resource.valueQuantity.value)).toEqual([63, 62]);
    const since = new Date(Date.now() - 150_000).toISOString();
    const recent = await app.api<{ total: number }>(own, 'GET', `/fhir/R4/Observation?patient=${a}&date=ge${encodeURIComponent(since)}&_summary=count`);
    expect(recent.body.total).toBe(2);
    const bad = await app.api<{ resourceType: string; issue: Array<{ diagnostics: string }> }>(own, 'GET', `/fhir/R4/Observation?date=geyesterday`);
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0].diagnostics).toMatch(/not a FHIR date/);
    const meta = await app.api<{ resourceType: string; fhirVersion: string }>(own, 'GET', '/fhir/R4/metadata');
    expect(meta.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
  });
});
