import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/auth.service.ts';
import { requirePrincipal, SESSION_COOKIE } from '../principal.ts';
import { AppError, badRequest } from '../../platform/errors.ts';
import { createLoginThrottle } from '../../auth/login-throttle.ts';

export function authRoutes(app: FastifyInstance, deps: { auth: AuthService; secureCookies: boolean; demoLogins: () => Array<{ email: string; password: string; role: string }> }) {
  const throttle = createLoginThrottle();
  app.post('/api/v1/auth/login', async (req, reply) => {
    const body = req.body as { email?: unknown; password?: unknown } | undefined;
    if (typeof body?.email !== 'string' || typeof body?.password !== 'string') throw badRequest('email and password are required');
    if (throttle.blocked(body.email, req.ip)) throw new AppError('TOO_MANY', 'too many failed sign-ins; wait 15 minutes and try again');
    let session;
    try {
      session = await deps.auth.login(body.email, body.password);
    } catch (err) {
      throttle.failed(body.email, req.ip);
      throw err;
    }
    throttle.succeeded(body.email);
    const { token, user, expiresAt } = session;
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure: deps.secureCookies, path: '/', expires: new Date(expiresAt) });
    return { user: me(user) };
  });

  app.post('/api/v1/auth/logout', async (req, reply) => {
    const cookie = req.cookies?.[SESSION_COOKIE];
    if (cookie) await deps.auth.logout(cookie);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.status(204).send();
  });

  app.get('/api/v1/me', async (req) => me(requirePrincipal(req)));

  // The demo clinic's logins, so the sign-in page can show them (only while the demo seed is in use).
  app.get('/api/v1/demo', async (_req, reply) => {
    const logins = deps.demoLogins();
    if (logins.length === 0) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no demo clinic' } });
    return { logins };
  });
}

export function me(p: import('../../domain/types.ts').Principal) {
  return { id: p.userId, email: p.email, role: p.role, displayName: p.displayName, patientId: p.patientId };
}
