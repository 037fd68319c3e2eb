import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../../auth/auth.service.ts';
import { requirePrincipal, SESSION_COOKIE, setSessionCookie } from '../principal.ts';
import { AppError } from '../../platform/errors.ts';
import { countedAttempt, mfaThrottleKey, throttledAttempt, type SignInThrottles } from '../../auth/login-throttle.ts';
import { isLoopback } from '../../auth/origin.ts';
import type { Principal } from '../../domain/types.ts';
import {
  CodeBody,
  TotpConfirmBody,
  CurrentFactorBody,
  DemoInfo,
  ErrorBody,
  LoginBody,
  LoginResponse,
  LogoutEverywhereBody,
  LogoutEverywhereResult,
  Me,
  MfaStatus,
  NoContent,
  PasswordChangeBody,
  SessionInfo,
  TotpConfirmed,
  TotpEnrolment,
  Passkey,
  PasskeyOptions,
  PasskeyParams,
  PasskeyRegistered,
  PasskeyRegistrationBody,
  PasskeyRenameBody,
  PasskeySignInBody,
  StepUpResult,
} from '../contracts/index.ts';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { PasswordReset } from '../../auth/password-reset.ts';
import { PasswordResetAccepted, PasswordResetConfirmBody, PasswordResetRequestBody } from '../contracts/index.ts';

/**
 * Sign-in (password, then a second factor), sign-out, password change, sessions, second-factor enrolment
 * (ONC §170.315(d)(1), (d)(5), (d)(13)).
 */
