import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifySerializerCompiler, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type http from 'node:http';
import https from 'node:https';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import fastifyStatic from '@fastify/static';
import helmet from 'helmet';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { strictBodyValidator } from './strict-bodies.ts';
import type { z } from 'zod';
import type { Logger } from '../platform/logger.ts';
import type { AuthService } from '../auth/auth.service.ts';
import type { AccessPolicy } from '../auth/access.ts';
import { errorHandler } from './errors.ts';
import { registerPrincipalResolver } from './principal.ts';
import { policy, registerRoutePolicies, type RouteRegistry } from './policy.ts';
import { registerOpenApi } from './openapi.ts';
import { AppError } from '../platform/errors.ts';
import { createOriginCheck } from '../auth/origin.ts';

const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** The Fastify instance route modules receive: request and reply typed from the route's zod schemas. */
/** OAuth endpoints an app calls from its own origin (no cookie read): exempt from the cross-site check. */
const OAUTH_APP_ENDPOINTS: ReadonlySet<string> = new Set(['/oauth/token', '/oauth/revoke', '/oauth/introspect']);

export type Api = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/** What a session still missing its second factor may call. */
const PARTIAL_SESSION_ROUTES: Array<[string, string]> = [
  ['POST', '/api/v1/auth/mfa'],
  ['GET', '/api/v1/auth/mfa'],
  ['POST', '/api/v1/auth/mfa/totp'],
  ['POST', '/api/v1/auth/mfa/totp/confirm'],
  ['POST', '/api/v1/auth/passkeys/options'],
  ['POST', '/api/v1/auth/passkeys'],
  ['POST', '/api/v1/auth/passkey/options'],
  ['POST', '/api/v1/auth/passkey'],
  ['POST', '/api/v1/auth/logout'],
  ['GET', '/api/v1/me'],
];

/**
 * Responses are checked against their schema when `strictResponses` is on (tests, CI): drift between
 * the contract and what a service returns fails loudly there. In production the body is sent as the
 * service built it (no per-response cost, and a contract slip never turns a working answer into a 500).
 */
