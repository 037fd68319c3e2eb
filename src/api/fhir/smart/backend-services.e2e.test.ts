/**
 * SMART Backend Services (client_credentials + private_key_jwt, RFC 7523) on the real server: a data
 * warehouse registered by an admin with its public key signs an assertion with jose, gets a five-minute token
 * with system/ read scopes, and runs a Bulk Data $export to the end. And: a disabled account stops its apps.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { authorizeCode, clinicianForSmart, oauthForm } from '../../../../test/support/smart-flow.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

describe('SMART Backend Services and disabled accounts', () => {
  let app: TestApp;
  let admin: string;
  let clientId: string;
  let key: CryptoKey;
  let patient: string;
  let tokenUrl: string;

  const post = async (path: string, body: Record<string, string>) => {
    const res = await fetch(`${app.httpUrl}${path}`, oauthForm(body));
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
  };
  const assertion = (o: { aud?: string; exp?: string | number; jti?: string; signWith?: CryptoKey; iss?: string } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: 'warehouse-1', typ: 'JWT' })
      .setIssuer(o.iss ?? clientId)
      .setSubject(o.iss ?? clientId)
      .setAudience(o.aud ?? tokenUrl)
      .setExpirationTime(o.exp ?? '4m')
      .setJti(o.jti ?? randomUUID())
      .sign(o.signWith ?? key);
  const tokenRequest = async (clientAssertion: string, scope = 'system/*.rs') =>
    post('/oauth/token', { grant_type: 'client_credentials', scope, client_assertion_type: JWT_BEARER, client_assertion: clientAssertion });
  const fhir = (token: string, path: string, init: RequestInit = {}) =>
    fetch(`${app.httpUrl}/fhir/R4${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(init.headers ?? {}) },
    });

  beforeAll(async () => {
    app = await bootApp();
    tokenUrl = `${app.httpUrl}/oauth/token`;
    admin = (await app.tokenFor('admin')).token;
    patient = (await app.services.patientService.create({ name: 'Wanda Warehouse' }, 'system')).id;
    await app.api(admin, 'POST', `/api/v1/patients/${patient}/readings`, { readings: [{ code: '8867-4', value: 72, unit: '/min' }] }).catch(() => undefined);
    const pair = await generateKeyPair('ES384');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'warehouse-1', alg: 'ES384' };
    const reg = await app.api<{ id: string; backend: boolean; confidential: boolean; clientSecret?: string }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Clinic Data Warehouse',
      jwks: { keys: [jwk] },
    });
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ backend: true, confidential: false });
    expect(reg.body.clientSecret).toBeUndefined();
    clientId = reg.body.id;
  });
  afterAll(async () => app && (await app.stop()));

  it('refuses to register private keys, unknown algorithms, or a backend service from a non-admin', async () => {
    const pair = await generateKeyPair('ES384', { extractable: true });
    const priv = await exportJWK(pair.privateKey);
    const withPrivate = await app.api<{ error: { message: string } }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Leaky', jwks: { keys: [priv] } });
    expect(withPrivate.status).toBe(400);
    expect(withPrivate.body.error.message).toContain('private or secret key material');
    const rs256 = { ...(await exportJWK((await generateKeyPair('RS256')).publicKey)), alg: 'RS256' };
    const weak = await app.api<{ error: { message: string } }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Old', jwks: { keys: [rs256] } });
    expect(weak.status).toBe(400);
    expect(weak.body.error.message).toContain('RS384 or ES384');
    const clin = (await app.tokenFor('clinician')).token;
    expect((await app.api(clin, 'POST', '/api/v1/smart/apps', { name: 'Mine', jwks: { keys: [rs256] } })).status).toBe(403);
    const conf = (await (await fetch(`${app.httpUrl}/.well-known/smart-configuration`)).json()) as Record<string, string[]>;
    expect(conf.grant_types_supported).toContain('client_credentials');
    expect(conf.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(conf.token_endpoint_auth_signing_alg_values_supported).toEqual(['RS384', 'ES384']);
    expect(conf.capabilities).toContain('client-confidential-asymmetric');
    expect(conf.scopes_supported).toContain('system/*.rs');
  });

  it('gives a signed assertion a five-minute token with system read scopes only, audited; the assertion works once', async () => {
    const signed = await assertion();
    const t = await tokenRequest(signed, 'system/*.rs system/Observation.cruds user/*.rs openid offline_access');
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'system/*.rs system/Observation.rs' });
    expect(t.body.refresh_token).toBeUndefined();
    expect(t.body.id_token).toBeUndefined();
    expect((await fhir(t.body.access_token, `/Patient/${patient.replace('_', '-')}`)).status).toBe(200);
    const write = await fhir(t.body.access_token, '/Patient', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ text: 'Nope' }] }),
    });
    expect(write.status).toBe(403);
    const [entry] = await app.services.db.query<{ entity_id: string; details: { grant: string; scopes: string[] } }>(
      `SELECT entity_id, details FROM audit_log WHERE action = 'smart.token' ORDER BY id DESC LIMIT 1`,
    );
    expect(entry).toMatchObject({ entity_id: clientId, details: { grant: 'client_credentials', scopes: ['system/*.rs', 'system/Observation.rs'] } });
    const replay = await tokenRequest(signed);
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ error: 'invalid_client' });
    expect(replay.body.error_description).toContain('already used');
  });

  it('refuses assertions with the wrong audience, a long life, another key, an unknown issuer, or no system scope', async () => {
    const cases: Array<[string, Promise<string>, string]> = [
      ['audience', assertion({ aud: `${app.httpUrl}/fhir/R4` }), 'aud'],
      ['lifetime', assertion({ exp: '20m' }), 'within 300 s'],
      ['key', generateKeyPair('ES384').then((p) => assertion({ signWith: p.privateKey })), 'signature'],
      ['issuer', assertion({ iss: 'app-unknown' }), 'no registered backend service'],
      ['expired', assertion({ exp: Math.floor(Date.now() / 1000) - 120 }), '"exp"'],
    ];
    for (const [what, signed, says] of cases) {
      const r = await tokenRequest(await signed);
      expect(r.status, what).toBe(401);
      expect(r.body.error, what).toBe('invalid_client');
      expect(r.body.error_description.toLowerCase(), what).toContain(says.toLowerCase());
    }
    const noScope = await tokenRequest(await assertion(), 'user/*.rs patient/*.rs');
    expect(noScope.status).toBe(400);
    expect(noScope.body.error).toBe('invalid_scope');
    // A backend service cannot use the other grants or pose as a public client.
    expect((await post('/oauth/revoke', { token: 'x', client_id: clientId })).status).toBe(401);
  });

  it('runs a Bulk Data system $export to the end with its token: kick-off, status, NDJSON files', async () => {
    const t = (await tokenRequest(await assertion())).body.access_token as string;
    const kick = await fhir(t, '/$export?_type=Patient', { headers: { prefer: 'respond-async' } });
    expect(kick.status).toBe(202);
    const status = kick.headers.get('content-location')!;
    let manifest: { output: Array<{ type: string; url: string; count: number }> } | null = null;
    for (let i = 0; i < 100 && !manifest; i++) {
      const s = await fetch(status, { headers: { authorization: `Bearer ${t}` } });
      if (s.status === 200) manifest = (await s.json()) as typeof manifest;
      else if (s.status === 202) await new Promise((r) => setTimeout(r, 200));
      else throw new Error(`status answered ${s.status}: ${await s.text()}`);
    }
    const patients = manifest!.output.find((o) => o.type === 'Patient')!;
    const lines = (await (await fetch(patients.url, { headers: { authorization: `Bearer ${t}` } })).text()).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).name[0].text)).toContain('Wanda Warehouse');
  });

  it('stops every token and refresh of a disabled account at once, and a backend service of a disabled admin', async () => {
    // A clinician's app, through the real authorization-code flow.
    const { email, password, recovery, userId } = await clinicianForSmart(app, [patient]);
    const redirectUri = 'http://127.0.0.1:9/cb';
    const appId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Chart Viewer', redirectUris: [redirectUri] })).body.id;
    const { code, verifier } = await authorizeCode(app, { clientId: appId, redirectUri, scope: 'user/*.rs offline_access', email, password, recovery });
    const t = await post('/oauth/token', { grant_type: 'authorization_code', code, client_id: appId, redirect_uri: redirectUri, code_verifier: verifier });
    expect(t.status).toBe(200);
    expect((await fhir(t.body.access_token, `/Patient/${patient.replace('_', '-')}`)).status).toBe(200);
    await app.services.auth.setDisabled(userId, true, 'cli');
    expect((await fhir(t.body.access_token, `/Patient/${patient.replace('_', '-')}`)).status).toBe(401);
    const refresh = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: appId });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error_description).toContain('revoked'); // disabling revokes the grants, so re-enabling revives none

    // The warehouse acts for the admin who registered it: disable that admin and the service stops.
    const before = (await tokenRequest(await assertion())).body.access_token as string;
    const [owner] = await app.services.db.query<{ acts_as: string }>('SELECT acts_as FROM smart_clients WHERE id = $1', [clientId]);
    await app.services.auth.setDisabled(owner.acts_as, true, 'cli');
    expect((await fhir(before, `/Patient/${patient.replace('_', '-')}`)).status).toBe(401);
    const after = await tokenRequest(await assertion());
    expect(after.status).toBe(401);
    expect(after.body.error_description).toContain('disabled');
  });
});
