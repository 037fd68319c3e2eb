import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { AccessPolicy } from '../auth/access.ts';
import { AppError } from '../platform/errors.ts';

/**
 * Every route declares who may call it, next to its schema (`config: { policy }`). The declaration is
 * enforced here, before the body is validated, by asking the access policy (auth/access.ts): this file
 * names the policies, it never compares roles itself. Services keep their own checks (defence in depth)
 * and scope lists and ids that are not patients (alerts, commands) to what the principal may see.
 */
export type RoutePolicy =
  /** No user: login, the demo hint, health, the web app's files, the API description. */
  | { kind: 'public'; reason: string }
  /** A device's own secret as `Authorization: Bearer`, for the device named by the `:id` parameter. */
  | { kind: 'device'; param: string }
  /** Any signed-in user; `scope` says how the service narrows what they get. */
  | { kind: 'signed-in'; scope: string }
  | { kind: 'staff'; scope: string }
  | { kind: 'admin' }
  /** A user who may see the patient named by the parameter (else 404, no hint the record exists). */
  | { kind: 'patient'; param: string }
  /** Clinical writes on the patient named by the parameter: admins and the patient's own clinicians. */
  | { kind: 'manage-patient'; param: string };

export const policy = {
  public: (reason: string): RoutePolicy => ({ kind: 'public', reason }),
  device: (param = 'id'): RoutePolicy => ({ kind: 'device', param }),
  signedIn: (scope: string): RoutePolicy => ({ kind: 'signed-in', scope }),
  staff: (scope: string): RoutePolicy => ({ kind: 'staff', scope }),
  admin: (): RoutePolicy => ({ kind: 'admin' }),
  patient: (param = 'id'): RoutePolicy => ({ kind: 'patient', param }),
  managePatient: (param = 'id'): RoutePolicy => ({ kind: 'manage-patient', param }),
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (api/policy.ts). Required on every route. */
    policy?: RoutePolicy;
    /** Set by @fastify/static on the web app's files. */
    file?: string;
  }
}

export interface RegisteredRoute {
  method: string;
  url: string;
  policy: RoutePolicy | undefined;
  hasParams: boolean;
  hasParamsSchema: boolean;
  hasResponseSchema: boolean;
  hidden: boolean;
  websocket: boolean;
}

const unauthenticated = () => new AppError('UNAUTHENTICATED', 'sign in or send Authorization: Bearer <token>');

/**
 * Records every route as it is registered and enforces its declared policy on each request. Returns the
 * registry (the table-driven test in routes.test.ts walks it). `app.ready()` fails, naming the routes, when
 * one has no policy: a route cannot be added without saying who may call it.
 */
export function registerRoutePolicies(
  app: FastifyInstance,
  deps: { access: AccessPolicy; authenticateDevice(deviceId: string, secret: string): Promise<boolean> },
) {
  const options: RouteOptions[] = [];
  app.addHook('onRoute', (r) => {
    // @fastify/static registers one route per web app file: those are the public app shell.
    if (r.config?.file && !r.config.policy) r.config = { ...r.config, policy: policy.public('web app file') };
    // @fastify/cors answers browsers' preflight requests (no data; the real request meets its own policy).
    if (r.method === 'OPTIONS' && r.url === '*' && !r.config?.policy) r.config = { ...r.config, policy: policy.public('CORS preflight') };
    options.push(r);
  });
  const routes = (): RegisteredRoute[] =>
    options.map((r) => {
      const schema = (r.schema ?? {}) as { params?: unknown; response?: Record<string, unknown>; hide?: boolean };
      return {
        method: ([] as string[]).concat(r.method).join(','),
        url: r.url,
        policy: r.config?.policy,
        hasParams: r.url.includes(':'),
        hasParamsSchema: !!schema.params,
        hasResponseSchema: !!schema.response && Object.keys(schema.response).some((s) => s.startsWith('2') || s === '101'),
        hidden: schema.hide === true,
        websocket: (r as { websocket?: boolean }).websocket === true,
      };
    });
  app.addHook('onReady', async () => {
    const missing = routes().filter((r) => !r.policy);
    if (missing.length) throw new Error(`routes without a policy (api/policy.ts): ${missing.map((r) => `${r.method} ${r.url}`).join(', ')}`);
  });

  const param = (req: FastifyRequest, name: string): string => {
    // A hook runs for every route, so its params are untyped here: read the one named by the policy.
    const params: unknown = req.params;
    const value = params && typeof params === 'object' ? (params as Record<string, unknown>)[name] : undefined;
    if (typeof value !== 'string' || value === '') throw new AppError('BAD_REQUEST', `missing path parameter ${name}`);
    return value;
  };

  // preValidation: after the principal is resolved (onRequest) and before the body is checked, so an
  // unauthorised caller learns nothing about the route's schema.
  app.addHook('preValidation', async (req) => {
    if (req.is404) {
      // No such route: on /api and /fhir only a signed-in caller learns that (401 first, then 404).
      const url = req.url.split('?')[0];
      if ((url.startsWith('/api') || url.startsWith('/fhir')) && !req.principal) throw unauthenticated();
      return;
    }
    const declared = req.routeOptions.config?.policy;
    if (!declared) throw new AppError('FORBIDDEN', 'this route declares no access policy');
    if (declared.kind === 'public') return;
    if (declared.kind === 'device') {
      const header = req.headers.authorization;
      if (!header?.startsWith('Bearer ') || !(await deps.authenticateDevice(param(req, declared.param), header.slice(7).trim()))) {
        throw new AppError('UNAUTHENTICATED', 'send Authorization: Bearer <device secret>');
      }
      return;
    }
    const p = req.principal;
    if (!p) throw unauthenticated();
    switch (declared.kind) {
      case 'signed-in':
        return;
      case 'staff':
        return deps.access.assertStaff(p);
      case 'admin':
        return deps.access.assertAdmin(p);
      case 'patient':
        return deps.access.assertPatient(p, param(req, declared.param));
      case 'manage-patient':
        return deps.access.assertCanManagePatient(p, param(req, declared.param));
    }
  });

  return { routes };
}

export type RouteRegistry = ReturnType<typeof registerRoutePolicies>;

/** Routes that are part of the API contract (the rest: web app files, API docs, the service worker script). */
export const isApiRoute = (r: RegisteredRoute) => !r.hidden && (r.url.startsWith('/api/') || r.url.startsWith('/fhir/') || r.url === '/health');

/**
 * What a route lacks to follow the pattern in api/README.md: a policy, a response schema for its success
 * status (WebSockets excepted), a params schema when the path has parameters. Empty when all is well.
 */
export function contractProblems(routes: RegisteredRoute[]): string[] {
  const problems: string[] = [];
  for (const r of routes) {
    const name = `${r.method} ${r.url}`;
    if (!r.policy) problems.push(`${name}: no policy`);
    if (!isApiRoute(r)) continue;
    if (!r.hasResponseSchema && !r.websocket) problems.push(`${name}: no response schema`);
    if (r.hasParams && !r.hasParamsSchema) problems.push(`${name}: no params schema`);
  }
  return problems;
}
