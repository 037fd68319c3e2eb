/**
 * SMART confidential clients ("client-confidential-symmetric": client_secret_basic / client_secret_post, RFC
 * 6749 §2.3.1) and token revocation (RFC 7009), over real HTTP with the real authorization-code flow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { authorizeCode, clinicianForSmart, oauthForm } from '../../../../test/support/smart-flow.ts';

const REDIRECT = 'http://127.0.0.1:9/cb';
const SCOPE = 'openid fhirUser offline_access user/Observation.rs';

describe('SMART confidential clients and token revocation', () => {
  let app: TestApp;
  let email: string;
  let password: string;
  let recovery: string[];
  let patient: string;
  let confidential: { id: string; clientSecret: string };
  let publicId: string;

  const basic = (id: string, secret: string) => ({
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
  });
  const post = async (path: string, body: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${app.httpUrl}${path}`, oauthForm(body, headers));
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as Record<string, any> };
  };
  const fhirStatus = async (accessToken: string) =>
    (await fetch(`${app.httpUrl}/fhir/R4/Observation?patient=${patient.replace('_', '-')}`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
  const codeFor = (clientId: string) => authorizeCode(app, { clientId, redirectUri: REDIRECT, scope: SCOPE, email, password, recovery });
  const grantRows = async (clientId: string) =>
    app.services.db.query<{ kind: string; revoked: boolean }>(
      `SELECT kind, revoked_at IS NOT NULL AS revoked FROM smart_grants WHERE client_id = $1 AND kind <> 'code' ORDER BY created_at`,
      [clientId],
    );

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    patient = (await s.patientService.create({ name: 'Ada Lovelace' }, 'system')).id;
    ({ email, password, recovery } = await clinicianForSmart(app, [patient]));
    const admin = (await app.tokenFor('admin')).token;
    const registered = await app.api<{ id: string; clientSecret?: string; confidential: boolean }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Clinic Server App',
      redirectUris: [REDIRECT],
      confidential: true,
    });
    expect(registered.status).toBe(201);
    expect(registered.body.confidential).toBe(true);
    expect(registered.body.clientSecret).toMatch(/^vcs_[A-Za-z0-9_-]{40,}$/);
    confidential = { id: registered.body.id, clientSecret: registered.body.clientSecret! };
    const pub = await app.api<{ id: string; clientSecret?: string; confidential: boolean }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Patient Phone App',
      redirectUris: [REDIRECT],
    });
    expect(pub.body).toMatchObject({ confidential: false });
    expect(pub.body.clientSecret).toBeUndefined();
    publicId = pub.body.id;
  });
  afterAll(async () => app && (await app.stop()));

  it('keeps only a hash of the client secret, and discovery advertises the methods and the revocation endpoint', async () => {
    const [row] = await app.services.db.query<{ secret_hash: string }>('SELECT secret_hash FROM smart_clients WHERE id = $1', [confidential.id]);
    expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.secret_hash).not.toContain(confidential.clientSecret);
    const conf = (await (await fetch(`${app.httpUrl}/fhir/R4/.well-known/smart-configuration`)).json()) as Record<string, any>;
    expect(conf.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic', 'client_secret_post']));
    expect(conf.capabilities).toContain('client-confidential-symmetric');
    expect(conf.revocation_endpoint).toBe(`${app.httpUrl}/oauth/revoke`);
  });

  it('a confidential client must prove its secret: without it or with a wrong one, 401 invalid_client and the code is not spent', async () => {
    const { code, verifier } = await codeFor(confidential.id);
    const exchange = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    const missing = await post('/oauth/token', { ...exchange, client_id: confidential.id });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toBe('invalid_client');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Basic/);
    const wrong = await post('/oauth/token', exchange, basic(confidential.id, `${confidential.clientSecret}x`));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'invalid_client', error_description: 'the client secret is wrong' });
    const both = await post('/oauth/token', { ...exchange, client_secret: confidential.clientSecret }, basic(confidential.id, confidential.clientSecret));
    expect(both.status).toBe(400);
    expect(both.body.error).toBe('invalid_request');
    // The same code still works with the right secret (HTTP Basic).
    const ok = await post('/oauth/token', exchange, basic(confidential.id, confidential.clientSecret));
    expect(ok.status).toBe(200);
    expect(ok.body.access_token).toMatch(/^vsa_/);
    expect(ok.body.refresh_token).toMatch(/^vsr_/);
    expect(await fhirStatus(ok.body.access_token)).toBe(200);
    // client_secret_post works for the refresh; without the secret the refresh is refused.
    const noSecret = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: ok.body.refresh_token, client_id: confidential.id });
    expect(noSecret.status).toBe(401);
    const refreshed = await post('/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: ok.body.refresh_token,
      client_id: confidential.id,
      client_secret: confidential.clientSecret,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.access_token).toMatch(/^vsa_/);
  });

  it("one client cannot redeem another's code, and a public client cannot present a secret", async () => {
    const { code, verifier } = await codeFor(confidential.id);
    const stolen = await post('/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: publicId });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
    const pub = await codeFor(publicId);
    const withSecret = await post(
      '/oauth/token',
      { grant_type: 'authorization_code', code: pub.code, redirect_uri: REDIRECT, code_verifier: pub.verifier },
      basic(publicId, 'made-up'),
    );
    expect(withSecret.status).toBe(401);
    expect(withSecret.body.error_description).toContain('public client');
  });

  it('revoking an access token ends it at once; revoking a refresh token ends the whole grant; both are audited', async () => {
    const pub = await codeFor(publicId);
    const t = await post('/oauth/token', {
      grant_type: 'authorization_code',
      code: pub.code,
      redirect_uri: REDIRECT,
      code_verifier: pub.verifier,
      client_id: publicId,
    });
    expect(t.status).toBe(200);
    expect(await fhirStatus(t.body.access_token)).toBe(200);

    // Another client may not revoke it (RFC 7009 §2.1), and nothing changes.
    const foreign = await post('/oauth/revoke', { token: t.body.access_token }, basic(confidential.id, confidential.clientSecret));
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe('unauthorized_client');
    expect(await fhirStatus(t.body.access_token)).toBe(200);
    // Without naming the client: 401.
    expect((await post('/oauth/revoke', { token: t.body.access_token })).status).toBe(401);

    const revoked = await post('/oauth/revoke', { token: t.body.access_token, token_type_hint: 'access_token', client_id: publicId });
    expect(revoked.status).toBe(200);
    expect(revoked.headers.get('cache-control')).toBe('no-store');
    expect(await fhirStatus(t.body.access_token)).toBe(401);
    // The refresh token is untouched by revoking the access token; it still gives a new access token.
    const again = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: publicId });
    expect(again.status).toBe(200);
    expect(await fhirStatus(again.body.access_token)).toBe(200);

    // Revoking the (rotated) refresh token ends every token of the grant, the new access token included.
    const end = await post('/oauth/revoke', { token: again.body.refresh_token, client_id: publicId });
    expect(end.status).toBe(200);
    expect(await fhirStatus(again.body.access_token)).toBe(401);
    expect((await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: again.body.refresh_token, client_id: publicId })).status).toBe(400);
    expect((await grantRows(publicId)).every((g) => g.revoked)).toBe(true);

    // An unknown or already revoked token: 200, as RFC 7009 §2.2 asks; nothing is audited for it.
    const before = Number((await app.services.db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log WHERE action = 'smart.revoke'`))[0].n);
    expect((await post('/oauth/revoke', { token: 'vsa_not-a-token', client_id: publicId })).status).toBe(200);
    expect((await post('/oauth/revoke', { token: again.body.refresh_token, client_id: publicId })).status).toBe(200);
    const entries = await app.services.db.query<{ entity_id: string; patient_id: string | null; details: { tokenType: string; revoked: number } }>(
      `SELECT entity_id, patient_id, details FROM audit_log WHERE action = 'smart.revoke' ORDER BY id`,
    );
    expect(entries).toHaveLength(before);
    expect(entries.map((e) => e.details.tokenType)).toEqual(['access', 'refresh']);
    expect(entries[1].details.revoked).toBeGreaterThanOrEqual(2); // the new access token and the refresh token
    expect(entries.every((e) => e.entity_id === publicId)).toBe(true);
    // A missing token parameter is a clear 400.
    const none = await post('/oauth/revoke', { client_id: publicId });
    expect(none.status).toBe(400);
    expect(none.body).toMatchObject({ error: 'invalid_request' });
  });
});
