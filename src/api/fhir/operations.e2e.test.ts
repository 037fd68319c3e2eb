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
  const call = fhirCaller(() => app.httpUrl);

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
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
});
