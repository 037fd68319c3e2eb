import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/auth.service.ts';
import type { Principal } from '../domain/types.ts';
import { AppError } from '../platform/errors.ts';

export const SESSION_COOKIE = 'vigil_session';

/**
 * The session cookie, the one place its attributes are decided (ONC (d)(9), F6): httpOnly, SameSite=Strict,
 * Secure behind https, and gone when the session expires. Sign-in, the second step and the SMART sign-in set it.
 */
export function setSessionCookie(reply: FastifyReply, session: { token: string; expiresAt: number }, secure: boolean): void {
  reply.setCookie(SESSION_COOKIE, session.token, { httpOnly: true, sameSite: 'strict', secure, path: '/', expires: new Date(session.expiresAt) });
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Resolves who is calling from the session cookie or a bearer API token; routes then call `requirePrincipal`.
 * `tokens`: where bearer tokens are looked up (the revocation-safe cache, principal-cache.ts), else the auth service.
 */
export function registerPrincipalResolver(app: FastifyInstance, auth: AuthService, tokens: Pick<AuthService, 'principalFromToken'> = auth) {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) {
      req.principal = await tokens.principalFromToken(header.slice(7).trim());
      return;
    }
    const cookie = req.cookies?.[SESSION_COOKIE];
    if (cookie) req.principal = await auth.principalFromSession(cookie);
  });
}

export function requirePrincipal(req: FastifyRequest): Principal {
  if (!req.principal) throw new AppError('UNAUTHENTICATED', 'sign in or send Authorization: Bearer <token>');
  return req.principal;
}
