/**
 * What an independent re-check of the FHIR API found (issue 10), each case failing on the code before its
 * fix: answers that were silently wrong (a blood-pressure panel missing from an `_id` list, an impossible
 * date read as another day, a time without a zone read in the server's zone) and POST `_search`, which
 * R4 requires beside GET; a duplicate MRN's refusal that named a patient the caller may not see. Real server
 * (PGlite), real ingest path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../test/support/app.ts';

type Bundle = { total?: number; link: Array<{ relation: string; url: string }>; entry?: Array<{ resource: any; search: { mode: string } }> };

describe('FHIR API under attack', () => {
  let app: TestApp;
  let clin: string;
  let a: string; // on the clinician's care team
  let b: string; // not
  const t0 = Date.parse('2026-11-20T10:00:00Z');

  const call = async <T = any>(method: string, url: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(app.httpUrl + url, { method, headers: { authorization: `Bearer ${clin}`, ...headers }, body });
    return { status: res.status, body: (await res.json()) as T };
  };
  const ids = (bundle: Bundle) => (bundle.entry ?? []).filter((e) => e.search.mode === 'match').map((e) => e.resource.id as string);
  const fhirId = (id: string) => id.replace('_', '-');

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    a = (await s.patientService.create({ name: 'Alice Ames' }, 'system')).id;
    b = (await s.patientService.create({ name: 'Bob Brown' }, 'system')).id;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    await s.patientService.assignClinician(a, cl.practitionerId!, 'system');
    const oxi = (await s.deviceService.provision({ patientId: a, type: 'pulse-oximeter' }, 'system')).id;
    const cuff = (await s.deviceService.provision({ patientId: a, type: 'bp-cuff' }, 'system')).id;
    const bDev = (await s.deviceService.provision({ patientId: b, type: 'pulse-oximeter' }, 'system')).id;
    for (let i = 0; i < 3; i++) expect((await s.ingest.acceptTelemetry(oxi, JSON.stringify({ ts: t0 + i * 3600_000, seq: i + 1, hr: 60 + i }))).ok).toBe(true);
    expect((await s.ingest.acceptTelemetry(cuff, JSON.stringify({ ts: t0, seq: 1, sbp: 120, dbp: 80 }))).ok).toBe(true);
    expect((await s.ingest.acceptTelemetry(bDev, JSON.stringify({ ts: t0, seq: 1, hr: 99 }))).ok).toBe(true);
  });
  afterAll(async () => app && (await app.stop()));

  it('_id lists that mix readings and blood-pressure panels find both', async () => {
    const all = (await call<Bundle>('GET', `/fhir/R4/Observation?patient=${fhirId(a)}`)).body;
    const panel = ids(all).find((id) => id.startsWith('bp-'))!;
    const reading = ids(all).find((id) => /^\d+$/.test(id))!;
    expect(panel).toBeDefined();
    const both = (await call<Bundle>('GET', `/fhir/R4/Observation?_id=${reading},${panel}`)).body;
    expect(ids(both).sort()).toEqual([reading, panel].sort()); // before: the reading only
    expect(both.total).toBe(2);
    const count = (await call<Bundle>('GET', `/fhir/R4/Observation?_id=${reading},${panel}&_summary=count`)).body;
    expect(count.total).toBe(2);
  });

  it('refuses a date that is not on the calendar instead of reading it as another day', async () => {
    for (const q of ['date=2026-02-30', 'date=ge2026-02-29T10:00:00Z', 'date=2026-11-31', '_lastUpdated=2026-04-31', 'date=2026-11-20T24:00:00Z']) {
      const r = await call('GET', `/fhir/R4/Observation?patient=${fhirId(a)}&${q}`);
      expect(r.status, q).toBe(400); // before: 200, searching March 2, December 1 or the next day
      expect(r.body.issue[0].diagnostics).toMatch(/is not a FHIR date or dateTime/);
    }
    expect((await call('GET', `/fhir/R4/Observation?patient=${fhirId(a)}&date=2028-02-29`)).status).toBe(200); // a leap day is a day
    expect((await call('GET', `/fhir/R4/Patient?birthdate=1950-02-30`)).status).toBe(400);
    // Bulk Data's _since too, at the kick-off (before: accepted, the job exporting from March 2).
    const bulk = await call('GET', `/fhir/R4/Patient/$export?_since=2026-02-30T00:00:00Z`, undefined, { prefer: 'respond-async' });
    expect(bulk.status).toBe(400);
    expect(bulk.body.issue[0].diagnostics).toMatch(/_since must be an instant/);
  });

  it("refuses an Observation whose time has no zone (it was read in the server's zone) or is not on the calendar", async () => {
    const hr = (effectiveDateTime: string) =>
      JSON.stringify({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${fhirId(a)}` },
        effectiveDateTime,
        valueQuantity: { value: 70, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      });
    const before = Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings'))[0].n);
    for (const when of ['2026-11-20T09:00:00', '2026-11-20T09:00', '2026-02-30T09:00:00Z', '2026-11-20T24:00:00Z', '2026-11-20 09:00:00Z']) {
      const r = await call('POST', '/fhir/R4/Observation', hr(when), { 'content-type': 'application/fhir+json' });
      expect(r.status, when).toBe(422); // before: 201 for the first, third and fourth
      expect(r.body.issue[0].diagnostics).toContain('effectiveDateTime must be a date-time with a time zone');
    }
    expect(Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings'))[0].n)).toBe(before);
    const ok = await call('POST', '/fhir/R4/Observation', hr('2026-11-20T09:00:00.5+05:30'), { 'content-type': 'application/fhir+json' });
    expect(ok.status).toBe(201);
    expect(ok.body.effectiveDateTime).toBe('2026-11-20T03:30:00.500Z');
  });

  it('a search inside a batch, and If-None-Exist, keep every repeat of a parameter (each is one more condition)', async () => {
    const window = `patient=${fhirId(a)}&code=8867-4&date=ge2026-11-20T10:30:00Z&date=lt2026-11-20T13:00:00Z`;
    const batch = await call(
      'POST',
      '/fhir/R4',
      JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Observation?${window}` } }] }),
      { 'content-type': 'application/fhir+json' },
    );
    expect(batch.status).toBe(200);
    const found = batch.body.entry[0].resource as Bundle;
    expect(found.entry!.map((e) => e.resource.valueQuantity.value)).toEqual([61, 62]); // before: 60 too (only the last date held)
    expect(found.total).toBe((await call<Bundle>('GET', `/fhir/R4/Observation?${window}`)).body.total);
    // A conditional create whose criteria repeat a parameter: both must hold, so nothing matches and it creates.
    const hr = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${fhirId(a)}` },
      effectiveDateTime: '2026-11-20T08:00:00Z',
      valueQuantity: { value: 58, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const created = await call('POST', '/fhir/R4/Observation', JSON.stringify(hr), {
      'content-type': 'application/fhir+json',
      'if-none-exist': `patient=${fhirId(a)}&code=8867-4&date=lt2026-11-20T10:30:00Z&date=ge2026-11-20T11:30:00Z`,
    });
    expect(created.status).toBe(201); // before: 200 with the 12:00 reading, as if only date=ge… had been asked
    // The base with a trailing slash takes Bundles too (before: 400 about a missing resource type).
    const slash = await call(
      'POST',
      '/fhir/R4/',
      JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Observation?${window}` } }] }),
      {
        'content-type': 'application/fhir+json',
      },
    );
    expect(slash.status).toBe(200);
    expect(slash.body.entry[0].resource.total).toBe(found.total);
    // A batch entry the server does not take in a Bundle (a vread URL, a DELETE) answers for itself; the other
    // entries still run (before: the whole batch was a 400). A transaction is still refused whole.
    const mixedBatch = (type: string) =>
      call(
        'POST',
        '/fhir/R4',
        JSON.stringify({
          resourceType: 'Bundle',
          type,
          entry: [
            { request: { method: 'GET', url: `Observation?${window}` } },
            { request: { method: 'GET', url: `Patient/${fhirId(a)}/_history/1` } },
            { request: { method: 'DELETE', url: `Patient/${fhirId(a)}` } },
            { request: { method: 'GET', url: `Patient/${fhirId(a)}` } },
          ],
        }),
        { 'content-type': 'application/fhir+json' },
      );
    const perEntry = await mixedBatch('batch');
    expect(perEntry.status).toBe(200);
    expect(perEntry.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['200 OK', '400', '400', '200 OK']);
    expect(perEntry.body.entry[0].resource.total).toBe(found.total);
    expect(perEntry.body.entry[1].response.outcome.issue[0].diagnostics).toMatch(/entry 1: request.url must be/);
    expect(perEntry.body.entry[3].resource.id).toBe(fhirId(a));
    expect((await mixedBatch('transaction')).status).toBe(400);
    // A Bundle whose entry is not a list is malformed, not empty (before: 200 with an empty batch-response).
    const odd = await call('POST', '/fhir/R4', JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: { request: {} } }), {
      'content-type': 'application/fhir+json',
    });
    expect(odd.status).toBe(400);
    expect(odd.body.issue[0].diagnostics).toContain('Bundle.entry must be an array');
  });

  it('searches by POST [type]/_search with form-encoded parameters, exactly as GET', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = new URLSearchParams([
      ['patient', fhirId(a)],
      ['code', 'http://loinc.org|8867-4'],
      ['date', 'ge2026-11-20T10:30:00Z'],
      ['date', 'lt2026-11-20T13:00:00Z'],
    ]).toString();
    const viaPost = await call<Bundle>('POST', '/fhir/R4/Observation/_search', body, form);
    expect(viaPost.status).toBe(200); // before: 405
    const viaGet = await call<Bundle>('GET', `/fhir/R4/Observation?${body}`);
    expect(ids(viaPost.body)).toEqual(ids(viaGet.body));
    expect(viaPost.body.entry!.map((e) => e.resource.valueQuantity.value)).toEqual([61, 62]); // both date conditions held
    // Parameters in the URL count too; the self link is the canonical GET.
    const mixed = await call<Bundle>('POST', `/fhir/R4/Observation/_search?_count=1`, `patient=${fhirId(a)}&code=8867-4`, form);
    expect(mixed.body.entry).toHaveLength(1);
    expect(mixed.body.total).toBe((await call<Bundle>('GET', `/fhir/R4/Observation?patient=${fhirId(a)}&code=8867-4&_summary=count`)).body.total);
    expect(mixed.body.total).toBeGreaterThanOrEqual(3);
    expect(mixed.body.link[0].url).toMatch(/\/fhir\/R4\/Observation\?.*_count=1/);
    // Scope, strictness and refusals as GET.
    expect(ids((await call<Bundle>('POST', '/fhir/R4/Observation/_search', `patient=${fhirId(b)}`, form)).body)).toEqual([]);
    const strict = await call('POST', '/fhir/R4/Observation/_search', `patient=${fhirId(a)}&bogus=1`, { ...form, prefer: 'handling=strict' });
    expect(strict.status).toBe(400);
    expect((await call('POST', '/fhir/R4/Observation/_search', JSON.stringify({ patient: fhirId(a) }), { 'content-type': 'application/json' })).status).toBe(
      400,
    );
    expect((await call('POST', '/fhir/R4/Nonsense/_search', `x=1`, form)).status).toBe(404);
    // An empty body is a search with the URL's parameters.
    const counted = (await call<Bundle>('POST', `/fhir/R4/Observation/_search?patient=${fhirId(a)}&_summary=count`)).body.total;
    expect(counted).toBe((await call<Bundle>('GET', `/fhir/R4/Observation?patient=${fhirId(a)}&_summary=count`)).body.total);
    expect(counted).toBeGreaterThanOrEqual(4);
  });

  it('names the patient holding an MRN only to a caller who may see them; anyone else learns only that the value cannot be used', async () => {
    const s = app.services;
    await s.db.query('UPDATE patients SET mrn = $2 WHERE id = $1', [a, 'MRN-A']);
    await s.db.query('UPDATE patients SET mrn = $2 WHERE id = $1', [b, 'MRN-B']); // Bob is not on the clinician's team
    const admin = (await app.tokenFor('admin')).token;
    const patient = (mrn: string, id?: string) =>
      JSON.stringify({ resourceType: 'Patient', ...(id ? { id } : {}), name: [{ text: 'New Person' }], identifier: [{ system: 'urn:vigil:mrn', value: mrn }] });
    const json = { 'content-type': 'application/fhir+json' };
    const leaks = (text: string) => [b, fhirId(b), 'Bob', 'already has', 'another patient'].filter((x) => text.includes(x));
    // Before: 409 "another patient already has this MRN" to anyone, which says Bob's record exists.
    const hidden = await call('POST', '/fhir/R4/Patient', patient('MRN-B'), json);
    expect(hidden.status).toBe(409);
    expect(hidden.body.issue[0].diagnostics).toBe(
      'identifier urn:vigil:mrn: this MRN cannot be used for this patient; check the value, or ask an administrator',
    );
    expect(leaks(JSON.stringify(hidden.body))).toEqual([]);
    // Changing a visible patient's MRN to Bob's: the same refusal, and nothing changed.
    const put = await call('PUT', `/fhir/R4/Patient/${fhirId(a)}`, patient('MRN-B', fhirId(a)), json);
    expect(put.status).toBe(409);
    expect(leaks(JSON.stringify(put.body))).toEqual([]);
    expect((await s.db.query<{ mrn: string }>('SELECT mrn FROM patients WHERE id = $1', [a]))[0].mrn).toBe('MRN-A');
    // In a transaction Bundle too (checked before anything is written), and when two entries race for one new MRN.
    for (const entries of [[patient('MRN-B')], [patient('MRN-NEW'), patient('MRN-NEW')]]) {
      const bundle = JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: entries.map((e, i) => ({
          fullUrl: `urn:uuid:00000000-0000-4000-8000-00000000000${i}`,
          resource: JSON.parse(e),
          request: { method: 'POST', url: 'Patient' },
        })),
      });
      const r = await call('POST', '/fhir/R4', bundle, json);
      expect(r.status).toBe(409);
      expect(JSON.stringify(r.body)).toContain('this MRN cannot be used');
      expect(leaks(JSON.stringify(r.body))).toEqual([]);
    }
    expect((await s.db.query('SELECT id FROM patients WHERE mrn = $1', ['MRN-NEW'])).length).toBe(0);
    // Whoever may see the holder is told who it is: the clinician for their own patient, an admin for anyone.
    const own = await call('POST', '/fhir/R4/Patient', patient('MRN-A'), json);
    expect(own.status).toBe(409);
    expect(own.body.issue[0].diagnostics).toBe(`identifier urn:vigil:mrn: Patient/${fhirId(a)} already has MRN "MRN-A"`);
    const res = await fetch(`${app.httpUrl}/fhir/R4/Patient`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, ...json },
      body: patient('MRN-B'),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).issue[0].diagnostics).toBe(`identifier urn:vigil:mrn: Patient/${fhirId(b)} already has MRN "MRN-B"`);
  });
});
