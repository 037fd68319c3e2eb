/**
 * FHIR operations, Bundles and interactions on the real server (PGlite), as an independent tester found them:
 * `_summary=count` and `_count=0` on $lastn and $everything, a batch entry's search under the request's own
 * Prefer handling, a transaction whose GET fails, an operation in a batch GET entry, PATCH with a JSON Patch
 * body, and Prefer: return= on writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../test/support/app.ts';
import { fhirCaller } from '../../../test/support/fhir-call.ts';

describe('FHIR operations, Bundles and interactions', () => {
  let app: TestApp;
  let clin: string;
  let a: string;
  let aFhir: string;
  let team: string; // the clinician's practitioner id: their care team's Group
  const call = fhirCaller(() => app.httpUrl);
  const readings = async () => Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings'))[0].n);
  const patients = async () => Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM patients'))[0].n);
  const hr = (value: number, minutesAgo: number) => ({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${aFhir}` },
    effectiveDateTime: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    valueQuantity: { value, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  });

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    team = cl.practitionerId!;
    a = (await s.patientService.create({ name: 'Ada Lovelace', mrn: 'OP-1' }, 'system')).id;
    aFhir = a.replace('_', '-');
    await s.patientService.assignClinician(a, cl.practitionerId!, 'system');
    const dev = (await s.deviceService.provision({ patientId: a, type: 'pulse-oximeter' }, 'system')).id;
    for (let i = 0; i < 4; i++) await s.ingest.acceptTelemetry(dev, JSON.stringify({ ts: Date.now() - i * 1000, seq: i + 1, hr: 60 + i, spo2: 97 }));
  });
  afterAll(async () => app && (await app.stop()));

  it('answers _summary=count and _count=0 on $lastn and $everything with a total and no entries', async () => {
    const full = await call(clin, 'GET', `/fhir/R4/Observation/$lastn?patient=${aFhir}&max=1`);
    expect(full.body.entry.length).toBeGreaterThan(0);
    const n = full.body.entry.filter((e: any) => e.search?.mode === 'match').length;
    for (const headers of [{}, { prefer: 'handling=strict' }] as Array<Record<string, string>>)
      for (const q of ['_summary=count', '_count=0']) {
        const r = await call(clin, 'GET', `/fhir/R4/Observation/$lastn?patient=${aFhir}&max=1&${q}`, undefined, headers);
        expect(r.status, q).toBe(200);
        expect(r.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: n });
        expect(r.body.entry ?? [], q).toEqual([]);
      }
    const all = await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}/$everything`);
    const everything = all.body.entry.length;
    expect(everything).toBeGreaterThan(4);
    for (const headers of [{}, { prefer: 'handling=strict' }] as Array<Record<string, string>>)
      for (const q of ['_summary=count', '_count=0']) {
        const r = await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}/$everything?${q}`, undefined, headers);
        expect(r.status, q).toBe(200);
        expect(r.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: everything });
        expect(r.body.entry ?? [], q).toEqual([]);
      }
  });

  it("runs a batch entry's search under the request's own Prefer handling (lenient by default), and operations in GET entries", async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: `Observation?patient=${aFhir}&foo=bar` } },
        { request: { method: 'GET', url: `Observation/$lastn?patient=${aFhir}` } },
      ],
    };
    const lenient = await call(clin, 'POST', '/fhir/R4', bundle);
    expect(lenient.status).toBe(200);
    expect(lenient.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '200 OK']);
    const search = lenient.body.entry[0].resource;
    expect(search.entry.filter((e: any) => e.search.mode === 'match').length).toBeGreaterThan(0);
    expect(search.entry.find((e: any) => e.search.mode === 'outcome').resource.issue[0].diagnostics).toContain('foo');
    expect(search.link[0].url).not.toContain('foo');
    expect(lenient.body.entry[1].resource).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    expect(lenient.body.entry[1].resource.entry.length).toBeGreaterThan(0);
    const strict = await call(clin, 'POST', '/fhir/R4', bundle, { prefer: 'handling=strict' });
    expect(strict.body.entry.map((e: any) => e.response.status)).toEqual(['400', '200 OK']);
    expect(strict.body.entry[0].response.outcome.issue[0].diagnostics).toContain('Prefer: handling=strict');
  });

  it('fails a whole transaction when a GET entry fails: the error, the entry named, nothing written', async () => {
    const [r0, p0] = [await readings(), await patients()];
    const res = await call(clin, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: hr(88, 5), request: { method: 'POST', url: 'Observation' } },
        { resource: { resourceType: 'Patient', name: [{ text: 'Tom Transaction' }] }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/no-such-patient' } },
      ],
    });
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toContain('entry 2');
    expect([await readings(), await patients()]).toEqual([r0, p0]);
  });

  it('answers PATCH 405 not-supported whatever the content type', async () => {
    for (const type of ['application/json-patch+json', 'application/fhir+json']) {
      const res = await fetch(`${app.httpUrl}/fhir/R4/Patient/${aFhir}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${clin}`, 'content-type': type },
        body: type.includes('patch') ? JSON.stringify([{ op: 'replace', path: '/active', value: false }]) : JSON.stringify({ resourceType: 'Parameters' }),
      });
      expect(res.status, type).toBe(405);
      expect(((await res.json()) as any).issue[0].code).toBe('not-supported');
    }
  });

  it('honours Prefer: return=minimal, return=representation and return=OperationOutcome on create and update', async () => {
    const body = { resourceType: 'Patient', name: [{ text: 'Rita Return' }] };
    const rep = await call(clin, 'POST', '/fhir/R4/Patient', body, { prefer: 'return=representation' });
    expect(rep.status).toBe(201);
    expect(rep.body.resourceType).toBe('Patient');
    const minimal = await call(clin, 'POST', '/fhir/R4/Patient', body, { prefer: 'return=minimal' });
    expect(minimal.status).toBe(201);
    expect(minimal.body).toBeNull();
    expect(minimal.headers.get('location')).toMatch(/\/Patient\/[^/]+\/_history\/1$/);
    const oo = await call(clin, 'POST', '/fhir/R4/Patient', body, { prefer: 'return=OperationOutcome' });
    expect(oo.status).toBe(201);
    expect(oo.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
    expect(oo.body.issue[0].diagnostics).toContain(oo.headers.get('location')!.replace(/^.*\/fhir\/R4\//, ''));
    const updated = await call(
      clin,
      'PUT',
      `/fhir/R4/Patient/${rep.body.id}`,
      { ...rep.body, name: [{ text: 'Rita R.' }] },
      { prefer: 'return=OperationOutcome' },
    );
    expect(updated.status).toBe(200);
    expect(updated.body.resourceType).toBe('OperationOutcome');
    expect(updated.body.issue[0].diagnostics).toMatch(/^updated Patient\/.+\/_history\/2$/);
  });

  it("gives a care team's Group a new versionId, lastUpdated and ETag when its members change", async () => {
    const s = app.services;
    const read = () => call(clin, 'GET', `/fhir/R4/Group/${team.replace('_', '-')}`);
    const before = await read();
    expect(before.status).toBe(200);
    expect(before.headers.get('etag')).toBe(`W/"${before.body.meta.versionId}"`);
    const again = await read();
    expect(again.body.meta).toEqual(before.body.meta); // unchanged: the same version
    await new Promise((r) => setTimeout(r, 5));
    const joined: string[] = [];
    for (const name of ['Jo Joiner', 'Kim Joiner']) {
      const id = (await s.patientService.create({ name }, 'system')).id;
      await s.patientService.assignClinician(id, team, 'system');
      joined.push(id);
    }
    const after = await read();
    expect(after.body.member.length).toBe(before.body.member.length + 2);
    expect(after.body.meta.versionId).not.toBe(before.body.meta.versionId);
    expect(Date.parse(after.body.meta.lastUpdated)).toBeGreaterThan(Date.parse(before.body.meta.lastUpdated));
    expect(after.headers.get('etag')).toBe(`W/"${after.body.meta.versionId}"`);
    // A patient leaving changes it too.
    await s.patientService.removeClinician(joined[0], team, 'system');
    const left = await read();
    expect(left.body.member.length).toBe(before.body.member.length + 1);
    expect(left.body.meta.versionId).not.toBe(after.body.meta.versionId);
    expect(Date.parse(left.body.meta.lastUpdated)).toBeGreaterThanOrEqual(Date.parse(after.body.meta.lastUpdated));
  });
});
