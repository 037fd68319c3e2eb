/**
 * FHIR writes on the real server (PGlite, the real ingest path): create, conditional create, update with
 * If-Match (412 on a stale version), stored versions (vread, _history), batch and transaction Bundles,
 * and the attacks: another patient's id, a patient's own token, a device of someone else, a malformed body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../test/support/app.ts';
import type { StoredReading } from '../../domain/types.ts';
import { fhirCaller } from '../../../test/support/fhir-call.ts';

describe('FHIR R4 writes and history', () => {
  let app: TestApp;
  let clin: string;
  let other: string;
  let admin: string;
  let patientToken: string;
  let a: string; // internal id of a patient on clin's care team
  let aFhir: string;
  let stranger: string;
  let oxi: string;
  let strangersDevice: string;
  const stored: StoredReading[] = [];

  const call = fhirCaller(() => app.httpUrl);
  const hr = (patient: string, value: number, at: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: at,
    valueQuantity: { value, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
    ...extra,
  });
  const readingsOf = async (patientId: string) =>
    Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings WHERE patient_id = $1', [patientId]))[0].n);

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    other = (await app.tokenFor('clinician')).token;
    admin = (await app.tokenFor('admin')).token;
    a = (await s.patientService.create({ name: 'Ada Lovelace', birthDate: '1940-12-10', sex: 'female', mrn: 'W-1' }, 'system')).id;
    aFhir = a.replace('_', '-');
    stranger = (await s.patientService.create({ name: 'Sam Stranger' }, 'system')).id;
    await s.patientService.assignClinician(a, cl.practitionerId!, 'system');
    patientToken = (await app.tokenFor('patient', { patientId: a })).token;
    oxi = (await s.deviceService.provision({ patientId: a, type: 'pulse-oximeter' }, 'system')).id;
    strangersDevice = (await s.deviceService.provision({ patientId: stranger, type: 'pulse-oximeter' }, 'system')).id;
    s.events.on('readings.stored', (rows) => stored.push(...rows));
  });
  afterAll(async () => app && (await app.stop()));

  it('creates a patient (201, Location, ETag), conditionally once, and lets only staff do it', async () => {
    const body = {
      resourceType: 'Patient',
      name: [{ given: ['Grace'], family: 'Hopper' }],
      gender: 'female',
      birthDate: '1936-12-09',
      identifier: [{ system: 'urn:vigil:mrn', value: 'W-2' }],
      telecom: [{ system: 'phone', value: '1' }],
    };
    const created = await call(clin, 'POST', '/fhir/R4/Patient', body, { 'if-none-exist': 'identifier=urn:vigil:mrn|W-2' });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('W/"1"');
    expect(created.headers.get('location')).toMatch(new RegExp(`/fhir/R4/Patient/${created.body.id}/_history/1$`));
    expect(created.body).toMatchObject({
      resourceType: 'Patient',
      meta: { versionId: '1' },
      gender: 'female',
      birthDate: '1936-12-09',
      name: [{ text: 'Grace Hopper' }],
    });
    expect(created.body.telecom).toBeUndefined(); // not stored, and the answer says so by leaving it out
    // The clinician who registered her has her on their care team (as on the REST API).
    expect((await call(clin, 'GET', `/fhir/R4/Patient/${created.body.id}`)).status).toBe(200);
    // The same conditional create again: 200 with the one match, nothing new.
    const again = await call(clin, 'POST', '/fhir/R4/Patient', body, { 'if-none-exist': 'identifier=urn:vigil:mrn|W-2' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
    expect(Number((await app.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM patients WHERE mrn = 'W-2'`))[0].n)).toBe(1);
    // Without If-None-Exist the MRN is still unique: 409, not a second record.
    expect((await call(clin, 'POST', '/fhir/R4/Patient', body)).status).toBe(409);
    // A patient cannot register patients; a malformed one is a 400 naming the element.
    expect((await call(patientToken, 'POST', '/fhir/R4/Patient', { ...body, identifier: [] })).status).toBe(403);
    const bad = await call(clin, 'POST', '/fhir/R4/Patient', { resourceType: 'Patient', birthDate: '1936-12', name: [{ text: 'X' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0].diagnostics).toContain('birthDate');
    for (const birthDate of ['1960-02-30', '2999-01-01']) {
      const wrong = await call(clin, 'POST', '/fhir/R4/Patient', { resourceType: 'Patient', birthDate, name: [{ text: 'X' }] });
      expect(wrong.status).toBe(400);
      expect(wrong.body.issue[0].diagnostics).toMatch(new RegExp(`Patient.birthDate ${birthDate} is (not a day on the calendar|in the future)`));
    }
    // An unknown search parameter in If-None-Exist is refused, never "matches everything".
    expect((await call(clin, 'POST', '/fhir/R4/Patient', { ...body, identifier: [] }, { 'if-none-exist': 'nickname=G' })).status).toBe(400);
    // So is a result parameter: with _summary=count no resource came back, the match went unseen and a duplicate was created.
    const shaped = await call(clin, 'POST', '/fhir/R4/Patient', body, { 'if-none-exist': '_summary=count&identifier=urn:vigil:mrn|W-2' });
    expect(shaped.status).toBe(400);
    expect(shaped.body.issue[0].diagnostics).toMatch(/If-None-Exist takes search criteria only: _summary/);
    expect(Number((await app.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM patients WHERE mrn = 'W-2'`))[0].n)).toBe(1);
  });

  it('updates with If-Match versioning, keeps every version for vread and _history', async () => {
    const v1 = await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}`);
    expect(v1.headers.get('etag')).toBe('W/"1"');
    const changed = { ...v1.body, name: [{ text: 'Ada King' }] };
    const v2 = await call(clin, 'PUT', `/fhir/R4/Patient/${aFhir}`, changed, { 'if-match': 'W/"1"' });
    expect(v2.status).toBe(200);
    expect(v2.body.meta.versionId).toBe('2');
    expect(v2.headers.get('etag')).toBe('W/"2"');
    // A second writer who also read version 1 loses: 412, and nothing changes.
    const stale = await call(clin, 'PUT', `/fhir/R4/Patient/${aFhir}`, { ...v1.body, name: [{ text: 'Ada Byron' }] }, { 'if-match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body.issue[0].code).toBe('conflict');
    expect((await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}`)).body.name[0].text).toBe('Ada King');
    // Stored versions: vread of each, history newest first.
    expect((await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}/_history/1`)).body.name[0].text).toBe('Ada Lovelace');
    expect((await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}/_history/2`)).body.name[0].text).toBe('Ada King');
    expect((await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}/_history/3`)).status).toBe(404);
    const history = await call(clin, 'GET', `/fhir/R4/Patient/${aFhir}/_history`);
    expect(history.body.entry.map((e: any) => [e.resource.meta.versionId, e.request.method, e.resource.name[0].text])).toEqual([
      ['2', 'PUT', 'Ada King'],
      ['1', 'POST', 'Ada Lovelace'],
    ]);
    // The REST API sees the change too (one record).
    expect((await app.services.patientService.detail(await app.services.auth.principalFromToken(clin).then((p) => p!), a)).name).toBe('Ada King');
    // Stored versions are sealed with the patient's key, not plaintext.
    const raw = await app.services.db.query<{ body: Uint8Array }>(`SELECT body FROM fhir_versions WHERE id = $1`, [a]);
    expect(raw.length).toBe(2);
    for (const r of raw) expect(Buffer.from(r.body).toString('latin1')).not.toContain('Ada');
    // Attacks: another clinician (not on the care team) gets 404; the patient themself 403; the id must match the URL.
    expect((await call(other, 'PUT', `/fhir/R4/Patient/${aFhir}`, changed)).status).toBe(404);
    expect((await call(patientToken, 'PUT', `/fhir/R4/Patient/${aFhir}`, changed)).status).toBe(403);
    expect((await call(clin, 'PUT', `/fhir/R4/Patient/${aFhir}`, { ...changed, id: 'pat-other' })).status).toBe(400);
    expect((await call(clin, 'PUT', `/fhir/R4/Patient/${aFhir}`, changed, { 'if-match': 'yesterday' })).status).toBe(400);
    // A search by the new name finds her, with _lastUpdated reflecting the update.
    const found = await call(clin, 'GET', `/fhir/R4/Patient?name=King&_lastUpdated=ge${new Date(Date.now() - 60_000).toISOString()}`);
    expect(found.body.entry.map((e: any) => e.resource.id)).toEqual([aFhir]);
  });

  it('creates Observations through the ingest path (alerts and NEWS2 see them), with provenance', async () => {
    const before = stored.length;
    const at = new Date(Date.now() - 60_000).toISOString();
    const res = await call(clin, 'POST', '/fhir/R4/Observation', hr(aFhir, 131, at, { device: { reference: `Device/${oxi}` } }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      resourceType: 'Observation',
      status: 'final',
      valueQuantity: { value: 131 },
      subject: { reference: `Patient/${aFhir}` },
      meta: { versionId: '1' },
    });
    // readings.stored fired (what the alert engine and NEWS2 listen to) for exactly this reading.
    await expect.poll(() => stored.length).toBe(before + 1);
    expect(stored.at(-1)).toMatchObject({ patientId: a, code: '8867-4', value: 131, deviceId: oxi });
    // Searchable like any reading; its history names it as created, and the audit log has who.
    const search = await call(clin, 'GET', `/fhir/R4/Observation?patient=${aFhir}&code=http://loinc.org|8867-4&date=${at}`);
    expect(search.body.entry.map((e: any) => e.resource.id)).toContain(res.body.id);
    const history = await call(clin, 'GET', `/fhir/R4/Observation/${res.body.id}/_history`);
    expect(history.body.entry).toHaveLength(1);
    const audit = await app.services.db.query<{ action: string }>(`SELECT action FROM audit_log WHERE action = 'fhir.create' AND entity_id = $1`, [
      res.body.id,
    ]);
    expect(audit.length).toBe(1);
    const prov = await app.services.db.query<{ actor_user_id: string; method: string }>(
      `SELECT actor_user_id, method FROM fhir_versions WHERE type = 'Observation' AND id = $1`,
      [res.body.id],
    );
    expect(prov[0].method).toBe('POST');
    expect(prov[0].actor_user_id).toBe((await app.services.auth.principalFromToken(clin))!.userId);
    // Pounds are converted (UCUM) like a CSV import; a BP panel becomes its pair and comes back as a panel.
    const weight = await call(clin, 'POST', '/fhir/R4/Observation', {
      ...hr(aFhir, 154, at),
      code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] },
      valueQuantity: { value: 154, unit: 'lb', system: 'http://unitsofmeasure.org', code: '[lb_av]' },
    });
    expect(weight.status).toBe(201);
    expect(weight.body.valueQuantity.value).toBeCloseTo(69.85, 1);
    const bp = await call(clin, 'POST', '/fhir/R4/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      subject: { reference: `Patient/${aFhir}` },
      effectiveDateTime: at,
      component: [
        {
          code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
          valueQuantity: { value: 142, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        },
        {
          code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] },
          valueQuantity: { value: 91, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        },
      ],
    });
    expect(bp.status).toBe(201);
    expect(bp.body.id).toMatch(/^bp-\d+$/);
    expect(bp.body.component.map((c: any) => c.valueQuantity.value)).toEqual([142, 91]);
  });

  it('refuses bad Observations, other patients, and the patient themself, storing nothing', async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    const n = await readingsOf(a);
    const cases: Array<[string, unknown, number, string]> = [
      [clin, { ...hr(aFhir, 70, at), code: { coding: [{ system: 'http://snomed.info/sct', code: '8867-4' }] } }, 422, 'code'],
      [clin, hr(aFhir, 7000, at), 422, 'possible range'],
      [clin, hr(aFhir, 70, '2026-11-30'), 422, 'effectiveDateTime'],
      [clin, hr(aFhir, 70, new Date(Date.now() + 3600_000).toISOString()), 422, 'future'],
      [clin, hr(aFhir, 70, at, { device: { reference: `Device/${strangersDevice}` } }), 422, 'not a device of this patient'],
      [clin, hr(stranger.replace('_', '-'), 70, at), 404, 'not found'],
      [other, hr(aFhir, 70, at), 404, 'not found'],
      [patientToken, hr(aFhir, 70, at), 403, 'patients cannot'],
      [clin, { resourceType: 'Patient', name: [{ text: 'x' }] }, 400, 'not a Observation'],
      [clin, { ...hr(aFhir, 70, at), valueQuantity: { value: '70', code: '/min' } }, 422, 'must be a number'],
    ];
    for (const [token, body, status, says] of cases) {
      const res = await call(token, 'POST', '/fhir/R4/Observation', body);
      expect(res.status, says).toBe(status);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].diagnostics, says).toContain(says);
    }
    expect(await readingsOf(a)).toBe(n);
    expect(await readingsOf(stranger)).toBe(0);
    // Observations are immutable: update is 405 not-supported with the reason; a SMART-less read-only token cannot write.
    const upd = await call(clin, 'PUT', '/fhir/R4/Observation/1', hr(aFhir, 70, at, { id: '1' }));
    expect(upd.status).toBe(405);
    expect(upd.body.issue[0].code).toBe('not-supported');
    expect(upd.body.issue[0].diagnostics).toContain('immutable');
    // Deleting is not supported for any type (Practitioner and Device writes: practitioner-device.e2e.test.ts).
    const del = await call(admin, 'DELETE', '/fhir/R4/Device/dev-x1');
    expect(del.status).toBe(405);
    expect(del.body.issue[0].code).toBe('not-supported');
  });

  it('runs a batch entry by entry, and a transaction all or nothing', async () => {
    const at = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    const entry = (resource: unknown, url = 'Observation', method = 'POST', extra: Record<string, unknown> = {}) => ({
      resource,
      request: { method, url, ...extra },
    });
    const n = await readingsOf(a);
    // A transaction with one bad entry writes nothing, and says which entry.
    const refused = await call(clin, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [entry(hr(aFhir, 80, at(10))), entry(hr(aFhir, 81, at(9))), entry(hr(stranger, 82, at(8)))],
    });
    expect(refused.status).toBe(404);
    expect(refused.body.issue[0].diagnostics).toContain('entry 2');
    expect(await readingsOf(a)).toBe(n);
    // A good transaction: every entry answered in order, a conditional create that matches is 200 (not a duplicate).
    const ok = await call(clin, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        entry(hr(aFhir, 80, at(10))),
        entry(hr(aFhir, 81, at(9))),
        entry({ resourceType: 'Patient', name: [{ text: 'Ada' }] }, 'Patient', 'POST', { ifNoneExist: 'identifier=urn:vigil:mrn|W-1' }),
        entry(undefined, `Patient/${aFhir}`, 'GET'),
      ],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.type).toBe('transaction-response');
    expect(ok.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created', '200 OK', '200 OK']);
    expect(ok.body.entry[2].resource.id).toBe(aFhir);
    expect(await readingsOf(a)).toBe(n + 2);
    // A batch: each entry on its own.
    const batch = await call(clin, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ request: { method: 'GET', url: `Patient/${aFhir}` } }, { request: { method: 'DELETE', url: 'Observation/5' } }],
    });
    // DELETE is not a Bundle request this server takes: that entry answers 400, the other still runs.
    expect(batch.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '400']);
    const batch2 = await call(clin, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [entry(hr(aFhir, 83, at(7))), entry(hr(aFhir, 9999, at(6)))],
    });
    expect(batch2.body.type).toBe('batch-response');
    expect(batch2.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '422']);
    expect(batch2.body.entry[1].response.outcome.issue[0].diagnostics).toContain('range');
    expect(await readingsOf(a)).toBe(n + 3);
    expect((await call(clin, 'POST', '/fhir/R4', { resourceType: 'Bundle', type: 'collection', entry: [] })).status).toBe(400);
    expect(
      (await call(clin, 'POST', '/fhir/R4', { resourceType: 'Bundle', type: 'batch', entry: new Array(1001).fill(entry(hr(aFhir, 80, at(1)))) })).status,
    ).toBe(400);
    // Hostile entries are refused up front with a 400 naming the entry, never a 500, and nothing is written.
    for (const bad of [
      null,
      'x',
      { request: 'POST' },
      entry(hr(aFhir, 85, at(4)), 'Observation', 'POST', { ifNoneExist: {} }),
      entry(hr(aFhir, 85, at(4)), `Patient/${aFhir}`, 'PUT', { ifMatch: 7 }),
      entry(hr(aFhir, 85, at(4)), 42 as unknown as string),
    ]) {
      const r = await call(clin, 'POST', '/fhir/R4', { resourceType: 'Bundle', type: 'batch', entry: [bad] });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.issue[0].diagnostics).toContain('entry 0');
    }
    expect(await readingsOf(a)).toBe(n + 3);
  });

  it('declares the writes in the CapabilityStatement', async () => {
    const cs = (await call(admin, 'GET', '/fhir/R4/metadata')).body;
    const of = (t: string) => cs.rest[0].resource.find((r: any) => r.type === t);
    expect(of('Patient').interaction.map((i: any) => i.code)).toEqual(expect.arrayContaining(['create', 'update', 'vread', 'history-instance']));
    expect(of('Observation').interaction.map((i: any) => i.code)).toContain('create');
    expect(of('Observation').interaction.map((i: any) => i.code)).not.toContain('update');
    expect(of('Patient').conditionalCreate).toBe(true);
    expect(cs.rest[0].interaction.map((i: any) => i.code)).toEqual(['batch', 'transaction']);
  });
});
