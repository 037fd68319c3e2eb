/**
 * SMART write scopes (App Launch 2.x: `patient/Observation.cu`, `user/*.cruds`, v1 `user/*.write`) enforced by
 * the one access policy on every FHIR write: create, update, and the entries of batch and transaction
 * Bundles. Tokens come from the real authorization-code + PKCE flow over HTTP (a clinician signs in with a
 * password and a second factor, consents, and the app exchanges the code).
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { authorizeCode, clinicianForSmart, oauthForm } from '../../../../test/support/smart-flow.ts';

const FHIR = 'application/fhir+json';
const REDIRECT = 'http://127.0.0.1:9/cb';

describe('SMART write scopes on FHIR writes', () => {
  let app: TestApp;
  let clientId: string;
  let email: string;
  let password: string;
  let recovery: string[];
  let a: string; // on the clinician's care team
  let b: string; // also on it

  const call = async (token: string, method: string, url: string, body?: unknown) => {
    const res = await fetch(app.httpUrl + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': FHIR } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
  };
  /** The whole authorization-code flow: what the app is granted and its access token. */
  async function authorize(scope: string, patient?: string): Promise<{ access_token: string; scope: string }> {
    const { code, verifier } = await authorizeCode(app, { clientId, redirectUri: REDIRECT, scope, email, password, recovery, patient });
    const token = await fetch(
      `${app.httpUrl}/oauth/token`,
      oauthForm({ grant_type: 'authorization_code', code, client_id: clientId, redirect_uri: REDIRECT, code_verifier: verifier }),
    );
    expect(token.status).toBe(200);
    const body = (await token.json()) as { access_token: string; scope: string };
    // [audit] (d)(2): the tokens an app receives are audited with them — which app, which scopes.
    const [entry] = await app.services.db.query<{ entity_id: string; details: { scopes: string[]; grant: string } }>(
      `SELECT entity_id, details FROM audit_log WHERE action = 'smart.token' ORDER BY id DESC LIMIT 1`,
    );
    expect(entry).toMatchObject({ entity_id: clientId, details: { grant: 'authorization_code', scopes: body.scope.split(' ') } });
    return body;
  }
  const hr = (patientId: string, value: number) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId.replace('_', '-')}` },
    effectiveDateTime: new Date(Date.now() - value * 1000).toISOString(),
    valueQuantity: { value, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  });
  const readings = async () => Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings'))[0].n);
  const patients = async () => Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM patients'))[0].n);

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    a = (await s.patientService.create({ name: 'Ada Lovelace' }, 'system')).id;
    b = (await s.patientService.create({ name: 'Bea Byron' }, 'system')).id;
    ({ email, password, recovery } = await clinicianForSmart(app, [a, b]));
    const admin = (await app.tokenFor('admin')).token;
    clientId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Vitals Writer', redirectUris: [REDIRECT] })).body.id;
  });
  afterAll(async () => app && (await app.stop()));

  it('refuses every write to an app with read-only scopes: 403 OperationOutcome, nothing written', async () => {
    const t = await authorize('openid fhirUser user/*.rs');
    expect(t.scope.split(' ')).toContain('user/*.rs');
    const [r0, p0] = [await readings(), await patients()];
    expect((await call(t.access_token, 'GET', `/fhir/R4/Observation?patient=${a.replace('_', '-')}`)).status).toBe(200); // it can read
    const create = await call(t.access_token, 'POST', '/fhir/R4/Observation', hr(a, 70));
    expect(create.status).toBe(403);
    expect(create.body.resourceType).toBe('OperationOutcome');
    expect(create.body.issue[0].code).toBe('forbidden');
    expect(create.body.issue[0].diagnostics).toContain('no scope for create on Observation');
    const patient = (await call(t.access_token, 'GET', `/fhir/R4/Patient/${a.replace('_', '-')}`)).body;
    const update = await call(t.access_token, 'PUT', `/fhir/R4/Patient/${patient.id}`, { ...patient, name: [{ text: 'Changed' }] });
    expect(update.status).toBe(403);
    expect(update.body.issue[0].diagnostics).toContain('no scope for update on Patient');
    expect((await call(t.access_token, 'POST', '/fhir/R4/Patient', { resourceType: 'Patient', name: [{ text: 'New' }] })).status).toBe(403);
    // Inside Bundles too: a transaction is refused whole; a batch answers 403 for the entry.
    const tx = await call(t.access_token, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: hr(a, 71), request: { method: 'POST', url: 'Observation' } }],
    });
    expect(tx.status).toBe(403);
    expect(tx.body.issue[0].code).toBe('forbidden');
    const batch = await call(t.access_token, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: hr(a, 72), request: { method: 'POST', url: 'Observation' } }],
    });
    expect(batch.body.entry[0].response.status).toBe('403');
    expect(batch.body.entry[0].response.outcome.issue[0].code).toBe('forbidden');
    expect([await readings(), await patients()]).toEqual([r0, p0]);
    expect((await call(t.access_token, 'GET', `/fhir/R4/Patient/${patient.id}`)).body.name[0].text).toBe('Ada Lovelace');
  });

  it('lets patient/Observation.cu create for the launch patient only, and nothing else', async () => {
    const t = await authorize('openid fhirUser launch/patient patient/Observation.crus', a);
    expect(t.scope.split(' ')).toContain('patient/Observation.crus');
    const r0 = await readings();
    expect((await call(t.access_token, 'POST', '/fhir/R4/Observation', hr(a, 73))).status).toBe(201);
    // Another patient of the same clinician: outside the app's patient context, so not found.
    expect((await call(t.access_token, 'POST', '/fhir/R4/Observation', hr(b, 74))).status).toBe(404);
    // No Patient scope: no Patient read or write.
    expect((await call(t.access_token, 'GET', `/fhir/R4/Patient/${a.replace('_', '-')}`)).status).toBe(403);
    expect(
      (
        await call(t.access_token, 'PUT', `/fhir/R4/Patient/${a.replace('_', '-')}`, {
          resourceType: 'Patient',
          id: a.replace('_', '-'),
          name: [{ text: 'X' }],
        })
      ).status,
    ).toBe(403);
    expect(await readings()).toBe(r0 + 1);
    // patient/*.cruds acts on the launch patient's record: it never registers a new patient.
    const wide = await authorize('launch/patient patient/*.cruds', a);
    const p0 = await patients();
    const refused = await call(wide.access_token, 'POST', '/fhir/R4/Patient', { resourceType: 'Patient', name: [{ text: 'Not Registered' }] });
    expect(refused.status).toBe(403);
    expect(refused.body.issue[0].code).toBe('forbidden');
    expect(await patients()).toBe(p0);
  });

  it('maps v1 write scopes and cruds to what Vigil grants (no delete), and lets the user write with them', async () => {
    const t = await authorize('openid fhirUser user/*.read user/*.write');
    expect(t.scope.split(' ').sort()).toEqual(['fhirUser', 'openid', 'user/*.cu', 'user/*.rs'].sort());
    const p0 = await patients();
    const created = await call(t.access_token, 'POST', '/fhir/R4/Patient', { resourceType: 'Patient', name: [{ text: 'Registered By App' }] });
    expect(created.status).toBe(201);
    expect(await patients()).toBe(p0 + 1);
    const cruds = await authorize('openid user/*.cruds');
    expect(cruds.scope.split(' ')).toContain('user/*.crus');
    // A scope with letters out of the c-r-u-d-s order is not a scope: nothing granted, so the request fails.
    const verifier = randomBytes(40).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: 'user/*.sr',
      aud: `${app.httpUrl}/fhir/R4`,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const res = await fetch(`${app.httpUrl}/oauth/authorize?${q}`, { redirect: 'manual' });
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_scope');
  });
});
