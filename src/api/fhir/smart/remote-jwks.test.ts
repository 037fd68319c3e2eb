/**
 * Key sets by URL (remote-jwks.ts) against a real HTTP server on the loopback: the IG's key resolution (jku
 * must be the registered URL; one key by kid and kty), caching no longer than the app's Cache-Control, a
 * rotated key fetched again (not more often than the cooldown), and what a broken or hostile key set server
 * gets: refused with a reason, never a crash or a hang.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cacheSeconds, checkJwksUrl, createRemoteKeySets, MAX_BYTES } from './remote-jwks.ts';

interface Served {
  status: number;
  body: string;
  headers: Record<string, string>;
}

describe('SMART key sets by URL', () => {
  let server: Server;
  let base: string;
  let served: Served;
  let fetches = 0;
  let now = Date.UTC(2026, 11, 2, 12);
  const clock = { now: () => now };
  const keys: Record<string, { priv: CryptoKey; jwk: JWK }> = {};
  const setOf = (...kids: string[]) => JSON.stringify({ keys: kids.map((k) => keys[k].jwk) });
  const sign = (kid: string, header: Record<string, unknown> = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid, ...header })
      .setIssuer('app')
      .setExpirationTime(Math.floor(now / 1000) + 240)
      .sign(keys[kid].priv);
  const verify = async (
    sets: ReturnType<typeof createRemoteKeySets>,
    token: string,
    source: Parameters<ReturnType<typeof createRemoteKeySets>['resolver']>[0],
  ) => (await jwtVerify(token, sets.resolver(source), { algorithms: ['ES384', 'RS384'], currentDate: new Date(now) })).payload.iss;

  beforeAll(async () => {
    for (const kid of ['k1', 'k2']) {
      const pair = await generateKeyPair('ES384', { extractable: true });
      keys[kid] = { priv: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES384' } };
    }
    server = createServer((req, res) => {
      fetches++;
      if (req.url === '/moved') return void res.writeHead(302, { location: '/jwks' }).end();
      if (req.url === '/slow') return; // never answers
      res.writeHead(served.status, { 'content-type': 'application/json', ...served.headers }).end(served.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  beforeEach(() => {
    fetches = 0;
    served = { status: 200, body: setOf('k1'), headers: { 'cache-control': 'max-age=600' } };
  });

  it('reads Cache-Control as the IG asks: never longer than it says', () => {
    expect(cacheSeconds(null)).toBe(300);
    expect(cacheSeconds('public, max-age=60')).toBe(60);
    expect(cacheSeconds('max-age=60, no-cache')).toBe(0);
    expect(cacheSeconds('no-store')).toBe(0);
    expect(cacheSeconds('max-age=-5')).toBe(0);
    expect(cacheSeconds('max-age=999999999')).toBe(86400);
  });

  it('accepts https URLs, and http only on this machine', () => {
    expect(checkJwksUrl('https://warehouse.example.org/.well-known/jwks.json')).toBe('https://warehouse.example.org/.well-known/jwks.json');
    expect(checkJwksUrl('http://127.0.0.1:8080/jwks')).toBe('http://127.0.0.1:8080/jwks');
    for (const [bad, why] of [
      ['http://warehouse.example.org/jwks', /https/],
      ['ftp://warehouse.example.org/jwks', /https/],
      ['file:///etc/passwd', /https/],
      ['https://user:pw@warehouse.example.org/jwks', /password/],
      ['https://warehouse.example.org/jwks#k1', /fragment/],
      ['jwks.json', /absolute/],
    ] as const)
      expect(() => checkJwksUrl(bad), bad).toThrow(why);
  });

  it('keeps a fetched set as long as max-age says, then fetches it again', async () => {
    const sets = createRemoteKeySets(clock);
    const source = { jwksUri: `${base}/jwks` };
    expect(await verify(sets, await sign('k1'), source)).toBe('app');
    expect(await verify(sets, await sign('k1'), source)).toBe('app');
    expect(fetches).toBe(1);
    now += 601_000;
    expect(await verify(sets, await sign('k1'), source)).toBe('app');
    expect(fetches).toBe(2);
  });

  it('does not keep a set served with no-store', async () => {
    served.headers = { 'cache-control': 'no-store' };
    const sets = createRemoteKeySets(clock);
    for (let i = 0; i < 3; i++) await verify(sets, await sign('k1'), { jwksUri: `${base}/jwks` });
    expect(fetches).toBe(3);
  });

  it('fetches again for a kid it has not seen (a rotated key), but not more than once per cooldown', async () => {
    const sets = createRemoteKeySets(clock);
    const source = { jwksUri: `${base}/jwks` };
    await verify(sets, await sign('k1'), source);
    served.body = setOf('k2'); // the app rotated: k1 is gone, k2 is new
    // Within the cooldown the cached set answers: k2 is unknown (a stream of bad kids cannot hammer the app).
    await expect(verify(sets, await sign('k2'), source)).rejects.toThrow(/no applicable key found/);
    expect(fetches).toBe(1);
    now += 31_000;
    expect(await verify(sets, await sign('k2'), source)).toBe('app');
    expect(fetches).toBe(2);
    // The removed key stops at once once the new set is in.
    await expect(verify(sets, await sign('k1'), source)).rejects.toThrow(/no applicable key found/);
  });

  it('follows the jku rule: the registered URL or nothing', async () => {
    const sets = createRemoteKeySets(clock);
    const url = `${base}/jwks`;
    expect(await verify(sets, await sign('k1', { jku: url }), { jwksUri: url })).toBe('app');
    await expect(verify(sets, await sign('k1', { jku: `${base}/other` }), { jwksUri: url })).rejects.toThrow(/jku .* is not the key set URL registered/);
    // An app registered with its set by value has no URL a jku could name.
    await expect(verify(sets, await sign('k1', { jku: url }), { jwks: JSON.parse(setOf('k1')) })).rejects.toThrow(/not the key set URL registered/);
    expect(await verify(sets, await sign('k1'), { jwks: JSON.parse(setOf('k1')) })).toBe('app');
  });

  it('refuses what a broken or hostile key set server sends, naming why', async () => {
    const sets = createRemoteKeySets(clock);
    const token = await sign('k1');
    const cases: Array<[Partial<Served> | string, RegExp]> = [
      [{ status: 404, body: 'not here' }, /answered HTTP 404/],
      [{ body: '<html>' }, /is not JSON/],
      [{ body: '{"keys": "k1"}' }, /is not a JWK Set/],
      [{ body: JSON.stringify({ keys: [{ ...keys.k1.jwk, d: 'secret' }] }) }, /private or secret key material/],
      [{ body: JSON.stringify({ keys: [keys.k1.jwk], pad: 'x'.repeat(MAX_BYTES) }) }, /larger than 65536 bytes/],
      [{ body: JSON.stringify({ keys: [keys.k1.jwk], pad: 'x'.repeat(MAX_BYTES) }), headers: { 'transfer-encoding': 'chunked' } }, /larger than/],
      ['/moved', /could not be fetched/],
    ];
    for (const [what, why] of cases) {
      served = { status: 200, body: setOf('k1'), headers: { 'cache-control': 'no-store' } };
      const path = typeof what === 'string' ? what : '/jwks';
      if (typeof what !== 'string') served = { ...served, ...what, headers: { ...served.headers, ...(what.headers ?? {}) } };
      await expect(verify(sets, token, { jwksUri: `${base}${path}` }), JSON.stringify(what).slice(0, 80)).rejects.toThrow(why);
    }
    // Nothing listening there.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(verify(sets, token, { jwksUri: `http://127.0.0.1:${port}/jwks` })).rejects.toThrow(/could not be fetched/);
  });

  it('gives up on a server that never answers', async () => {
    const sets = createRemoteKeySets(clock);
    const t0 = Date.now();
    await expect(verify(sets, await sign('k1'), { jwksUri: `${base}/slow` })).rejects.toThrow(/could not be fetched .*(timeout|aborted)/i);
    expect(Date.now() - t0).toBeLessThan(8000);
  }, 15_000);
});
