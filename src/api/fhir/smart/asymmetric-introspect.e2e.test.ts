/**
 * SMART "client-confidential-asymmetric" for apps with a user (private_key_jwt, RFC 7523 §2.2, at the token,
 * revocation and introspection endpoints) and token introspection (RFC 7662; SMART App Launch 2.x "Token
 * Introspection"), over real HTTP with the real authorization-code flow and assertions signed by jose.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { authorizeCode, clinicianForSmart, oauthForm } from '../../../../test/support/smart-flow.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const REDIRECT = 'http://127.0.0.1:9/cb';
const SCOPE = 'openid fhirUser offline_access launch/patient patient/Observation.rs';

describe('SMART asymmetric client authentication and token introspection', () => {
  let app: TestApp;
  let admin: string;
  let clinician: { email: string; password: string; recovery: string[]; userId: string };
  let patient: string;
  let tokenUrl: string;
  /** The user-facing app that signs its assertions (ES384), its key, and a second key it never registered. */
  let appId: string;
  let appKey: CryptoKey;
  let strangerKey: CryptoKey;
  let backend: { id: string; key: CryptoKey };
  let secretApp: { id: string; secret: string };
  let publicId: string;

  const post = async (path: string, body: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${app.httpUrl}${path}`, oauthForm(body, headers));
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
  };
  const assertion = (o: { iss?: string; aud?: string; jti?: string; key?: CryptoKey } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', typ: 'JWT' })
      .setIssuer(o.iss ?? appId)
      .setSubject(o.iss ?? appId)
      .setAudience(o.aud ?? tokenUrl)
      .setExpirationTime('4m')
      .setJti(o.jti ?? randomUUID())
      .sign(o.key ?? appKey);
  const signed = async (o: Parameters<typeof assertion>[0] = {}) => ({ client_assertion_type: JWT_BEARER, client_assertion: await assertion(o) });
  const codeExchange = async () => {
    const { code, verifier } = await authorizeCode(app, { clientId: appId, redirectUri: REDIRECT, scope: SCOPE, ...clinician, patient });
    return { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
  };
  const es384Jwk = async (publicKey: CryptoKey) => ({ ...(await exportJWK(publicKey)), alg: 'ES384' });

  beforeAll(async () => {
    app = await bootApp();
    tokenUrl = `${app.httpUrl}/oauth/token`;
    admin = (await app.tokenFor('admin')).token;
    patient = (await app.services.patientService.create({ name: 'Ines Introspect' }, 'system')).id;
    clinician = await clinicianForSmart(app, [patient]);
    const pair = await generateKeyPair('ES384');
    appKey = pair.privateKey;
    strangerKey = (await generateKeyPair('ES384')).privateKey;
    const reg = await app.api<Record<string, any>>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Cardiology Server App',
      redirectUris: [REDIRECT],
      jwks: { keys: [await es384Jwk(pair.publicKey)] },
    });
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ confidential: true, asymmetric: true, backend: false });
    expect(reg.body.clientSecret).toBeUndefined();
    appId = reg.body.id;

    const backendPair = await generateKeyPair('ES384');
    const b = await app.api<{ id: string; backend: boolean }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Resource Server',
      jwks: { keys: [await es384Jwk(backendPair.publicKey)] },
    });
    expect(b.body.backend).toBe(true);
    backend = { id: b.body.id, key: backendPair.privateKey };
    const s = await app.api<{ id: string; clientSecret: string }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Other Server App',
      redirectUris: [REDIRECT],
      confidential: true,
    });
    secretApp = { id: s.body.id, secret: s.body.clientSecret };
    publicId = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Phone App', redirectUris: [REDIRECT] })).body.id;
  });
  afterAll(async () => app && (await app.stop()));

  it('discovery advertises private_key_jwt and the introspection endpoint; keys with a client secret are refused at registration', async () => {
    const conf = (await (await fetch(`${app.httpUrl}/fhir/R4/.well-known/smart-configuration`)).json()) as Record<string, any>;
    expect(conf.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(conf.capabilities).toContain('client-confidential-asymmetric');
    expect(conf.introspection_endpoint).toBe(`${app.httpUrl}/oauth/introspect`);
    const both = await app.api<{ error: { message: string } }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Confused',
      redirectUris: [REDIRECT],
      confidential: true,
      jwks: { keys: [await es384Jwk((await generateKeyPair('ES384')).publicKey)] },
    });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toContain('private_key_jwt');
  });

  it('an app with keys redeems its code only with a valid assertion: no assertion, a stranger key, a wrong aud or another client_id is 401 and spends nothing', async () => {
    const exchange = await codeExchange();
    const refusals = [
      await post('/oauth/token', { ...exchange, client_id: appId }),
      await post('/oauth/token', { ...exchange, ...(await signed({ key: strangerKey })) }),
      await post('/oauth/token', { ...exchange, ...(await signed({ aud: `${app.httpUrl}/oauth/revoke` })) }),
      await post('/oauth/token', { ...exchange, client_id: publicId, ...(await signed()) }),
    ];
    for (const r of refusals) expect(r).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(refusals[0].body.error_description).toContain('private_key_jwt');
    const jti = randomUUID();
    const ok = await post('/oauth/token', { ...exchange, ...(await signed({ jti })) });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer', patient: patient.replace('_', '-') });
    expect(ok.body.refresh_token).toMatch(/^vsr_/);
    // The same assertion again (its jti is spent) is refused, even for a fresh refresh.
    const replay = await post('/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: ok.body.refresh_token,
      client_assertion_type: JWT_BEARER,
      client_assertion: await assertion({ jti }),
    });
    expect(replay).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const refreshed = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: ok.body.refresh_token, ...(await signed()) });
    expect(refreshed.status).toBe(200);
    const obs = await fetch(`${app.httpUrl}/fhir/R4/Observation?patient=${patient.replace('_', '-')}`, {
      headers: { authorization: `Bearer ${refreshed.body.access_token}` },
    });
    expect(obs.status).toBe(200);
  });

  it('a backend service cannot redeem a user code with its assertion', async () => {
    const exchange = await codeExchange();
    const r = await post('/oauth/token', { ...exchange, ...(await signed({ iss: backend.id, key: backend.key })) });
    expect(r).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(r.body.error_description).toContain('backend service');
  });

  it('introspection tells the app about its own tokens with the SMART fields, and nothing to anyone else', async () => {
    const tokens = (await post('/oauth/token', { ...(await codeExchange()), ...(await signed()) })).body;
    const own = await post('/oauth/introspect', { token: tokens.access_token, ...(await signed()) });
    expect(own.status).toBe(200);
    const fhirBase = `${app.httpUrl}/fhir/R4`;
    expect(own.body).toMatchObject({
      active: true,
      scope: tokens.scope,
      client_id: appId,
      token_type: 'Bearer',
      patient: patient.replace('_', '-'),
      iss: fhirBase,
      sub: clinician.userId,
    });
    expect(own.body.fhirUser).toMatch(new RegExp(`^${fhirBase}/Practitioner/`));
    expect(own.body.exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(3500);
    expect(own.body.exp - own.body.iat).toBe(3600);
    const refresh = await post('/oauth/introspect', { token: tokens.refresh_token, ...(await signed()) });
    expect(refresh.body).toMatchObject({ active: true, token_type: 'refresh_token', client_id: appId });

    // Another confidential app learns nothing about it; a public app or no authentication may not ask at all.
    const basic = `Basic ${Buffer.from(`${secretApp.id}:${secretApp.secret}`).toString('base64')}`;
    expect((await post('/oauth/introspect', { token: tokens.access_token }, { authorization: basic })).body).toEqual({ active: false });
    for (const r of [
      await post('/oauth/introspect', { token: tokens.access_token, client_id: publicId }),
      await post('/oauth/introspect', { token: tokens.access_token }),
    ])
      expect(r).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect((await post('/oauth/introspect', { ...(await signed()) })).status).toBe(400);

    // A backend service (acting for an admin) may introspect any token.
    const byBackend = await post('/oauth/introspect', { token: tokens.access_token, ...(await signed({ iss: backend.id, key: backend.key })) });
    expect(byBackend.body).toMatchObject({ active: true, client_id: appId, patient: patient.replace('_', '-') });

    // Unknown, revoked (the app revokes with its assertion) and rotated tokens are simply inactive.
    expect((await post('/oauth/introspect', { token: 'vsa_not-a-token', ...(await signed()) })).body).toEqual({ active: false });
    const revoked = await post('/oauth/revoke', { token: tokens.access_token, ...(await signed()) });
    expect(revoked.status).toBe(200);
    expect((await post('/oauth/introspect', { token: tokens.access_token, ...(await signed()) })).body).toEqual({ active: false });
    await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, ...(await signed()) });
    expect((await post('/oauth/introspect', { token: tokens.refresh_token, ...(await signed()) })).body).toEqual({ active: false });
  });
});
