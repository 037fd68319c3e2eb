/**
 * Apps registered with a JWK Set URL (SMART client-confidential-asymmetric: servers SHALL support it) on the
 * real server: an admin registers a backend service by the URL where it publishes its key; the service gets a
 * token and reads FHIR with it; the app rotates its key at that URL; a jku naming another URL, a key set
 * server that is down, and bad registrations are refused with the reason; the admin switches an app between
 * a URL and a set. The key set server is a real HTTP server on the loopback.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { oauthForm } from '../../../../test/support/smart-flow.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

describe('SMART apps with a JWK Set URL', () => {
  let app: TestApp;
  let admin: string;
  let keyServer: Server;
  let jwksUrl: string;
  let served: JWK[] = [];
  let up = true;
  let fetches = 0;
  const keys: Record<string, { priv: CryptoKey; jwk: JWK }> = {};

  const assertion = (clientId: string, kid: string, header: Record<string, unknown> = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT', ...header })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(`${app.httpUrl}/oauth/token`)
      .setExpirationTime('4m')
      .setJti(randomUUID())
      .sign(keys[kid].priv);
  const tokenRequest = async (clientAssertion: string) => {
    const res = await fetch(
      `${app.httpUrl}/oauth/token`,
      oauthForm({ grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: JWT_BEARER, client_assertion: clientAssertion }),
    );
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };

  beforeAll(async () => {
    for (const kid of ['wh-2026', 'wh-2027']) {
      const pair = await generateKeyPair('ES384');
      keys[kid] = { priv: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES384' } };
    }
    served = [keys['wh-2026'].jwk];
    keyServer = createServer((req, res) => {
      fetches++;
      if (!up) return void res.writeHead(503).end();
      // no-store: every assertion fetches the set, so a rotation shows at once (caching: remote-jwks.test.ts).
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((r) => keyServer.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    app = await bootApp();
    admin = (await app.tokenFor('admin')).token;
  });
  afterAll(async () => {
    await app?.stop();
    await new Promise<void>((r) => (keyServer.closeAllConnections(), keyServer.close(() => r())));
  });

  it('registers a backend service by its key set URL; it gets a token and reads; a rotated key works at once', async () => {
    const reg = await app.api<{ id: string; backend: boolean; confidential: boolean }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Warehouse by URL',
      jwksUrl,
    });
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ backend: true, confidential: false });
    const listed = (await app.api<Array<{ id: string; kind: string; jwksUrl: string | null }>>(admin, 'GET', '/api/v1/smart/apps')).body.find(
      (a) => a.id === reg.body.id,
    );
    expect(listed).toMatchObject({ kind: 'backend', jwksUrl });
    const t = await tokenRequest(await assertion(reg.body.id, 'wh-2026'));
    expect(t.status).toBe(200);
    const read = await fetch(`${app.httpUrl}/fhir/R4/Patient?_count=1`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    expect(read.status).toBe(200);
    expect(fetches).toBeGreaterThan(0);
    // The app rotates at its URL: the new key works, the old one stops, with nothing changed in Vigil.
    served = [keys['wh-2027'].jwk];
    expect((await tokenRequest(await assertion(reg.body.id, 'wh-2027'))).status).toBe(200);
    const old = await tokenRequest(await assertion(reg.body.id, 'wh-2026'));
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_client');
    // The IG's jku rule: a jku must be the registered URL.
    expect((await tokenRequest(await assertion(reg.body.id, 'wh-2027', { jku: jwksUrl }))).status).toBe(200);
    const jku = await tokenRequest(await assertion(reg.body.id, 'wh-2027', { jku: 'https://attacker.example/jwks.json' }));
    expect(jku.status).toBe(401);
    expect(jku.body.error_description).toMatch(/jku .* is not the key set URL registered/);
    // The key set server is down: refused with the reason, and no token.
    up = false;
    const down = await tokenRequest(await assertion(reg.body.id, 'wh-2027'));
    up = true;
    expect(down.status).toBe(401);
    expect(down.body).toMatchObject({ error: 'invalid_client' });
    expect(down.body.error_description).toContain('answered HTTP 503');
  });

  it('registers a user-facing app by URL too (client-confidential-asymmetric), and refuses bad registrations', async () => {
    const ui = await app.api<{ asymmetric: boolean; confidential: boolean }>(admin, 'POST', '/api/v1/smart/apps', {
      name: 'Cardiology viewer',
      redirectUris: ['https://viewer.example.org/callback'],
      jwksUrl: 'https://viewer.example.org/.well-known/jwks.json',
    });
    expect(ui.status).toBe(201);
    expect(ui.body).toMatchObject({ asymmetric: true, confidential: true });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'Plain http', jwksUrl: 'http://warehouse.example.org/jwks' }, /jwksUrl must be https/],
      [{ name: 'Both', jwksUrl, jwks: { keys: [keys['wh-2026'].jwk] } }, /not both/],
      [{ name: 'Secret too', jwksUrl, redirectUris: ['https://a.example.org/cb'], confidential: true }, /leave out "confidential"/],
      [{ name: 'Not a URL', jwksUrl: 'keys.json' }, /not an absolute URL/],
    ];
    for (const [body, why] of cases) {
      const r = await app.api<{ error: { message: string } }>(admin, 'POST', '/api/v1/smart/apps', body);
      expect(r.status, String(body.name)).toBe(400);
      expect(r.body.error.message, String(body.name)).toMatch(why);
    }
    const clin = (await app.tokenFor('clinician')).token;
    expect((await app.api(clin, 'POST', '/api/v1/smart/apps', { name: 'Mine', jwksUrl })).status).toBe(403);
  });

  it('lets an admin move an app between a key set URL and a registered set; apps without keys have none to move', async () => {
    const reg = await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Movable', jwks: { keys: [keys['wh-2026'].jwk] } });
    const toUrl = await app.api<{ kind: string; jwksUrl: string | null }>(admin, 'PATCH', `/api/v1/smart/apps/${reg.body.id}`, { jwksUrl });
    expect(toUrl.status).toBe(200);
    expect(toUrl.body).toMatchObject({ kind: 'backend', jwksUrl });
    served = [keys['wh-2027'].jwk];
    expect((await tokenRequest(await assertion(reg.body.id, 'wh-2027'))).status).toBe(200);
    const [row] = await app.services.db.query<{ jwks: unknown; jwks_uri: string | null }>('SELECT jwks, jwks_uri FROM smart_clients WHERE id = $1', [
      reg.body.id,
    ]);
    expect(row).toEqual({ jwks: null, jwks_uri: jwksUrl });
    const back = await app.api<{ jwksUrl: string | null }>(admin, 'PATCH', `/api/v1/smart/apps/${reg.body.id}`, { jwks: { keys: [keys['wh-2026'].jwk] } });
    expect(back.body.jwksUrl).toBeNull();
    expect((await tokenRequest(await assertion(reg.body.id, 'wh-2026'))).status).toBe(200);
    expect((await tokenRequest(await assertion(reg.body.id, 'wh-2027'))).status).toBe(401);
    const [entry] = await app.services.db.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_log WHERE action = 'smart.app.update' AND entity_id = $1 AND details ? 'jwksUrl'`,
      [reg.body.id],
    );
    expect(entry.details.jwksUrl).toBe(jwksUrl);
    const pub = await app.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Public one', redirectUris: ['https://p.example.org/cb'] });
    const refused = await app.api<{ error: { message: string } }>(admin, 'PATCH', `/api/v1/smart/apps/${pub.body.id}`, { jwksUrl });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('no keys to rotate');
  });
});
