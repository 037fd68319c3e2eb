/**
 * The bearer-token principal cache (principal-cache.ts) on the real server: answers from memory, and a
 * revoked token or a disabled user is refused at once on this instance (PGlite), and on another instance
 * sharing the PostgreSQL database through the trigger's NOTIFY, long before the cache's own expiry; also
 * when the change is plain SQL (the CLI, an operator), which no instance's code saw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../test/support/app.ts';
import { createTestDatabase, postgresAvailable } from '../../test/support/services.ts';
import { createPrincipalCache } from './principal-cache.ts';

const hasPg = await postgresAvailable();

async function userWithToken(app: TestApp, role: 'admin' | 'clinician' = 'clinician') {
  const email = `${role}-${Math.random().toString(36).slice(2, 8)}@test.vigil`;
  const u = await app.services.auth.createUser({ email, role, password: 'correct horse battery' }, 'system');
  const t = await app.services.auth.createToken(email, 'cache test', 'system');
  return { userId: u.id, tokenId: t.id, token: t.token };
}
const status = async (app: TestApp, token: string) => (await fetch(`${app.httpUrl}/api/v1/patients`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('principal cache on one instance (PGlite)', () => {
  let app: TestApp;
  let admin: string;
  beforeAll(async () => {
    app = await bootApp();
    admin = (await app.tokenFor('admin')).token;
  });
  afterAll(async () => app && (await app.stop()));

  it('answers repeated requests from memory, and refuses a revoked token on the very next request', async () => {
    const u = await userWithToken(app);
    for (let i = 0; i < 5; i++) expect(await status(app, u.token)).toBe(200);
    // Revoked through the API by an admin: the next request is refused, no waiting.
    expect((await app.api(admin, 'DELETE', `/api/v1/tokens/${u.tokenId}`)).status).toBeLessThan(300);
    expect(await status(app, u.token)).toBe(401);
  });

  it('refuses every token of a disabled user on the very next request', async () => {
    const u = await userWithToken(app);
    expect(await status(app, u.token)).toBe(200);
    expect(await status(app, u.token)).toBe(200);
    expect((await app.api(admin, 'POST', `/api/v1/users/${u.userId}/disable`, {})).status).toBeLessThan(300);
    expect(await status(app, u.token)).toBe(401);
  });

  it('serves from memory within its lifetime and asks the database again after it', async () => {
    const u = await userWithToken(app);
    let t = 0;
    const cache = createPrincipalCache({ auth: app.services.auth, db: app.services.db, now: () => t, ttlMs: 1000 });
    try {
      expect((await cache.principalFromToken(u.token))?.userId).toBe(u.userId);
      t = 999;
      expect((await cache.principalFromToken(u.token))?.userId).toBe(u.userId);
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 1 });
      // A change made behind the instance's back (plain SQL on PGlite: no NOTIFY to hear) is seen at expiry.
      await app.services.db.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [u.tokenId]);
      t = 1000;
      expect(await cache.principalFromToken(u.token)).toBeNull();
      expect(await cache.principalFromToken('vgl_not-a-token')).toBeNull();
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 3, size: 0 });
    } finally {
      await cache.close();
    }
  });
});

describe.skipIf(!hasPg)('principal cache across two instances (PostgreSQL LISTEN/NOTIFY)', () => {
  let a: TestApp;
  let b: TestApp;
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    pg = await createTestDatabase();
    a = await bootApp({ databaseUrl: pg.url });
    b = await bootApp({ databaseUrl: pg.url });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await pg?.drop();
  });

  it('drops the entry on every instance when a token is revoked on one, or a user disabled by plain SQL', async () => {
    // B's cache with a lifetime of an hour: only the NOTIFY can make it forget in time.
    const cache = createPrincipalCache({ auth: b.services.auth, db: b.services.db, ttlMs: 3_600_000 });
    await cache.start();
    try {
      const u = await userWithToken(a);
      expect((await cache.principalFromToken(u.token))?.userId).toBe(u.userId);
      expect((await cache.principalFromToken(u.token))?.userId).toBe(u.userId);
      expect(cache.stats().hits).toBe(1);
      await a.services.auth.revokeToken(u.tokenId, 'cli'); // on instance A
      await expect.poll(() => cache.principalFromToken(u.token), { timeout: 10_000, interval: 20 }).toBeNull();

      const v = await userWithToken(a);
      expect((await cache.principalFromToken(v.token))?.userId).toBe(v.userId);
      await a.services.db.query('UPDATE users SET disabled_at = now() WHERE id = $1', [v.userId]); // not through any instance's code
      await expect.poll(() => cache.principalFromToken(v.token), { timeout: 10_000, interval: 20 }).toBeNull();
      // Touching a token (last_used_at) is not a change that matters: no NOTIFY, the entry stays.
      const w = await userWithToken(a);
      await cache.principalFromToken(w.token);
      const inv = cache.stats().invalidations;
      await a.services.db.query('UPDATE api_tokens SET last_used_at = now() WHERE id = $1', [w.tokenId]);
      await a.services.db.query(`SELECT pg_notify('vigil_principals', 'nobody')`); // a marker after it, in order
      await expect.poll(() => cache.stats().invalidations, { timeout: 10_000 }).toBe(inv + 1);
      const hits = cache.stats().hits;
      expect((await cache.principalFromToken(w.token))?.userId).toBe(w.userId);
      expect(cache.stats().hits).toBe(hits + 1);
    } finally {
      await cache.close();
    }
  });

  it('the running instances refuse at once over HTTP too', async () => {
    const admin = (await a.tokenFor('admin')).token;
    const u = await userWithToken(a);
    expect(await status(b, u.token)).toBe(200);
    expect(await status(b, u.token)).toBe(200);
    expect((await a.api(admin, 'DELETE', `/api/v1/tokens/${u.tokenId}`)).status).toBeLessThan(300);
    await expect.poll(() => status(b, u.token), { timeout: 10_000, interval: 10 }).toBe(401);
  });
});
