import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import fastifyStatic from '@fastify/static';
import helmet from '@fastify/helmet';
import type { Logger } from '../platform/logger.ts';
import type { AuthService } from '../auth/auth.service.ts';
import { errorHandler } from './errors.ts';
import { registerPrincipalResolver } from './principal.ts';
import { AppError } from '../platform/errors.ts';
import { createOriginCheck } from '../auth/origin.ts';

const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** Routes reachable without a user: login, demo hint, device ingest (device secret), health. */
const PUBLIC_ROUTES: Array<[string, RegExp]> = [
  ['POST', /^\/api\/v1\/auth\/login$/],
  ['POST', /^\/api\/v1\/auth\/logout$/],
  ['GET', /^\/api\/v1\/demo$/],
  ['POST', /^\/api\/v1\/devices\/[^/]+\/(telemetry|ecg)$/],
  ['GET', /^\/api\/v1\/stream$/], // authenticates itself (cookie or ?token=) and closes with 4401
  ['GET', /^\/api\/v1\/visits\/[^/]+\/signal$/], // [tele] authenticates itself (cookie, ?token= or a guest ?pass=)
  ['POST', /^\/api\/v1\/visits\/[^/]+\/guest-pass$/], // [tele] a one-time invitation link → guest pass
  ['GET', /^\/fhir\/R4\/metadata$/], // SMART App Launch: clients read the CapabilityStatement before they have a token
  ['GET', /^\/fhir\/R4\/\.well-known\/smart-configuration$/], // SMART discovery
];

/** What a session still missing its second factor may call. */
const PARTIAL_SESSION_ROUTES: Array<[string, string]> = [
  ['POST', '/api/v1/auth/mfa'],
  ['GET', '/api/v1/auth/mfa'],
  ['POST', '/api/v1/auth/mfa/totp'],
  ['POST', '/api/v1/auth/mfa/totp/confirm'],
  ['POST', '/api/v1/auth/logout'],
  ['GET', '/api/v1/me'],
];

/** Builds the Fastify app (no routes of its own beyond plumbing); the composition root adds route modules. */
export async function createHttpServer(deps: {
  logger: Logger;
  auth: AuthService;
  /** [sec] trusted proxies, allowed browser origins, the public URL (https turns on HSTS). */
  security?: { trustedProxies: string[]; allowedOrigins: string[]; publicUrl?: string };
}): Promise<FastifyInstance> {
  const sec = deps.security ?? { trustedProxies: [], allowedOrigins: [] };
  // F7: X-Forwarded-For is believed only from the configured proxies, so req.ip is the real client.
  const trustProxy = sec.trustedProxies.length ? sec.trustedProxies : false;
  const app = Fastify({ loggerInstance: deps.logger.child({ module: 'http' }) as unknown as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 8 * 1024 * 1024, trustProxy });
  app.setErrorHandler(errorHandler);
  // F6: JSON routes take JSON only. Fastify parses text/plain by default, which lets a plain HTML form on a
  // sibling site post a JSON-looking body without a CORS preflight; without the parser it answers 415.
  app.removeContentTypeParser('text/plain');
  const https = (sec.publicUrl ?? '').startsWith('https:');
  await app.register(helmet, {
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
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
  const origins = createOriginCheck({ publicUrl: sec.publicUrl, allowedOrigins: sec.allowedOrigins });
  app.addHook('onRequest', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    // A cross-site form cannot set Authorization: bearer-token clients (scripts, SMART apps) are not CSRF targets.
    if (req.headers.authorization?.startsWith('Bearer ')) return;
    // The OAuth token endpoint is called cross-origin by SMART apps by design; it reads no cookie (the
    // one-time code + PKCE verifier or the refresh token are the credential), so there is nothing to forge.
    if (req.method === 'POST' && decodedPath(req.url) === '/oauth/token') return;
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
  registerPrincipalResolver(app, deps.auth);

  // Defence in depth: every /api and /fhir route needs a principal unless listed public (interfaces.md §4).
  // F12: decide on the route the router matched (its pattern), never on the raw URL: `/%61pi/…` is `/api/…`.
  app.addHook('preHandler', async (req) => {
    const url = req.routeOptions?.url ?? decodedPath(req.url);
    if (!url.startsWith('/api') && !url.startsWith('/fhir')) return;
    const cred = req.principal?.credential;
    // (d)(13): a session that has only passed the password may reach the second-factor routes and nothing else.
    if (cred && cred.stage !== 'full' && !PARTIAL_SESSION_ROUTES.some(([method, path]) => method === req.method && path === url)) {
      throw new AppError('UNAUTHENTICATED', cred.stage === 'mfa' ? 'enter the code from your authenticator app to finish signing in' : 'set up two-step sign-in first (an authenticator app)', { stage: cred.stage });
    }
    // A read-only token may not change anything.
    if (cred?.scope === 'read' && req.method !== 'GET' && req.method !== 'HEAD') throw new AppError('FORBIDDEN', 'this API token is read-only');
    if (req.principal) return;
    if (PUBLIC_ROUTES.some(([method, re]) => method === req.method && re.test(url))) return;
    throw new AppError('UNAUTHENTICATED', 'sign in or send Authorization: Bearer <token>');
  });

  if (existsSync(WEB_DIST)) {
    await app.register(fastifyStatic, { root: WEB_DIST, prefix: '/', wildcard: false });
    // Client-side routes fall back to the app shell.
    app.setNotFoundHandler((req, reply) => {
      if (req.method === 'GET' && !req.url.startsWith('/api') && !req.url.startsWith('/fhir')) return reply.sendFile('index.html');
      return errorHandler(new AppError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply);
    });
  } else {
    app.setNotFoundHandler((req, reply) => errorHandler(new AppError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply));
    app.get('/', async (_req, reply) => reply.type('text/plain').send('Vigil is running, but the web app is not built: run "npm run build:web".'));
  }
  return app;
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
