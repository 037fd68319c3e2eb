/**
 * Issue 9 (d)(1) roles: a caregiver is linked to a patient by the patient's consent and reads that patient's
 * portal data — nothing else; a revoked consent is a 404 at once; a guest reaches no patient at all.
 * Consents are stored, audited in the same transaction, and revocable by the patient. The patient downloads
 * their record (GDPR art. 15/20, HIPAA §164.524) as a FHIR Bundle and a printable HTML summary, audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { isApiRoute } from '../src/api/policy.ts';
import type { Principal } from '../src/domain/types.ts';

let app: TestApp;
let admin: string;
let patientA: string;
let patientB: string;
let patA: string;
let patB: string;
let carer: { token: string; email: string; userId: string };

beforeAll(async () => {
  app = await bootApp();
  admin = (await app.tokenFor('admin')).token;
  patientA = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Ada Cared-For' })).body.id;
  patientB = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Bea Stranger' })).body.id;
  patA = (await app.tokenFor('patient', { patientId: patientA })).token;
  patB = (await app.tokenFor('patient', { patientId: patientB })).token;
  const email = `daughter-${Date.now()}@family.test`;
  const created = await app.api<{ id: string; role: string }>(admin, 'POST', '/api/v1/users', {
    email,
    role: 'caregiver',
    displayName: 'Dana Daughter',
    password: 'correct horse battery',
  });
  expect(created.status).toBe(201);
  expect(created.body.role).toBe('caregiver');
  carer = { token: (await app.services.auth.createToken(email, 'test', 'system')).token, email, userId: created.body.id };
}, 180_000);
afterAll(async () => app?.stop());

describe('caregiver consent', () => {
  let consentId: string;

  it('before consent the caregiver sees no patient', async () => {
    expect((await app.api<unknown[]>(carer.token, 'GET', '/api/v1/patients')).body).toEqual([]);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}`)).status).toBe(404);
  });

  it('only the patient (or an admin) gives consent; only caregiver accounts can be named', async () => {
    const clinician = await app.tokenFor('clinician');
    expect((await app.api(clinician.token, 'POST', `/api/v1/patients/${patientA}/consents`, { kind: 'caregiver', email: carer.email })).status).toBe(404); // not their patient
    expect((await app.api(patB, 'POST', `/api/v1/patients/${patientA}/consents`, { kind: 'caregiver', email: carer.email })).status).toBe(404);
    expect((await app.api(patA, 'POST', `/api/v1/patients/${patientA}/consents`, { kind: 'caregiver', email: clinician.email })).status).toBe(404); // a staff account is not a caregiver
    expect((await app.api(patA, 'POST', `/api/v1/patients/${patientA}/consents`, { kind: 'caregiver' })).status).toBe(400);
    expect((await app.api(patA, 'POST', `/api/v1/patients/${patientA}/consents`, { kind: 'marketing' })).status).toBe(400);
    const r = await app.api<{ id: string; status: string; grantee: { email: string } }>(patA, 'POST', `/api/v1/patients/${patientA}/consents`, {
      kind: 'caregiver',
      email: carer.email,
    });
    expect(r.status).toBe(201);
    expect(r.body.status).toBe('active');
    expect(r.body.grantee.email).toBe(carer.email);
    consentId = r.body.id;
    expect((await app.api(patA, 'POST', `/api/v1/patients/${patientA}/consents`, { kind: 'caregiver', email: carer.email })).status).toBe(409);
  });

  it("the caregiver reads that patient's portal data and no one else's", async () => {
    const panel = await app.api<Array<{ id: string }>>(carer.token, 'GET', '/api/v1/patients');
    expect(panel.body.map((p) => p.id)).toEqual([patientA]);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}`)).status).toBe(200);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}/derived`)).status).toBe(200);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}/readings?code=8867-4`)).status).toBe(200);
    expect((await app.api(carer.token, 'GET', `/fhir/R4/Patient/${patientA}`)).status).toBe(200);
    for (const path of [
      `/api/v1/patients/${patientB}`,
      `/api/v1/patients/${patientB}/readings?code=8867-4`,
      `/fhir/R4/Patient/${patientB}`,
      `/api/v1/patients/${patientB}/consents`,
    ]) {
      expect((await app.api(carer.token, 'GET', path)).status, path).toBe(404);
    }
    const search = await app.api<{ total?: number; entry?: Array<{ resource: { id: string } }> }>(carer.token, 'GET', '/fhir/R4/Patient');
    expect((search.body.entry ?? []).map((e) => e.resource.id)).toEqual([patientA.replaceAll('_', '-')]); // FHIR ids use - for _
  });

  it('the caregiver reaches no staff, admin or clinical-write route (every registered route, enumerated)', async () => {
    const routes = app.routes
      .routes()
      .filter(isApiRoute)
      .filter((r) => r.method !== 'HEAD' && !r.websocket);
    const refused = routes.filter((r) => ['admin', 'staff', 'manage-patient'].includes(r.policy!.kind));
    expect(refused.length).toBeGreaterThan(15);
    for (const r of refused) {
      const method = r.method.split(',')[0];
      const url = r.url.replace(/:(\w+)/g, (_m, name: string) => (name === 'id' && r.url.startsWith('/api/v1/patients') ? patientA : `x-${name}`));
      const res = await app.api(carer.token, method, url, method === 'GET' || method === 'DELETE' ? undefined : {});
      expect([403, 404], `${method} ${r.url} → ${res.status}`).toContain(res.status);
    }
    // Nor a patient's own privileges over the record: consents, who-saw-my-record.
    expect((await app.api(carer.token, 'POST', `/api/v1/patients/${patientA}/consents`, { kind: 'research' })).status).toBe(403);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}/access-log`)).status).toBe(403);
    expect((await app.api(carer.token, 'PATCH', `/api/v1/patients/${patientA}/settings`, { onOxygen: true })).status).toBe(403);
  });

  it('the patient sees the consent, and another patient cannot revoke it (404)', async () => {
    const list = await app.api<{ consents: Array<{ id: string; kind: string; status: string }> }>(patA, 'GET', `/api/v1/patients/${patientA}/consents`);
    expect(list.body.consents.find((c) => c.id === consentId)?.status).toBe('active');
    expect((await app.api(patB, 'POST', `/api/v1/consents/${consentId}/revoke`)).status).toBe(404);
  });

  it('revoking it is a 404 at once, on every path to the record', async () => {
    const r = await app.api<{ status: string; revokedBy: string }>(patA, 'POST', `/api/v1/consents/${consentId}/revoke`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('revoked');
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}`)).status).toBe(404);
    expect((await app.api(carer.token, 'GET', `/fhir/R4/Patient/${patientA}`)).status).toBe(404);
    expect((await app.api<unknown[]>(carer.token, 'GET', '/api/v1/patients')).body).toEqual([]);
  });

  it('an expired consent ends access; the caregiver may step back themself; every change is audited', async () => {
    const c = await app.api<{ id: string }>(admin, 'POST', `/api/v1/patients/${patientA}/consents`, {
      kind: 'caregiver',
      email: carer.email,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(c.status).toBe(201);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}`)).status).toBe(200);
    await app.services.db.query("UPDATE consents SET expires_at = now() - interval '1 second' WHERE id = $1", [c.body.id]);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}`)).status).toBe(404);
    const again = await app.api<{ id: string }>(patA, 'POST', `/api/v1/patients/${patientA}/consents`, { kind: 'caregiver', email: carer.email });
    expect((await app.api(carer.token, 'POST', `/api/v1/consents/${again.body.id}/revoke`)).status).toBe(200);
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${patientA}`)).status).toBe(404);
    const sharing = await app.api<{ kind: string; granteeName: string }>(patA, 'POST', `/api/v1/patients/${patientA}/consents`, {
      kind: 'sharing',
      granteeName: 'St Elsewhere Hospital',
    });
    expect(sharing.body.granteeName).toBe('St Elsewhere Hospital');
    const rows = await app.services.db.query<{ action: string; actor: string }>(
      "SELECT action, actor FROM audit_log WHERE patient_id = $1 AND action LIKE 'consent.%' ORDER BY id",
      [patientA],
    );
    expect(rows.map((r) => r.action)).toEqual(['consent.grant', 'consent.revoke', 'consent.grant', 'consent.grant', 'consent.revoke', 'consent.grant']);
    expect(rows[4].actor).toBe(`user:${carer.userId}`);
    expect((await app.services.audit.verify()).bad).toEqual([]);
  });
});

describe('guest role', () => {
  it('a guest principal (a visit pass) sees no patient and passes no staff check', async () => {
    const guest: Principal = { userId: 'guest:pass1', email: '', role: 'guest', practitionerId: null, patientId: null, displayName: 'Visitor' };
    expect(await app.services.access.visiblePatientIds(guest)).toEqual([]);
    expect(await app.services.access.canSeePatient(guest, patientA)).toBe(false);
    expect(() => app.services.access.assertStaff(guest)).toThrow(/clinician or admin/);
    await expect(app.services.access.assertCanManagePatient(guest, patientA)).rejects.toThrow();
    expect(app.services.access.isStaff(guest)).toBe(false);
  });
});

describe("the patient's export (FHIR Bundle + printable summary)", () => {
  let pid: string;
  let pat: string;

  beforeAll(async () => {
    pid = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/patients', { name: 'Eve <script>alert(1)</script> Export', birthDate: '1944-05-06' })).body.id;
    pat = (await app.tokenFor('patient', { patientId: pid })).token;
    const d = await app.api<{ id: string; secret: string }>(admin, 'POST', '/api/v1/devices', { patientId: pid, type: 'pulse-oximeter' });
    for (const [i, hr] of [71, 75, 80].entries()) {
      const res = await fetch(`${app.httpUrl}/api/v1/devices/${d.body.id}/telemetry`, {
        method: 'POST',
        headers: { authorization: `Bearer ${d.body.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ts: Date.now() - (3 - i) * 60_000, hr }),
      });
      expect(res.status).toBe(202);
    }
    expect((await app.api(pat, 'POST', `/api/v1/patients/${pid}/threads`, { subject: 'Dizzy', text: 'felt dizzy this morning' })).status).toBe(201);
    // Ingest is asynchronous: wait until the three readings are stored.
    for (
      let i = 0;
      i < 100 && Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings WHERE patient_id = $1', [pid]))[0].n) < 3;
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
  }, 60_000);

  it('the patient downloads a FHIR collection Bundle with their Patient, Device, Observations and messages', async () => {
    const res = await fetch(`${app.httpUrl}/api/v1/patients/${pid}/export.json`, { headers: { authorization: `Bearer ${pat}` } });
    expect(res.status, res.status === 200 ? '' : await res.clone().text()).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="vigil-record-/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const bundle = (await res.json()) as {
      resourceType: string;
      type: string;
      entry: Array<{ resource: { resourceType: string; valueQuantity?: { value: number } } }>;
    };
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('collection');
    const types = bundle.entry.map((e) => e.resource.resourceType);
    for (const t of ['Patient', 'Device', 'Observation', 'Communication']) expect(types, t).toContain(t);
    expect(
      bundle.entry
        .filter((e) => e.resource.resourceType === 'Observation')
        .map((e) => e.resource.valueQuantity?.value)
        .sort(),
    ).toEqual(expect.arrayContaining([71, 75, 80]));
  });

  it('and a readable summary that prints to PDF, with everything escaped', async () => {
    const res = await fetch(`${app.httpUrl}/api/v1/patients/${pid}/export.html`, { headers: { authorization: `Bearer ${pat}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('Eve &lt;script&gt;alert(1)&lt;/script&gt; Export');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('1944-05-06');
    expect(html).toContain('Your measurements');
    expect(html).toMatch(/80 \/min|80 beats/);
    expect(html).toContain('felt dizzy this morning');
  });

  it('only the patient themself and admins may export; each export is audited', async () => {
    const clinician = await app.tokenFor('clinician');
    expect((await app.api(clinician.token, 'GET', `/api/v1/patients/${pid}/export.json`)).status).toBe(404);
    expect((await app.api(patB, 'GET', `/api/v1/patients/${pid}/export.json`)).status).toBe(404);
    const c = await app.api<{ id: string }>(admin, 'POST', `/api/v1/patients/${pid}/consents`, { kind: 'caregiver', email: carer.email });
    expect((await app.api(carer.token, 'GET', `/api/v1/patients/${pid}/export.html`)).status).toBe(403); // the right belongs to the patient
    await app.api(admin, 'POST', `/api/v1/consents/${c.body.id}/revoke`);
    expect((await app.api(admin, 'GET', `/api/v1/patients/${pid}/export.json`)).status).toBe(200);
    const rows = await app.services.db.query<{ details: { format: string } }>(
      "SELECT details FROM audit_log WHERE patient_id = $1 AND action = 'patient.export' ORDER BY id",
      [pid],
    );
    expect(rows.map((r) => r.details.format)).toEqual(['fhir', 'html', 'fhir']);
  });
});

describe('FHIR AuditEvent ((d)(3) audit reports)', () => {
  type Bundle = {
    total?: number;
    entry?: Array<{
      resource: {
        id: string;
        action: string;
        outcome: string;
        subtype: Array<{ code: string }>;
        entity: Array<{ what: { reference?: string } }>;
        agent: Array<{ who: { identifier?: { value: string } } }>;
      };
    }>;
  };

  it('admins search by patient, subtype, date and agent; each entry names who, what, which patient, when and the outcome', async () => {
    const r = await app.api<Bundle>(admin, 'GET', `/fhir/R4/AuditEvent?patient=Patient/${patientA}&subtype=consent&date=ge2020-01-01`);
    expect(r.status).toBe(200);
    const entries = r.body.entry ?? [];
    expect(entries.map((e) => e.resource.subtype[0].code)).toEqual(expect.arrayContaining(['consent.grant', 'consent.revoke']));
    for (const e of entries) expect(e.resource.entity.some((x) => x.what.reference === `Patient/${patientA.replaceAll('_', '-')}`)).toBe(true);
    const byCarer = await app.api<Bundle>(admin, 'GET', `/fhir/R4/AuditEvent?agent=${carer.userId}&subtype=consent.revoke`);
    expect((byCarer.body.entry ?? []).length).toBeGreaterThanOrEqual(1);
    expect((byCarer.body.entry ?? []).every((e) => e.resource.agent[0].who.identifier?.value === carer.userId)).toBe(true);
    // The identifier form the entries carry (urn:vigil:user|…) finds the same (found by review: a URI-looking value matched nothing).
    const byUrn = await app.api<Bundle>(
      admin,
      'GET',
      `/fhir/R4/AuditEvent?agent=${encodeURIComponent(`urn:vigil:user|${carer.userId}`)}&subtype=consent.revoke`,
    );
    expect((byUrn.body.entry ?? []).map((e) => e.resource.id)).toEqual((byCarer.body.entry ?? []).map((e) => e.resource.id));
    // An entity id with no FHIR id form (a readings partition the retention job dropped) is found as stored.
    await app.services.audit.record({ actor: 'system', action: 'retention.drop', entityType: 'partition', entityId: 'readings_2026_01' });
    await app.services.audit.flush();
    const partition = await app.api<Bundle>(admin, 'GET', '/fhir/R4/AuditEvent?entity=readings_2026_01');
    expect((partition.body.entry ?? []).map((e) => e.resource.subtype[0].code)).toEqual(['retention.drop']);
    const future = await app.api<Bundle>(admin, 'GET', `/fhir/R4/AuditEvent?patient=Patient/${patientA}&date=gt2999-01-01`);
    expect(future.body.entry ?? []).toEqual([]);
    const one = entries[0].resource;
    const read = await app.api<{ id: string; recorded: string }>(admin, 'GET', `/fhir/R4/AuditEvent/${one.id}`);
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(one.id);
  });

  it('a patient sees only the events about their own record; clinicians and caregivers are refused', async () => {
    const own = await app.api<Bundle>(patA, 'GET', '/fhir/R4/AuditEvent?subtype=consent');
    expect(own.status).toBe(200);
    expect((own.body.entry ?? []).length).toBeGreaterThan(0);
    const other = await app.api<Bundle>(patA, 'GET', `/fhir/R4/AuditEvent?patient=Patient/${patientB}`);
    expect(other.body.entry ?? []).toEqual([]);
    const bEvent = (await app.api<Bundle>(admin, 'GET', `/fhir/R4/AuditEvent?patient=Patient/${patientB}`)).body.entry?.[0]?.resource.id;
    expect(bEvent).toBeDefined();
    expect((await app.api(patA, 'GET', `/fhir/R4/AuditEvent/${bEvent}`)).status).toBe(404);
    const clinician = await app.tokenFor('clinician');
    expect((await app.api(clinician.token, 'GET', '/fhir/R4/AuditEvent')).status).toBe(403);
    expect((await app.api(carer.token, 'GET', '/fhir/R4/AuditEvent')).status).toBe(403);
  });
});

describe('FHIR AuditEvent: every disclosure on the patient it concerns, however the search named them', () => {
  type Bundle = { total?: number; entry?: Array<{ resource: { action: string; subtype: Array<{ code: string }> } }> };
  const fhirId = (id: string) => id.replaceAll('_', '-');

  it('records a search by absolute URL, FHIR id or list under each patient, and the admin report never fails on an odd stored id', async () => {
    const s = app.services;
    const ts = Date.parse('2025-03-03T08:00:00Z');
    await s.db.transaction((tx) =>
      s.repos.readings.insertBatch(
        tx,
        [patientA, patientB].map((patientId) => ({ patientId, deviceId: null, code: '8867-4', value: 66, unit: '/min', ts, seq: null })),
      ),
    );
    const since = new Date().toISOString();
    const count = async (patientId: string, action: string) =>
      Number(
        (
          await s.db.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE patient_id = $1 AND action = $2 AND ts >= $3', [patientId, action, since])
        )[0].n,
      );
    // A FHIR read names the patient by its FHIR id (pat-…): the entry carries the internal one (pat_…).
    expect((await app.api(admin, 'GET', `/fhir/R4/Patient/${fhirId(patientB)}`)).status).toBe(200);
    expect(await count(patientB, 'read')).toBe(1);
    // By absolute URL: the request's own entry carries patient A's internal id.
    const byUrl = await app.api(admin, 'GET', `/fhir/R4/Observation?patient=${app.httpUrl}/fhir/R4/Patient/${fhirId(patientA)}&date=2025-03-03`);
    expect(byUrl.status).toBe(200);
    expect(await count(patientA, 'read')).toBe(1);
    // A list of two: one search entry per patient whose readings the page disclosed.
    const both = await app.api<Bundle>(admin, 'GET', `/fhir/R4/Observation?patient=${fhirId(patientA)},Patient/${fhirId(patientB)}&date=2025-03-03`);
    expect(both.body.total).toBe(2);
    await s.audit.flush();
    expect(await count(patientA, 'fhir.search')).toBe(2);
    expect(await count(patientB, 'fhir.search')).toBe(1);
    // A search that names no patient in its query (by _id, by name, a device list) records each patient it returned.
    const beforeIds = await count(patientB, 'fhir.search');
    expect((await app.api(admin, 'GET', `/fhir/R4/Patient?_id=${fhirId(patientB)}`)).status).toBe(200);
    const dev = (await s.deviceService.provision({ patientId: patientB, type: 'thermometer' }, 'system')).id;
    expect((await app.api(admin, 'GET', `/fhir/R4/Device/${fhirId(dev)}`)).status).toBe(200);
    await s.audit.flush();
    expect(await count(patientB, 'fhir.search')).toBe(beforeIds + 1);
    expect(await count(patientB, 'fhir.read')).toBeGreaterThanOrEqual(1);
    // The patient's own view shows them.
    const own = await app.api<Bundle>(patB, 'GET', `/fhir/R4/AuditEvent?subtype=fhir.search&date=ge${since}`);
    expect(own.body.entry?.length).toBe(2);
    // An entry written before ids were normalised (any text) is shown, never a 500 for the whole report.
    await s.audit.record({ actor: 'system', action: 'read', patientId: 'http://localhost:1/fhir/R4/Patient/pat-legacy0000000000000000', details: {} });
    const report = await app.api<Bundle>(admin, 'GET', `/fhir/R4/AuditEvent?date=ge${since}&_count=100`);
    expect(report.status).toBe(200);
  });

  it("shows a patient another patient's try at their record without that person's identity", async () => {
    const since = new Date().toISOString();
    expect((await app.api(patA, 'GET', `/api/v1/patients/${patientB}`)).status).toBe(404);
    await app.services.audit.flush();
    const log = await app.api<Array<{ actor: string; who: { name: string; email: string } | null; action: string; at: string }>>(
      patB,
      'GET',
      `/api/v1/patients/${patientB}/access-log`,
    );
    const tried = log.body.filter((e) => e.action === 'access.refused' && e.at >= since);
    expect(tried.length).toBeGreaterThan(0);
    for (const e of tried) {
      expect(e.who?.name).toBe('Another patient (identity withheld)');
      expect(JSON.stringify(e)).not.toMatch(/@/);
    }
    const events = await app.api<{ entry?: Array<{ resource: unknown }> }>(patB, 'GET', `/fhir/R4/AuditEvent?subtype=access.refused&date=ge${since}`);
    expect(events.body.entry?.length).toBeGreaterThan(0);
    for (const e of events.body.entry ?? []) {
      expect(JSON.stringify(e.resource)).toContain('Another patient (identity withheld)');
      expect(JSON.stringify(e.resource)).not.toMatch(/@|127\.0\.0\.1|::1/);
    }
    // The admin's report still names who it was (breach investigation).
    const admins = await app.api<{ entry?: Array<{ resource: unknown }> }>(admin, 'GET', `/fhir/R4/AuditEvent?subtype=access.refused&date=ge${since}`);
    expect(JSON.stringify(admins.body)).not.toContain('identity withheld');
  });

  it('filters by action (C R U D E) in the query: exact totals, full pages, the read audit counted as R', async () => {
    const reads = await app.api<Bundle>(admin, 'GET', '/fhir/R4/AuditEvent?action=R&_count=5');
    expect(reads.status).toBe(200);
    expect(reads.body.total).toBeGreaterThan(5);
    expect(reads.body.entry?.length).toBe(5);
    expect(reads.body.entry?.every((e) => e.resource.action === 'R')).toBe(true);
    const updates = await app.api<Bundle>(admin, 'GET', '/fhir/R4/AuditEvent?action=U&_summary=count');
    expect(typeof updates.body.total).toBe('number');
    const all = await app.api<Bundle>(admin, 'GET', '/fhir/R4/AuditEvent?_summary=count');
    const parts = await Promise.all(
      ['C', 'R', 'U', 'D', 'E'].map(async (a) => (await app.api<Bundle>(admin, 'GET', `/fhir/R4/AuditEvent?action=${a}&_summary=count`)).body.total!),
    );
    // Entries keep arriving (each request is audited), so the parts can only run ahead of the earlier whole.
    expect(parts.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(all.body.total!);
    const plainRead = await app.api<Bundle>(admin, 'GET', '/fhir/R4/AuditEvent?subtype=read&_count=1');
    expect(plainRead.body.entry?.[0].resource).toMatchObject({ action: 'R', subtype: [{ code: 'read' }] });
  });
});

describe('read audit: no disclosure without its audit row (the 250 ms crash window is gone)', () => {
  it('the read entry is committed before the answer arrives', async () => {
    const before = Number(
      (await app.services.db.query<{ n: string }>("SELECT count(*) AS n FROM audit_log WHERE action = 'read' AND patient_id = $1", [patientB]))[0].n,
    );
    expect((await app.api(patB, 'GET', `/api/v1/patients/${patientB}`)).status).toBe(200);
    // No flush, no wait: a crash at this instant would find the entry already on disk.
    const after = Number(
      (await app.services.db.query<{ n: string }>("SELECT count(*) AS n FROM audit_log WHERE action = 'read' AND patient_id = $1", [patientB]))[0].n,
    );
    expect(after).toBe(before + 1);
  });

  it('when the audit entry cannot be written (failure injected), the data is not sent', async () => {
    await app.services.db
      .exec(`CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected audit failure'; END $$;
      CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_refuse_audit();`);
    try {
      const res = await app.api<{ error: { code: string } }>(patB, 'GET', `/api/v1/patients/${patientB}`);
      expect(res.status).toBe(503);
      expect(JSON.stringify(res.body)).not.toContain('Bea Stranger');
    } finally {
      await app.services.db.exec('DROP TRIGGER test_refuse_audit ON audit_log; DROP FUNCTION test_refuse_audit();');
    }
    expect((await app.api(patB, 'GET', `/api/v1/patients/${patientB}`)).status).toBe(200);
  });
});