export function authRoutes(
  app: Api,
  deps: {
    auth: AuthService;
    passwordReset: PasswordReset;
    secureCookies: boolean;
    demoLogins: () => Array<{ email: string; password: string; role: string }>;
    /** signIn is shared with the SMART authorize screen: one count of failures per account and address. */
    throttles: SignInThrottles;
  },
) {
  /**
   * Changing second factors asks for a current code (auth.service.ts proveCurrentFactor); guessing it is
   * throttled per account like sign-in's second step.
   */
  async function currentFactorGuarded<T>(req: FastifyRequest, reply: FastifyReply, current: string | undefined, fn: () => Promise<T>): Promise<T> {
    return throttledAttempt(
      throttle,
      `mfa-replace:${requirePrincipal(req).userId}`,
      req.ip,
      {
        tooMany: 'too many wrong codes',
        isFailure: (err) => err instanceof AppError && /^(current|password): that is not/.test(err.message),
        clearOnSuccess: !!current,
        onRefused: (s) => reply.header('retry-after', String(s)),
      },
      fn,
    );
  }
  const throttle = deps.throttles.signIn;
  const resetThrottle = deps.throttles.resetRequest;
  const confirmThrottle = deps.throttles.resetConfirm;
  const setSession = (reply: FastifyReply, token: string, expiresAt: number) => setSessionCookie(reply, { token, expiresAt }, deps.secureCookies);
  const cookieOf = (req: FastifyRequest) => req.cookies?.[SESSION_COOKIE];

  app.post(
    '/api/v1/auth/login',
    {
      config: { policy: policy.public('signing in') },
      schema: {
        summary: 'Sign in with email and password (then a second factor when stage is "mfa" or "enrol")',
        body: LoginBody,
        response: { 200: LoginResponse },
      },
    },
    async (req, reply) => {
      const { email, password } = req.body;
      const session = await throttledAttempt(
        throttle,
        email,
        req.ip,
        {
          tooMany: 'too many failed sign-ins',
          isFailure: (err) => err instanceof AppError && err.code === 'UNAUTHENTICATED',
          onRefused: (s) => reply.header('retry-after', String(s)),
        },
        () => deps.auth.login(email, password, { ip: req.ip }),
      );
      setSession(reply, session.token, session.expiresAt);
      return { user: me(session.user), stage: session.stage };
    },
  );

  // Second step: the code from the authenticator app (or a recovery code).
  app.post(
    '/api/v1/auth/mfa',
    {
      config: { policy: policy.public('the second sign-in step: the handler needs the password-stage session cookie') },
      schema: { summary: 'Second sign-in step: an authenticator code or a recovery code', body: CodeBody, response: { 200: LoginResponse } },
    },
    async (req, reply) => {
      const token = cookieOf(req);
      if (!token) throw new AppError('UNAUTHENTICATED', 'sign in with your password first');
      const { code } = req.body;
      const key = await mfaThrottleKey(deps.auth, token);
      const s = await throttledAttempt(
        throttle,
        key,
        req.ip,
        { tooMany: 'too many wrong codes', isFailure: () => true, onRefused: (sec) => reply.header('retry-after', String(sec)) },
        () => deps.auth.completeMfa(token, code, { ip: req.ip }),
      );
      setSession(reply, s.token, s.expiresAt);
      return { user: me(s.user), stage: 'full' as const };
    },
  );

  app.get(
    '/api/v1/auth/mfa',
    {
      config: { policy: policy.signedIn('their own second-factor status') },
      schema: { summary: 'My second factors (and whether my role requires one)', response: { 200: MfaStatus } },
    },
    async (req) => deps.auth.mfaStatus(requirePrincipal(req)),
  );
  app.post(
    '/api/v1/auth/mfa/totp',
    {
      config: { policy: policy.signedIn('their own second factor') },
      schema: { summary: 'Start authenticator-app enrolment: a new secret and its otpauth:// URI', response: { 200: TotpEnrolment } },
    },
    async (req) => {
      const p = requirePrincipal(req);
      if (p.credential?.stage === 'mfa') throw new AppError('UNAUTHENTICATED', 'enter your current code first');
      return deps.auth.beginTotp(p);
    },
  );
  app.post(
    '/api/v1/auth/mfa/totp/confirm',
    {
      config: { policy: policy.signedIn('their own second factor') },
      schema: {
        summary: 'Confirm enrolment with a first code (and, replacing a factor, a current code); answers the recovery codes, once',
        body: TotpConfirmBody,
        response: { 200: TotpConfirmed },
      },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      if (p.credential?.stage === 'mfa') throw new AppError('UNAUTHENTICATED', 'enter your current code first');
      const r = await currentFactorGuarded(req, reply, req.body.current ?? req.body.password, () =>
        deps.auth.confirmTotp(p, cookieOf(req), req.body.code, { ip: req.ip, current: req.body.current, password: req.body.password }),
      );
      if (r.session) setSession(reply, r.session.token, r.session.expiresAt);
      return { recoveryCodes: r.recoveryCodes, stage: 'full' as const };
    },
  );

  // Passkeys (WebAuthn): register, list, rename, remove; sign in with one (second step or passwordless).
  app.get(
    '/api/v1/auth/passkeys',
    {
      config: { policy: policy.signedIn('their own passkeys') },
      schema: { summary: 'My passkeys', response: { 200: Passkey.array() } },
    },
    async (req) => deps.auth.listPasskeys(requirePrincipal(req)),
  );
  app.post(
    '/api/v1/auth/passkeys/options',
    {
      config: { policy: policy.signedIn('their own second factor') },
      schema: {
        summary: 'Start adding a passkey: options for navigator.credentials.create (WebAuthn); `current` (a code) when the account has a second factor',
        body: CurrentFactorBody.nullish(),
        response: { 200: PasskeyOptions },
      },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      if (p.credential?.stage === 'mfa') throw new AppError('UNAUTHENTICATED', 'finish signing in first');
      const current = req.body?.current;
      return currentFactorGuarded(req, reply, current ?? req.body?.password, () => deps.auth.passkeyRegistrationOptions(p, current, req.body?.password));
    },
  );
  app.post(
    '/api/v1/auth/passkeys',
    {
      config: { policy: policy.signedIn('their own second factor') },
      schema: {
        summary: 'Finish adding a passkey (the browser’s answer); the first second factor also gets recovery codes',
        body: PasskeyRegistrationBody,
        response: { 200: PasskeyRegistered },
      },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      if (p.credential?.stage === 'mfa') throw new AppError('UNAUTHENTICATED', 'finish signing in first');
      const { flowId, name, response } = req.body;
      const r = await deps.auth.registerPasskey(p, cookieOf(req), { flowId, name, response: response as unknown as RegistrationResponseJSON }, { ip: req.ip });
      if (r.session) setSession(reply, r.session.token, r.session.expiresAt);
      return {
        passkey: r.passkey,
        recoveryCodes: r.recoveryCodes,
        stage: r.session || p.credential?.stage === 'full' ? ('full' as const) : (p.credential?.stage ?? 'full'),
      };
    },
  );
  app.patch(
    '/api/v1/auth/passkeys/:id',
    {
      config: { policy: policy.signedIn('their own passkeys') },
      schema: { summary: 'Rename one of my passkeys', params: PasskeyParams, body: PasskeyRenameBody, response: { 200: Passkey } },
    },
    async (req) => deps.auth.renamePasskey(requirePrincipal(req), req.params.id, req.body.name),
  );
  app.delete(
    '/api/v1/auth/passkeys/:id',
    {
      config: { policy: policy.signedIn('their own passkeys') },
      schema: {
        summary: 'Remove one of my passkeys (not the last second factor of a role that requires one)',
        params: PasskeyParams,
        body: CurrentFactorBody.nullish(),
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      const current = req.body?.current;
      await currentFactorGuarded(req, reply, current, () => deps.auth.removePasskey(requirePrincipal(req), req.params.id, current));
      return reply.status(204).send(null);
    },
  );
  // Step-up: confirming the signed-in session with one of the account's passkeys, instead of a code, before
  // second factors change (auth.service.ts passkeyStepUp; an account with passkeys only has no code but recovery ones).
  app.post(
    '/api/v1/auth/passkey/step-up/options',
    {
      config: { policy: policy.signedIn('confirming their own session') },
      schema: { summary: 'Start confirming this session with one of my passkeys: options for navigator.credentials.get', response: { 200: PasskeyOptions } },
    },
    async (req) => deps.auth.passkeyStepUpOptions(requirePrincipal(req)),
  );
  app.post(
    '/api/v1/auth/passkey/step-up',
    {
      config: { policy: policy.signedIn('confirming their own session') },
      schema: {
        summary: 'Finish confirming this session with a passkey: the next change of second factors (within minutes) needs no code',
        body: PasskeySignInBody,
        response: { 200: StepUpResult },
      },
    },
    async (req) => deps.auth.passkeyStepUp(requirePrincipal(req), req.body.flowId, req.body.response as unknown as AuthenticationResponseJSON, { ip: req.ip }),
  );
  app.post(
    '/api/v1/auth/passkey/options',
    {
      config: { policy: policy.public('signing in with a passkey: after the password (the cookie names the session) or without one') },
      schema: { summary: 'Start signing in with a passkey: options for navigator.credentials.get', response: { 200: PasskeyOptions } },
    },
    async (req) => deps.auth.passkeySignInOptions(cookieOf(req)),
  );
  app.post(
    '/api/v1/auth/passkey',
    {
      config: { policy: policy.public('signing in with a passkey: the signed answer is the credential') },
      schema: {
        summary: 'Finish signing in with a passkey (second step, or passwordless with user verification)',
        body: PasskeySignInBody,
        response: { 200: LoginResponse },
      },
    },
    async (req, reply) => {
      // Throttled per passkey and address, like a password per account (a signature cannot be guessed, but
      // a flood of answers costs verification work).
      const key = `passkey:${req.body.response.id.slice(0, 100)}`;
      const s = await throttledAttempt(
        throttle,
        key,
        req.ip,
        {
          tooMany: 'too many failed passkey sign-ins',
          isFailure: (err) => err instanceof AppError && err.code === 'UNAUTHENTICATED',
          onRefused: (sec) => reply.header('retry-after', String(sec)),
        },
        () => deps.auth.passkeySignIn(cookieOf(req), req.body.flowId, req.body.response as unknown as AuthenticationResponseJSON, { ip: req.ip }),
      );
      setSession(reply, s.token, s.expiresAt);
      return { user: me(s.user), stage: 'full' as const };
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { policy: policy.public('signing out ends whatever session the cookie names') },
      schema: { summary: 'Sign out (this session)', response: { 204: NoContent } },
    },
    async (req, reply) => {
      const cookie = cookieOf(req);
      if (cookie) await deps.auth.logout(cookie);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send(null);
    },
  );

  /** Sign out everywhere: every session of this user ends (this one too unless keepThis). */
  app.post(
    '/api/v1/auth/logout-everywhere',
    {
      config: { policy: policy.signedIn('their own sessions') },
      schema: { summary: 'Sign out everywhere (keepThis: keep this session)', body: LogoutEverywhereBody, response: { 200: LogoutEverywhereResult } },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      const keep = req.body.keepThis === true ? cookieOf(req) : undefined;
      const ended = await deps.auth.logoutEverywhere(p, keep);
      if (!keep) reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ended };
    },
  );

  app.get(
    '/api/v1/auth/sessions',
    {
      config: { policy: policy.signedIn('their own sessions') },
      schema: { summary: 'My sessions (where and when signed in)', response: { 200: SessionInfo.array() } },
    },
    async (req) => deps.auth.sessionsOf(requirePrincipal(req)),
  );

  app.post(
    '/api/v1/auth/password',
    {
      config: { policy: policy.signedIn('their own password') },
      schema: { summary: 'Change my password (the current one is required; other sessions end)', body: PasswordChangeBody, response: { 204: NoContent } },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      // Found by review: a leaked API token could guess the current password without limit and lock the owner out.
      if (p.credential?.kind === 'token') throw new AppError('FORBIDDEN', 'sign in with your password to change it (an API token cannot)');
      const key = `password-change:${p.userId}`;
      await throttledAttempt(
        throttle,
        key,
        req.ip,
        {
          tooMany: 'too many wrong passwords',
          isFailure: (err) => err instanceof AppError && /current password is wrong/.test(err.message),
          onRefused: (sec) => reply.header('retry-after', String(sec)),
        },
        () => deps.auth.changePassword(p, req.body.current, req.body.next, cookieOf(req)),
      );
      return reply.status(204).send(null);
    },
  );

  // Forgotten password: a one-time link by email. The answer never says whether the address has an account.
  app.post(
    '/api/v1/auth/password-reset',
    {
      config: { policy: policy.public('a forgotten password: the link goes to the account’s own email') },
      schema: {
        summary: 'Email me a link to choose a new password (the same answer for any address)',
        body: PasswordResetRequestBody,
        response: { 202: PasswordResetAccepted },
      },
    },
    async (req, reply) => {
      const email = req.body.email.trim().toLowerCase();
      // Every request counts, whether or not the address has an account.
      const wait = await resetThrottle.hit(email, req.ip);
      if (wait > 0) {
        reply.header('retry-after', String(Math.ceil(wait / 1000)));
        throw new AppError('TOO_MANY', `too many reset requests; try again in ${Math.ceil(wait / 1000)} s`);
      }
      deps.passwordReset.requestSoon(email, { ip: req.ip });
      return reply
        .status(202)
        .send({ message: 'If an account uses this address, a link to choose a new password is on its way. It works once, within 30 minutes.' });
    },
  );
  app.post(
    '/api/v1/auth/password-reset/confirm',
    {
      config: { policy: policy.public('the emailed one-time link is the credential') },
      schema: {
        summary: 'Choose a new password with the emailed link (every session and API token of the account ends)',
        body: PasswordResetConfirmBody,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      // Counted before it runs (countedAttempt): wrong links sent in parallel cannot all pass the check together.
      await countedAttempt(
        confirmThrottle,
        `reset-confirm:${req.ip}`,
        req.ip,
        {
          tooMany: 'too many attempts',
          isFailure: (err) => err instanceof AppError && /reset link/.test(err.message),
          onRefused: (s) => reply.header('retry-after', String(s)),
        },
        () => deps.passwordReset.confirm(req.body.token, req.body.password, { ip: req.ip }),
      );
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/me',
    {
      config: { policy: policy.signedIn('their own account') },
      schema: { summary: 'Who I am signed in as', response: { 200: Me } },
    },
    async (req) => {
      const p = requirePrincipal(req);
      return { ...me(p), stage: p.credential?.stage ?? 'full', via: p.credential?.kind ?? null };
    },
  );

  // The demo clinic's logins for the sign-in page: only to a browser on this machine (F3). A request relayed by
  // a local reverse proxy carries forwarding headers and is refused too.
  app.get(
    '/api/v1/demo',
    {
      config: { policy: policy.public('the demo clinic shows its logins on the sign-in page, to this machine only') },
      schema: { summary: "The demo clinic's logins (only to a browser on the server's own machine)", response: { 200: DemoInfo, 404: ErrorBody } },
    },
    async (req, reply) => {
      const local = isLoopback(req.socket.remoteAddress) && !req.headers['x-forwarded-for'] && !req.headers.forwarded && !req.headers['x-real-ip'];
      const logins = local ? deps.demoLogins() : [];
      if (logins.length === 0) return reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no demo clinic' } });
      return { logins };
    },
  );
}

export function me(p: Principal) {
  return { id: p.userId, email: p.email, role: p.role, displayName: p.displayName, patientId: p.patientId };
}