function responseSerializer(strict: boolean): FastifySerializerCompiler<z.ZodType> {
  return ({ schema, method, url }) =>
    (data: unknown) => {
      if (strict) {
        const checked = schema.safeParse(data);
        if (!checked.success) {
          const issue = checked.error.issues[0];
          throw new Error(`response of ${method} ${url} does not match its contract at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
        }
      }
      return JSON.stringify(data);
    };
}

/** Builds the Fastify app (plumbing only: security headers, cookies, WebSocket, schemas, policies, OpenAPI, static files); app.ts adds the route modules. */
export async function createHttpServer(deps: {
  logger: Logger;
  auth: AuthService;
  access: AccessPolicy;
  authenticateDevice(deviceId: string, secret: string): Promise<boolean>;
  version: string;
  strictResponses: boolean;
  /** Bearer-token lookups answered from memory, revocation-safe (principal-cache.ts). */
  principals?: Pick<AuthService, 'principalFromToken'>;
  /** [sec] trusted proxies, allowed browser origins, the public URL (https turns on HSTS). */
  security?: { trustedProxies: string[]; allowedOrigins: string[]; publicUrl?: string };
  /** [sec] (d)(9): serve HTTPS itself with this certificate (VIGIL_TLS_CERT / VIGIL_TLS_KEY). */
  tls?: { cert: Buffer; key: Buffer };
}): Promise<{ http: Api; registry: RouteRegistry }> {
  const sec = deps.security ?? { trustedProxies: [], allowedOrigins: [] };
  // F7: X-Forwarded-For is believed only from the configured proxies, so req.ip is the real client.
  const trustProxy = sec.trustedProxies.length ? sec.trustedProxies : false;
  const app = Fastify({
    loggerInstance: deps.logger.child({ module: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 8 * 1024 * 1024,
    trustProxy,
    // HTTPS through serverFactory keeps the app's (http.Server) types: the TLS server is a drop-in for it.
    ...(deps.tls
      ? {
          serverFactory: (handler: http.RequestListener) => https.createServer({ cert: deps.tls!.cert, key: deps.tls!.key }, handler) as unknown as http.Server,
        }
      : {}),
    // Errors raised by the router itself (a path parameter over maxParamLength, a malformed URL) answer in
    // the API's own error shape, and without echoing the hostile path back.
    frameworkErrors: (err, req, reply) => {
      const code = (err as { code?: string }).code;
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      const message =
        code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'a path parameter is too long (at most 100 characters)'
          : code === 'FST_ERR_BAD_URL'
            ? 'the URL is malformed'
            : 'bad request';
      return errorHandler(Object.assign(new Error(message), { statusCode: status, code: code ?? 'BAD_REQUEST' }), req, reply);
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(strictBodyValidator);
  app.setSerializerCompiler(responseSerializer(deps.strictResponses) as FastifySerializerCompiler<unknown>);
  app.setErrorHandler(errorHandler);
  // F6: JSON routes take JSON only. Fastify parses text/plain by default, which lets a plain HTML form on a
  // sibling site post a JSON-looking body without a CORS preflight; without the parser it answers 415.
  app.removeContentTypeParser('text/plain');
  const overTls = !!deps.tls || (sec.publicUrl ?? '').startsWith('https:');
  // Security headers, by helmet's middleware built once (@fastify/helmet built it again on every request,
  // re-reading the CSP directives: a tenth of a millisecond per API call, bench:fhir).
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        mediaSrc: ["'self'", 'blob:'],
        connectSrc: ["'self'", 'ws:', 'wss:'],
        workerSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // (d)(9): HSTS only when the server is reached over HTTPS; on plain http it would be ignored or harmful.
    strictTransportSecurity: overTls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
  app.addHook('onRequest', (req, reply, done) => securityHeaders(req.raw, reply.raw, (err) => done(err as Error | undefined)));
  const origins = createOriginCheck({ publicUrl: sec.publicUrl, allowedOrigins: sec.allowedOrigins });
  app.addHook('onRequest', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    // The OAuth token, revocation and introspection endpoints are called cross-origin by SMART apps by design;
    // they read no cookie (the code + PKCE verifier, the token itself or the client's own credentials are what
    // count), so there is nothing to forge (found by review: a browser app could not revoke its tokens on sign-out).
    if (req.method === 'POST' && OAUTH_APP_ENDPOINTS.has(decodedPath(req.url))) return;
    // A cross-site form cannot set Authorization: bearer-token clients (scripts, SMART apps) are not CSRF targets.
    if (req.headers.authorization?.startsWith('Bearer ')) return;
    const why = origins.refuseUnsafe(req.headers, req.protocol);
    if (why) throw new AppError('FORBIDDEN', why);
  });
  // (d)(7): patient data is never kept in browser or proxy caches.
  app.addHook('onSend', async (req, reply) => {
    const url = req.routeOptions?.url ?? decodedPath(req.url);
    if (url.startsWith('/api') || url.startsWith('/fhir')) reply.header('cache-control', 'no-store');
  });
  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  registerPrincipalResolver(app, deps.auth, deps.principals);

  // [sec] What a credential may do at all, before any route's policy: a session that has only passed the
  // password reaches the second-factor routes and nothing else (d)(13); a read-only token changes nothing.
  // F12: decided on the route the router matched (its pattern), never on the raw URL: `/%61pi/…` is `/api/…`.
  app.addHook('preValidation', async (req) => {
    const url = req.routeOptions?.url ?? decodedPath(req.url);
    if (!url.startsWith('/api') && !url.startsWith('/fhir')) return;
    const cred = req.principal?.credential;
    if (cred && cred.stage !== 'full' && !PARTIAL_SESSION_ROUTES.some(([method, path]) => method === req.method && path === url)) {
      throw new AppError(
        'UNAUTHENTICATED',
        cred.stage === 'mfa' ? 'enter the code from your authenticator app to finish signing in' : 'set up two-step sign-in first (an authenticator app)',
        { stage: cred.stage },
      );
    }
    if (cred?.scope === 'read' && req.method !== 'GET' && req.method !== 'HEAD') throw new AppError('FORBIDDEN', 'this API token is read-only');
  });
  // Who may call each route is declared on the route and enforced here (interfaces.md §4): api/policy.ts.
  const registry = registerRoutePolicies(app, { access: deps.access, authenticateDevice: deps.authenticateDevice });
  // [sec] U+0000 is never valid text (PostgreSQL text cannot hold it; FHIR forbids it): refused in any path
  // parameter, query value or JSON string with a 400 naming where, before any handler or schema sees it.
  app.addHook('preValidation', async (req) => {
    const where = nulIn('params', req.params) ?? nulIn('querystring', req.query) ?? nulIn('body', req.body);
    if (where) throw new AppError('VALIDATION', `${where}: must not contain NUL characters`);
  });
  await registerOpenApi(app, { version: deps.version });

  if (existsSync(WEB_DIST)) {
    await app.register(fastifyStatic, { root: WEB_DIST, prefix: '/', wildcard: false });
    // Client-side routes fall back to the app shell.
    app.setNotFoundHandler((req, reply) => {
      if (req.method === 'GET' && !req.url.startsWith('/api') && !req.url.startsWith('/fhir')) return reply.sendFile('index.html');
      return errorHandler(new AppError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply);
    });
  } else {
    app.setNotFoundHandler((req, reply) => errorHandler(new AppError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply));
    app.get('/', { config: { policy: policy.public('says the web app is not built') }, schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/plain').send('Vigil is running, but the web app is not built: run "npm run build:web".'),
    );
  }
  return { http: app as unknown as Api, registry };
}

/** The path of the first string (or key) holding U+0000 in a parsed request part, e.g. "body.readings.0.code". */
function nulIn(where: string, value: unknown, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? where : null;
  if (!value || typeof value !== 'object' || depth > 64 || Buffer.isBuffer(value)) return null;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.includes('\u0000')) return `${where}.${k.replaceAll('\u0000', '\\u0000')}`;
    const found = nulIn(`${where}.${k}`, v, depth + 1);
    if (found) return found;
  }
  return null;
}

function decodedPath(url: string): string {
  const p = url.split('?')[0];
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

export { WEB_DIST };
