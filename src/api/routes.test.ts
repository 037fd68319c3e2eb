/**
 * The route table, enumerated from the running server (not from a hand-kept list): every route declares
 * a policy and a schema, and every declared policy is enforced. A route added without a schema or a
 * policy fails here; one added without a policy cannot even start (onReady refuses).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../test/support/app.ts';
import { createHttpServer } from './http-server.ts';
import { contractProblems, isApiRoute, policy, type RegisteredRoute } from './policy.ts';
import { createLogger } from '../platform/logger.ts';
import { IdParams } from './contracts/index.ts';
import type { AuthService } from '../auth/auth.service.ts';
import type { AccessPolicy } from '../auth/access.ts';

describe('every registered route has a schema and a policy', () => {
  let app: TestApp;
  let routes: RegisteredRoute[];
  let patientId: string;
  let clinician: string;
  let patient: string;

  beforeAll(async () => {
    app = await bootApp();
    routes = app.routes.routes();
    patientId = (await app.services.patientService.create({ name: 'Route Table' }, 'system')).id;
    clinician = (await app.tokenFor('clinician')).token; // not on this patient's care team
    patient = (await app.tokenFor('patient', { patientId })).token;
  });
  afterAll(async () => app && (await app.stop()));

  const api = () => routes.filter(isApiRoute).filter((r) => r.method !== 'HEAD');
  const concrete = (url: string) =>
    url.replace(/:(\w+)/g, (_m, name: string) =>
      name === 'id' && url.startsWith('/api/v1/patients') ? patientId : name === 'type' ? 'Patient' : `nonexistent-${name}`,
    );

  it('finds the whole API (a sanity floor, so an empty registry cannot pass)', () => {
    expect(api().length).toBeGreaterThanOrEqual(40);
    for (const expected of [
      'GET /api/v1/patients',
      'POST /api/v1/devices/:id/commands',
      'GET /api/v1/alerts',
      'GET /fhir/R4/:type',
      'GET /api/v1/stream',
      'GET /health',
    ]) {
      expect(routes.map((r) => `${r.method} ${r.url}`)).toContain(expected);
    }
  });

  it('has a policy on every route, and a response (and params) schema on every API route', () => {
    expect(contractProblems(routes)).toEqual([]); // no allow-list: every route follows the pattern
    expect(routes.filter((r) => !r.policy)).toEqual([]);
  });

  it('answers 401 without credentials on every route that is not public', async () => {
    const guarded = api().filter((r) => r.policy!.kind !== 'public' && !r.websocket);
    expect(guarded.length).toBeGreaterThan(30);
    for (const r of guarded) {
      const method = r.method.split(',')[0];
      const res = await app.api('', method, concrete(r.url), ['GET', 'DELETE'].includes(method) ? undefined : {});
      expect(res.status, `${method} ${r.url}`).toBe(401);
    }
  });

  it('answers 403 to a clinician on every admin route, and hides other patients (404) on every patient route', async () => {
    for (const r of api().filter((x) => x.policy!.kind === 'admin')) {
      const method = r.method.split(',')[0];
      const res = await app.api(clinician, method, concrete(r.url), method === 'GET' ? undefined : {});
      expect(res.status, `${method} ${r.url}`).toBe(403);
    }
    const patientRoutes = api().filter((x) => x.policy!.kind === 'patient' || x.policy!.kind === 'manage-patient');
    expect(patientRoutes.length).toBeGreaterThanOrEqual(5);
    for (const r of patientRoutes) {
      const method = r.method.split(',')[0];
      const res = await app.api(clinician, method, concrete(r.url), method === 'GET' ? undefined : {});
      expect(res.status, `${method} ${r.url}`).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain('Route Table');
    }
    // The patient themself passes the policy on read routes (the body is the service's answer).
    const own = await app.api(patient, 'GET', `/api/v1/patients/${patientId}`);
    expect(own.status).toBe(200);
  });
});

describe('a route that skips the pattern', () => {
  const deps = async () => ({
    logger: createLogger('silent'),
    auth: { principalFromToken: async () => null, principalFromSession: async () => null } as unknown as AuthService,
    access: {} as AccessPolicy,
    authenticateDevice: async () => false,
    version: 'test',
    strictResponses: true,
  });

  it('without a policy: the server refuses to start, naming the route', async () => {
    const { http } = await createHttpServer(await deps());
    http.get('/api/v1/forgotten', { schema: { response: { 200: IdParams } } }, async () => ({ id: 'x' }));
    await expect(http.ready()).rejects.toThrow(/GET \/api\/v1\/forgotten/);
    await http.close().catch(() => undefined);
  });

  it('without a schema: the table test names it', async () => {
    const { http, registry } = await createHttpServer(await deps());
    http.get('/api/v1/loose/:id', { config: { policy: policy.admin() } }, async () => ({}));
    await http.ready();
    expect(contractProblems(registry.routes())).toEqual([
      'GET /api/v1/loose/:id: no response schema',
      'GET /api/v1/loose/:id: no params schema',
      'HEAD /api/v1/loose/:id: no response schema',
      'HEAD /api/v1/loose/:id: no params schema',
    ]);
    await http.close();
  });
});
