/**
 * FHIR transaction Bundles (R4 http.html#transaction) on the real server, on both engines: all or nothing in
 * one database transaction (an entry that fails only when the database refuses it, last, undoes the others),
 * `urn:uuid:` references between entries rewritten to the assigned ids, conditional references, the order
 * POST → PUT → GET, and what cannot be done in a transaction refused up front.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../test/support/app.ts';
import { createTestDatabase, postgresAvailable } from '../../../test/support/services.ts';
import type { StoredReading } from '../../domain/types.ts';

const FHIR = 'application/fhir+json';
const hasPg = await postgresAvailable();

const engines: Array<[string, boolean]> = [['PGlite', false], ...(hasPg ? [['PostgreSQL', true] as [string, boolean]] : [])];

describe.each(engines)('FHIR transaction Bundles on %s', (_engine, onPostgres) => {
  let app: TestApp;
  let pg: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let clin: string;
  let a: string;
  let aFhir: string;
  const stored: StoredReading[] = [];

  const call = async (token: string, method: string, url: string, body?: unknown) => {
    const res = await fetch(app.httpUrl + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': FHIR } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
  };
  const at = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
  const hr = (subject: string, value: number, when: string) => ({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: subject },
    effectiveDateTime: when,
    valueQuantity: { value, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  });
  const patient = (name: string, mrn?: string) => ({
    resourceType: 'Patient',
    name: [{ text: name }],
    ...(mrn ? { identifier: [{ system: 'urn:vigil:mrn', value: mrn }] } : {}),
  });
  const post = (resource: unknown, url: string, fullUrl?: string, extra: Record<string, unknown> = {}) => ({
    ...(fullUrl ? { fullUrl } : {}),
    resource,
    request: { method: 'POST', url, ...extra },
  });
  const transaction = (entry: unknown[]) => ({ resourceType: 'Bundle', type: 'transaction', entry });
  const count = async (sql: string, params: unknown[] = []) => Number((await app.services.db.query<{ n: string }>(sql, params))[0].n);
  const totals = async () => ({
    patients: await count('SELECT count(*) AS n FROM patients'),
    readings: await count('SELECT count(*) AS n FROM readings'),
    careTeam: await count('SELECT count(*) AS n FROM care_team_members'),
    versions: await count('SELECT count(*) AS n FROM fhir_versions'),
    audit: await count(`SELECT count(*) AS n FROM audit_log WHERE action IN ('patient.create', 'careteam.add', 'fhir.create', 'fhir.update')`),
  });

  beforeAll(async () => {
    if (onPostgres) pg = await createTestDatabase();
    app = await bootApp(pg ? { databaseUrl: pg.url } : {});
    const s = app.services;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    a = (await s.patientService.create({ name: 'Ada Lovelace', mrn: 'TX-1' }, 'system')).id;
    aFhir = a.replace('_', '-');
    await s.patientService.assignClinician(a, cl.practitionerId!, 'system');
    s.events.on('readings.stored', (rows) => stored.push(...rows));
  });
  afterAll(async () => {
    await app?.stop();
    await pg?.drop();
  });

  it('a bundle whose last entry the database refuses leaves nothing behind', async () => {
    const before = await totals();
    const seen = stored.length;
    // Every entry passes its checks; the last one's MRN is taken, which only the database's unique index
    // finds, inside the transaction, after the first three were written: all three must be undone.
    const r = await call(
      clin,
      'POST',
      '/fhir/R4',
      transaction([
        post(patient('Grace Hopper', 'TX-2'), 'Patient', 'urn:uuid:7f0c6a34-0d6e-4d3b-9c55-1b2a3c4d5e6f'),
        post(hr('urn:uuid:7f0c6a34-0d6e-4d3b-9c55-1b2a3c4d5e6f', 72, at(5)), 'Observation'),
        post(hr(`Patient/${aFhir}`, 73, at(4)), 'Observation'),
        post(patient('Duplicate Ada', 'TX-1'), 'Patient'),
      ]),
    );
    expect(r.status).toBe(409);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(r.body.issue[0].diagnostics).toMatch(/nothing was written: entry 3 .*MRN/);
    expect(await totals()).toEqual(before);
    expect(await count(`SELECT count(*) AS n FROM patients WHERE name = 'Grace Hopper'`)).toBe(0);
    expect(stored.length).toBe(seen); // no readings.stored for rows that were rolled back: alerts never saw them
  });

  it('links a Patient and its Observations by urn:uuid, in one transaction', async () => {
    const before = await totals();
    const urn = 'urn:uuid:0b3f1d0e-5a5c-4c1e-8e0f-2d6b7c8a9e10';
    const r = await call(
      clin,
      'POST',
      '/fhir/R4',
      transaction([
        // The Observations come first in the Bundle: the Patient is still written before them (its key).
        post(hr(urn, 88, at(3)), 'Observation', 'urn:uuid:aa0d5a8e-1c1e-4b0e-9f2a-3b4c5d6e7f80'),
        post({ ...hr(urn, 91, at(2)), device: undefined }, 'Observation'),
        post(patient('Katherine Johnson', 'TX-3'), 'Patient', urn),
        { request: { method: 'GET', url: `Observation?patient=${aFhir}&_count=1` } },
      ]),
    );
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('transaction-response');
    expect(r.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created', '201 Created', '200 OK']);
    const created = r.body.entry[2].resource;
    expect(created.resourceType).toBe('Patient');
    expect(created.id).toMatch(/^pat-[a-z0-9]+$/);
    expect(r.body.entry[2].response.location).toBe(`Patient/${created.id}/_history/1`);
    // The references were rewritten to the id the Patient got.
    for (const e of r.body.entry.slice(0, 2)) expect(e.resource.subject.reference).toBe(`Patient/${created.id}`);
    // Everything is there: the patient on the clinician's care team (they created it), two readings, audit.
    const search = await call(clin, 'GET', `/fhir/R4/Observation?patient=${created.id}&_sort=date`);
    expect(search.body.entry.map((e: any) => e.resource.valueQuantity.value)).toEqual([88, 91]);
    const after = await totals();
    expect(after.patients).toBe(before.patients + 1);
    expect(after.readings).toBe(before.readings + 2);
    expect(after.careTeam).toBe(before.careTeam + 1);
    expect(after.audit).toBe(before.audit + 4); // patient.create, careteam.add, two fhir.create
    // Alerts see the readings once committed (readings.stored, after COMMIT).
    await expect.poll(() => stored.filter((s) => s.patientId === created.id.replace('-', '_')).length).toBe(2);
    // Stored version copies (provenance) follow the commit: vread of version 1 works.
    expect((await call(clin, 'GET', `/fhir/R4/Patient/${created.id}/_history/1`)).status).toBe(200);
  });

  it('keeps a systolic and a diastolic posted as two Observations two, each readable (one statement each, not one panel)', async () => {
    const vital = (code: string, value: number, when: string) => ({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code }] },
      subject: { reference: `Patient/${aFhir}` },
      effectiveDateTime: when,
      valueQuantity: { value, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
    });
    const when = at(7);
    const r = await call(
      clin,
      'POST',
      '/fhir/R4',
      transaction([post(vital('8480-6', 121, when), 'Observation'), post(vital('8462-4', 79, when), 'Observation')]),
    );
    expect(r.status).toBe(200); // it was a 500 after the commit: the two became one panel and the answer looked for them alone
    const ids = r.body.entry.map((e: any) => e.resource.id);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect((await call(clin, 'GET', `/fhir/R4/Observation/${id}`)).status).toBe(200);
  });

  it('resolves conditional references and refuses what a transaction cannot do, naming the entry', async () => {
    const before = await totals();
    const ok = await call(clin, 'POST', '/fhir/R4', transaction([post(hr('Patient?identifier=urn:vigil:mrn|TX-1', 77, at(1)), 'Observation')]));
    expect(ok.status).toBe(200);
    expect(ok.body.entry[0].resource.subject.reference).toBe(`Patient/${aFhir}`);
    expect((await totals()).readings).toBe(before.readings + 1);
    const refused: Array<[unknown[], number, RegExp]> = [
      // A conditional reference that matches nothing (or a patient the caller cannot see: the same answer).
      [[post(hr('Patient?identifier=urn:vigil:mrn|NOBODY', 70, at(1)), 'Observation')], 412, /entry 0 .*matches no Patient/],
      // A urn:uuid no entry declares.
      [[post(hr('urn:uuid:00000000-0000-4000-8000-000000000000', 70, at(1)), 'Observation')], 400, /entry 0 .*names no entry/],
      // A reference to an Observation entry: its id is the database's, not known ahead.
      [
        [
          post(hr(`Patient/${aFhir}`, 70, at(1)), 'Observation', 'urn:uuid:11111111-1111-4111-8111-111111111111'),
          post({ ...hr(`Patient/${aFhir}`, 71, at(1)), derivedFrom: [{ reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' }] }, 'Observation'),
        ],
        400,
        /entry 1 .*database assigns/,
      ],
      // Two entries with one fullUrl.
      [
        [
          post(patient('X'), 'Patient', 'urn:uuid:22222222-2222-4222-8222-222222222222'),
          post(patient('Y'), 'Patient', 'urn:uuid:22222222-2222-4222-8222-222222222222'),
        ],
        400,
        /entry 1 .*two entries/,
      ],
      // A GET of a type the server does not have fails the whole transaction before anything is written.
      [[post(hr(`Patient/${aFhir}`, 70, at(1)), 'Observation'), { request: { method: 'GET', url: 'Medication/1' } }], 404, /entry 1/],
    ];
    for (const [entry, status, message] of refused) {
      const r = await call(clin, 'POST', '/fhir/R4', transaction(entry));
      expect(r.status, JSON.stringify(entry)).toBe(status);
      expect(r.body.issue[0].diagnostics).toMatch(message);
    }
    expect((await totals()).readings).toBe(before.readings + 1);
    expect((await totals()).patients).toBe(before.patients);
  });

  it('updates with If-Match inside the transaction: a stale version undoes the creates', async () => {
    const current = (await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}`)).body;
    const before = await totals();
    const put = (ifMatch: string, name: string) => ({
      resource: { ...current, name: [{ text: name }] },
      request: { method: 'PUT', url: `Patient/${aFhir}`, ifMatch },
    });
    const stale = await call(clin, 'POST', '/fhir/R4', transaction([post(hr(`Patient/${aFhir}`, 66, at(1)), 'Observation'), put('W/"999"', 'Ada King')]));
    expect(stale.status).toBe(412);
    expect(await totals()).toEqual(before);
    const fresh = await call(
      clin,
      'POST',
      '/fhir/R4',
      transaction([put(`W/"${current.meta.versionId}"`, 'Ada King'), post(hr(`Patient/${aFhir}`, 66, at(1)), 'Observation')]),
    );
    expect(fresh.status).toBe(200);
    expect(fresh.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '201 Created']);
    expect(fresh.body.entry[0].resource.name[0].text).toBe('Ada King');
    expect(fresh.body.entry[0].response.etag).toBe(`W/"${Number(current.meta.versionId) + 1}"`);
  });
});
