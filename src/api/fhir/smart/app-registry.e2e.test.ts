/**
 * Looking after registered SMART apps on the real server (app-registry.ts): an admin lists them with their live
 * tokens, corrects one, rotates a backend service's key and a confidential app's secret, cuts every token an
 * app holds, and removes an app — each taking effect on the app's very next request, each audited. Nobody but
 * an admin may do any of it.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { authorizeCode, clinicianForSmart, oauthForm } from '../../../../test/support/smart-flow.ts';

const REDIRECT = 'http://127.0.0.1:9/cb';
const SCOPE = 'openid fhirUser offline_access user/Observation.rs';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

type Summary = {
  id: string;
  name: string;
  kind: string;
  redirectUris: string[];
  launchUrl: string | null;
  liveTokens: number;
  users: number;
  lastTokenAt: string | null;
};

describe('SMART app registry: list, correct, rotate, revoke, remove', () => {
  let app: TestApp;
  let admin: string;
  let nurse: string;
  let patient: string;
  let clinician: { email: string; password: string; recovery: string[] };
  let publicApp: string;

  const post = async (path: string, body: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${app.httpUrl}${path}`, oauthForm(body, headers));
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
  };
  const fhirStatus = async (accessToken: string) =>
    (await fetch(`${app.httpUrl}/fhir/R4/Observation?patient=${patient.replace('_', '-')}`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
  /** A real authorization-code exchange: the app's access and refresh tokens. */
  const tokensFor = async (clientId: string, auth: Record<string, string> = {}, headers: Record<string, string> = {}) => {
    const { code, verifier } = await authorizeCode(app, { clientId, redirectUri: REDIRECT, scope: SCOPE, ...clinician });
    const res = await post(
      '/oauth/token',
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        ...(headers.authorization ? {} : { client_id: clientId }),
        ...auth,
      },
      headers,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { access_token: string; refresh_token: string };
  };
  const list = async () => (await app.api<Summary[]>(admin, 'GET', '/api/v1/smart/apps')).body;
  const auditActions = async (id: string) =>
    (await app.services.db.query<{ action: string }>(`SELECT action FROM audit_log WHERE entity_id = $1 ORDER BY id`, [id])).map((r) => r.action);

  beforeAll(async () => {
    app = await bootApp();
    admin = (await app.tokenFor('admin')).token;
    nurse = (await app.tokenFor('clinician')).token;
    patient = (await app.services.patientService.create({ name: 'Ada Registry' }, 'system')).id;
    clinician = await clinicianForSmart(app, [patient]);
    publicApp = (await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Phone Charts', redirectUris: [REDIRECT] })).body.id;
  });
  afterAll(async () => app && (await app.stop()));

  it('lists every app with its kind and live tokens (admins only)', async () => {
    const { access_token } = await tokensFor(publicApp);
    expect(await fhirStatus(access_token)).toBe(200);
    const mine = (await list()).find((a) => a.id === publicApp)!;
    expect(mine).toMatchObject({ name: 'Phone Charts', kind: 'public', redirectUris: [REDIRECT], launchUrl: null, liveTokens: 2, users: 1 });
    expect(Date.parse(mine.lastTokenAt!)).toBeGreaterThan(Date.now() - 60_000);
    for (const [method, path, body] of [
      ['GET', '/api/v1/smart/apps', undefined],
      ['PATCH', `/api/v1/smart/apps/${publicApp}`, { name: 'Hijacked' }],
      ['POST', `/api/v1/smart/apps/${publicApp}/revoke`, {}],
      ['DELETE', `/api/v1/smart/apps/${publicApp}`, undefined],
    ] as const) {
      expect((await app.api(nurse, method, path, body)).status, `${method} ${path}`).toBe(403);
      expect((await fetch(`${app.httpUrl}${path}`, { method })).status, `${method} ${path} without a login`).toBe(401);
    }
    expect((await list()).find((a) => a.id === publicApp)!.name).toBe('Phone Charts');
  });

  it('corrects name, redirect URIs and launch URL; refuses what would change the kind or is not a safe URL, changing nothing', async () => {
    const created = await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Old Name',
      redirectUris: [REDIRECT, 'https://old.example/cb'],
    });
    const id = created.body.id;
    // A code issued for the URI about to be removed must not be redeemable after the change.
    const pending = await authorizeCode(app, { clientId: id, redirectUri: 'https://old.example/cb', scope: SCOPE, ...clinician });
    const ok = await app.api<Summary>(admin, 'PATCH', `/api/v1/smart/apps/${id}`, {
      name: '  New Name ',
      redirectUris: [REDIRECT],
      launchUrl: 'https://new.example/launch',
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ name: 'New Name', redirectUris: [REDIRECT], launchUrl: 'https://new.example/launch', kind: 'public' });
    const spent = await post('/oauth/token', {
      grant_type: 'authorization_code',
      code: pending.code,
      redirect_uri: 'https://old.example/cb',
      code_verifier: pending.verifier,
      client_id: id,
    });
    expect(spent.status).toBe(400);
    expect(spent.body.error).toBe('invalid_grant');
    const launchable = (await app.api<Array<{ id: string }>>(nurse, 'GET', '/api/v1/smart/apps/launchable')).body;
    expect(launchable.map((a) => a.id)).toContain(id);

    for (const [body, message] of [
      [{ redirectUris: ['http://evil.example/cb'] }, 'must be an absolute https URL'],
      [{ redirectUris: [] }, 'at least one redirect URI'],
      [{ launchUrl: 'https://x.example/#frag' }, 'without a fragment'],
      [{ name: '   ' }, 'needs a name'],
      [{}, 'at least one of'],
      [{ secretHash: 'x' }, 'secretHash'],
    ] as const) {
      const res = await app.api<{ error: { message: string } }>(admin, 'PATCH', `/api/v1/smart/apps/${id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.body), JSON.stringify(body)).toContain(message);
    }
    const noKeys = await app.api<{ error: { message: string } }>(admin, 'PATCH', `/api/v1/smart/apps/${id}`, {
      jwks: { keys: [{ ...(await exportJWK((await generateKeyPair('ES384')).publicKey)), alg: 'ES384' }] },
    });
    expect(noKeys.status).toBe(400);
    expect(noKeys.body.error.message).toContain('no keys to rotate');
    expect((await list()).find((a) => a.id === id)).toMatchObject({ name: 'New Name', redirectUris: [REDIRECT], launchUrl: 'https://new.example/launch' });
    const cleared = await app.api<Summary>(admin, 'PATCH', `/api/v1/smart/apps/${id}`, { launchUrl: null });
    expect(cleared.body.launchUrl).toBeNull();
    expect((await app.api(admin, 'PATCH', '/api/v1/smart/apps/app_nope', { name: 'x' })).status).toBe(404);
    expect(await auditActions(id)).toEqual(expect.arrayContaining(['smart.app.register', 'smart.app.update']));
  });

  it("rotates a backend service's keys: the old key stops at once, the new one works", async () => {
    const tokenUrl = `${app.httpUrl}/oauth/token`;
    const oldPair = await generateKeyPair('ES384');
    const newPair = await generateKeyPair('ES384');
    const jwk = async (k: CryptoKey, kid: string) => ({ ...(await exportJWK(k)), kid, alg: 'ES384' });
    const reg = await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Warehouse', jwks: { keys: [await jwk(oldPair.publicKey, 'k1')] } });
    const id = reg.body.id;
    const token = async (key: CryptoKey, kid: string) =>
      post('/oauth/token', {
        grant_type: 'client_credentials',
        scope: 'system/Observation.rs',
        client_assertion_type: JWT_BEARER,
        client_assertion: await new SignJWT({})
          .setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT' })
          .setIssuer(id)
          .setSubject(id)
          .setAudience(tokenUrl)
          .setExpirationTime('4m')
          .setJti(randomUUID())
          .sign(key),
      });
    expect((await token(oldPair.privateKey, 'k1')).status).toBe(200);
    const rotated = await app.api<Summary>(admin, 'PATCH', `/api/v1/smart/apps/${id}`, { jwks: { keys: [await jwk(newPair.publicKey, 'k2')] } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.kind).toBe('backend');
    const old = await token(oldPair.privateKey, 'k1');
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_client');
    expect((await token(newPair.privateKey, 'k2')).status).toBe(200);
    const privateKey = await app.api<{ error: { message: string } }>(admin, 'PATCH', `/api/v1/smart/apps/${id}`, {
      jwks: { keys: [await exportJWK((await generateKeyPair('ES384', { extractable: true })).privateKey)] },
    });
    expect(privateKey.status).toBe(400);
    expect(privateKey.body.error.message).toContain('private or secret key material');
    const uris = await app.api<{ error: { message: string } }>(admin, 'PATCH', `/api/v1/smart/apps/${id}`, { redirectUris: [REDIRECT] });
    expect(uris.status).toBe(400);
    expect(uris.body.error.message).toContain('backend service has no redirect URI');
  });

  it("rotates a confidential app's secret: the old secret is refused at once, the new one works, shown once", async () => {
    const reg = await app.api<{ id: string; clientSecret: string }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Server App',
      redirectUris: [REDIRECT],
      confidential: true,
    });
    const id = reg.body.id;
    const basic = (secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
    await tokensFor(id, {}, basic(reg.body.clientSecret));
    const rotated = await app.api<{ clientSecret: string }>(admin, 'POST', `/api/v1/smart/apps/${id}/secret`, {});
    expect(rotated.status).toBe(200);
    expect(rotated.body.clientSecret).toMatch(/^vcs_/);
    expect(rotated.body.clientSecret).not.toBe(reg.body.clientSecret);
    const { code, verifier } = await authorizeCode(app, { clientId: id, redirectUri: REDIRECT, scope: SCOPE, ...clinician });
    const exchange = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    const withOld = await post('/oauth/token', exchange, basic(reg.body.clientSecret));
    expect(withOld.status).toBe(401);
    expect(withOld.body.error).toBe('invalid_client');
    expect((await post('/oauth/token', exchange, basic(rotated.body.clientSecret))).status).toBe(200);
    const [row] = await app.services.db.query<{ secret_hash: string }>('SELECT secret_hash FROM smart_clients WHERE id = $1', [id]);
    expect(row.secret_hash).not.toContain(rotated.body.clientSecret);
    const notConfidential = await app.api<{ error: { message: string } }>(admin, 'POST', `/api/v1/smart/apps/${publicApp}/secret`, {});
    expect(notConfidential.status).toBe(400);
    expect(notConfidential.body.error.message).toContain('only a confidential app');
    expect(await auditActions(id)).toContain('smart.app.secret');
  });

  it('revokes every token an app holds: access and refresh stop on the next request; the app may be authorised again', async () => {
    const a = await tokensFor(publicApp);
    expect(await fhirStatus(a.access_token)).toBe(200);
    const revoked = await app.api<{ revokedTokens: number }>(admin, 'POST', `/api/v1/smart/apps/${publicApp}/revoke`, {});
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedTokens).toBeGreaterThanOrEqual(2);
    expect(await fhirStatus(a.access_token)).toBe(401);
    const refresh = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: a.refresh_token, client_id: publicApp });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe('invalid_grant');
    expect((await list()).find((x) => x.id === publicApp)!.liveTokens).toBe(0);
    const again = await tokensFor(publicApp);
    expect(await fhirStatus(again.access_token)).toBe(200);
  });

  it('removes an app: its tokens stop at once, it cannot get new ones, and the audit trail keeps its history', async () => {
    const reg = await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Dropped Vendor', redirectUris: [REDIRECT] });
    const id = reg.body.id;
    const t = await tokensFor(id);
    const pending = await authorizeCode(app, { clientId: id, redirectUri: REDIRECT, scope: SCOPE, ...clinician });
    const removed = await app.api<{ id: string; revokedTokens: number }>(admin, 'DELETE', `/api/v1/smart/apps/${id}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ id, revokedTokens: 2 });
    expect(await fhirStatus(t.access_token)).toBe(401);
    const code = await post('/oauth/token', {
      grant_type: 'authorization_code',
      code: pending.code,
      redirect_uri: REDIRECT,
      code_verifier: pending.verifier,
      client_id: id,
    });
    expect(code.status).toBe(401); // the client is unknown now: refused before the grant is looked at
    expect(code.body.error).toBe('invalid_client');
    const refresh = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: id });
    expect(refresh.status).toBe(401);
    expect(refresh.body.error).toBe('invalid_client');
    expect((await list()).some((a) => a.id === id)).toBe(false);
    expect((await app.api(admin, 'DELETE', `/api/v1/smart/apps/${id}`)).status).toBe(404);
    expect(await auditActions(id)).toEqual(expect.arrayContaining(['smart.app.register', 'smart.token', 'smart.app.remove']));
    await app.services.audit.flush();
    expect((await app.services.audit.verify()).bad).toEqual([]);
  });
});
