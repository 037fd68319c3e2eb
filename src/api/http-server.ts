import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import fastifyStatic from '@fastify/static';
import type { Logger } from '../platform/logger.ts';
import type { AuthService } from '../auth/auth.service.ts';
import { errorHandler } from './errors.ts';
import { registerPrincipalResolver } from './principal.ts';
import { AppError } from '../platform/errors.ts';

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
];

/** Builds the Fastify app (no routes of its own beyond plumbing); the composition root adds route modules. */
export async function createHttpServer(deps: { logger: Logger; auth: AuthService }): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger.child({ module: 'http' }) as unknown as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 8 * 1024 * 1024, trustProxy: true });
  app.setErrorHandler(errorHandler);
  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  registerPrincipalResolver(app, deps.auth);

  // Defence in depth: every /api and /fhir route needs a principal unless listed public (interfaces.md §4).
  app.addHook('preHandler', async (req) => {
    const url = req.url.split('?')[0];
    if (!url.startsWith('/api') && !url.startsWith('/fhir')) return;
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

export { WEB_DIST };
