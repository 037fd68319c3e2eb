import { mfaThrottleKey, throttledAttempt, type LoginThrottle } from '../../../auth/login-throttle.ts';
import { policy } from '../../policy.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api } from '../../http-server.ts';
import { registerFormBody } from '../form-body.ts';
import {
  LaunchableSmartApps,
  OAuthParams,
  SmartApp,
  SmartAppBody,
  SmartAppList,
  SmartAppParams,
  SmartAppPatchBody,
  SmartAppRemoved,
  SmartAppRevoked,
  SmartAppSecret,
  SmartAppSummary,
  SmartConfiguration,
  SmartLaunch,
  SmartLaunchBody,
  SMART_AUTHORIZE_PATH,
  smartReturnPath,
} from '../../contracts/index.ts';
import { requirePrincipal } from '../../principal.ts';
import cors from '@fastify/cors';
import type { AuthService } from '../../../auth/auth.service.ts';
import type { AccessPolicy } from '../../../auth/access.ts';
import type { PatientsRepository } from '../../../store/patients.repository.ts';
import { allows, SUPPORTED_SCOPES, SYSTEM_SCOPES, type Interaction } from '../../../auth/smart-scopes.ts';
import { SESSION_COOKIE, setSessionCookie } from '../../principal.ts';
import { AppError } from '../../../platform/errors.ts';
import { CONSENT_MIN_AGE_MS, OAuthError, type SmartService } from './smart.service.ts';
import { ClientAuthError, presentedClient } from './client-auth.ts';
import { ASSERTION_ALGS } from './backend-services.ts';
import { consentPage, enrolPage, errorPage, mfaPage, signInPage } from './pages.ts';
import { withQuery } from './app-registry.ts';

/**
 * SMART App Launch 2.x endpoints: discovery (`/.well-known/smart-configuration`, public), the authorize
 * screen (sign-in, then consent with the patient to share), the token endpoint, and the JWKS for id_tokens.
 * SMART access tokens are honoured on /fhir/R4 only: reads, searches, creates, updates and Bundles, for the types and
 * interactions granted (auth/smart-scopes.ts).
 */
export function smartRoutes(
  app: Api,
  deps: {
    smart: SmartService;
    auth: AuthService;
    access: AccessPolicy;
    patients: PatientsRepository;
    fhirBase: () => string;
    publicBase: () => string;
    secureCookies: boolean;
    /** The sign-in throttle the app's own sign-in uses (auth/login-throttle.ts). */
    throttle: LoginThrottle;
  },
) {
  // Browser apps on other origins call FHIR, the token endpoint and discovery with a bearer token (no cookies).
  const CORS_PATHS = /^\/(fhir\/|\.well-known\/smart-configuration|oauth\/(token|revoke)|\.well-known\/jwks\.json)/;
  void app.register(cors, {
    delegator: (req, cb) =>
      cb(
        null,
        CORS_PATHS.test(req.url ?? '')
          ? { origin: '*', credentials: false, allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Prefer'], methods: ['GET', 'POST'], maxAge: 600 }
          : { origin: false },
      ),
  });

  // RFC 6750 §3: a 401 from the FHIR API MUST name the Bearer scheme, so an OAuth client knows to get (or
  // refresh) a token; with a token that did not work, error="invalid_token" (§3.1).
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode === 401 && !reply.hasHeader('www-authenticate') && /^\/fhir\/R4(\/|\?|$)/.test(req.url))
      reply.header(
        'www-authenticate',
        /^Bearer\s/i.test(req.headers.authorization ?? '') ? 'Bearer realm="vigil", error="invalid_token"' : 'Bearer realm="vigil"',
      );
    return payload;
  });

  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0];
    if (req.principal || !/^\/fhir\/R4(\/|$)/.test(path)) return;
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer vsa_')) return;
    const p = await deps.smart.principalFromAccessToken(header.slice(7).trim());
    if (!p) return;
    // A batch/transaction Bundle: the FHIR service checks every entry against the scopes (fhir.service.ts `scoped`).
    if (req.method === 'POST' && /^\/fhir\/R4\/?$/.test(path)) return void (req.principal = p);
    // Bulk Data: the kick-off checks the scopes (assertExportScope); status, cancel and files belong to the job's owner.
    if (/^\/fhir\/R4\/((Patient|Group\/[^/]+)\/)?\$export$|^\/fhir\/R4\/\$export-(status|file)\//.test(path)) return void (req.principal = p);
    // Otherwise the interaction is known from the route: only those a scope can grant, on the types it names
    // (routes served outside the registry too). A valid token without the scope is 403 (RFC 6750 §3.1
    // insufficient_scope), so apps do not refresh in vain. The FHIR service checks the scopes again.
    const m = /^\/fhir\/R4\/([A-Z][A-Za-z]+)(\/[^/]+)?(\/.*)?$/.exec(path);
    const interaction: Interaction | null = !m
      ? null
      : req.method === 'GET'
        ? m[2] && m[2] !== '/'
          ? 'read'
          : 'search'
        : req.method === 'POST' && (m[2] === '/_search' || !m[2])
          ? m[2]
            ? 'search'
            : 'create'
          : req.method === 'PUT' && m[2] && !m[3]
            ? 'update'
            : null;
    if (!interaction) throw new AppError('FORBIDDEN', `a SMART app token can read, search, create and update FHIR resources (${req.method} ${path} refused)`);
    if (!allows(p.smart!.scopes, m![1], interaction))
      throw new AppError('FORBIDDEN', `the app's token has no scope for ${interaction} on ${m![1]} (granted: ${p.smart!.scopes.join(' ')})`);
    req.principal = p;
  });

  registerFormBody(app);

  const issuer = () => deps.fhirBase();
  const configuration = () => ({
    issuer: issuer(),
    jwks_uri: `${deps.publicBase()}/.well-known/jwks.json`,
    authorization_endpoint: `${deps.publicBase()}/oauth/authorize`,
    token_endpoint: `${deps.publicBase()}/oauth/token`,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    revocation_endpoint: `${deps.publicBase()}/oauth/revoke`,
    introspection_endpoint: `${deps.publicBase()}/oauth/introspect`,
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    scopes_supported: [...SUPPORTED_SCOPES, ...SYSTEM_SCOPES],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: [
      'launch-standalone',
      'launch-ehr',
      'client-public',
      'client-confidential-symmetric',
      'client-confidential-asymmetric',
      'context-standalone-patient',
      'context-ehr-patient',
      'permission-patient',
      'permission-user',
      'permission-offline',
      'permission-v1',
      'permission-v2',
      'sso-openid-connect',
    ],
  });
  // Discovery lives at {FHIR base}/.well-known/smart-configuration (SMART 2.x §2.1); the server root too.
  app.get(
    '/fhir/R4/.well-known/smart-configuration',
    {
      config: { policy: policy.public('SMART discovery') },
      schema: { summary: 'SMART App Launch 2.x discovery (public)', response: { 200: SmartConfiguration } },
    },
    async () => configuration(),
  );
  app.get('/.well-known/smart-configuration', { config: { policy: policy.public('SMART discovery') } }, async () => configuration());
  app.get('/.well-known/jwks.json', { config: { policy: policy.public('public keys that sign id_tokens') } }, async () => deps.smart.jwks());

  /** `redirects`: the app's registered redirect URIs, where the consent form's answer may lead (CSP form-action). */
  const html = (reply: FastifyReply, status: number, body: string, redirects: string[] = []) =>
    reply
      .status(status)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      // Under "no-referrer" a browser sends `Origin: null` with the form's POST (Fetch §serializing a request
      // origin) and the CSRF check refuses it; same-origin keeps the origin for our own forms, leaks nothing out.
      .header('referrer-policy', 'same-origin')
      // Chromium applies form-action to the redirect after a submit: the app's origin must be listed.
      .header(
        'content-security-policy',
        `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${[...new Set(redirects.map((u) => new URL(u).origin))].join(' ')}; frame-ancestors 'none'; base-uri 'none'`,
      )
      .send(body);

  const webSignIn = (returnPath: string) => `/oauth/web-sign-in?${new URLSearchParams({ return: returnPath })}`;
  /** Fully signed in with a session of the web app (not a SMART token, not an API token, not half-way through the second step). */
  const fullySignedIn = (req: FastifyRequest) =>
    !!req.principal && !req.principal.smart && (req.principal.credential?.stage ?? 'full') === 'full' && req.principal.credential?.kind !== 'token';

  /** `chosen`: the patient the user had picked, kept when the consent screen is shown again. */
  async function screen(req: FastifyRequest, reply: FastifyReply, query: Record<string, string>, message?: string, chosen?: string) {
    let checked;
    try {
      checked = await deps.smart.checkRequest(query);
    } catch (err) {
      if (err instanceof OAuthError) return html(reply, 400, errorPage(err.description));
      throw err;
    }
    if ('redirect' in checked) return reply.redirect(checked.redirect, 302);
    // Stored in the database (smart_pending): the answer may reach another instance, or this one after a restart.
    const id = await deps.smart.savePending(req.principal?.userId ?? null, query);
    // The web app's sign-in (passkeys, the second step, setting one up) comes back to this same request.
    const returnPath = `${SMART_AUTHORIZE_PATH}?${new URLSearchParams(query)}`;
    const webSignInHref = webSignIn(returnPath);
    const stage = req.principal?.credential?.stage ?? 'full';
    if (req.principal && !req.principal.smart && stage === 'mfa') {
      const factors = await deps.auth.mfaStatus(req.principal);
      return html(reply, 200, mfaPage({ app: checked.client.name, requestId: id, webSignInHref, factors, message }), [checked.redirectUri]);
    }
    if (req.principal && !req.principal.smart && stage === 'enrol') return html(reply, 200, enrolPage({ app: checked.client.name, webSignInHref }));
    const redirects = [checked.redirectUri];
    if (!req.principal || req.principal.smart || req.principal.credential?.kind === 'token')
      return html(
        reply,
        200,
        signInPage({
          app: checked.client.name,
          requestId: id,
          webSignInHref,
          forgotHref: `/#/forgot-password?${new URLSearchParams({ return: returnPath })}`,
          message,
        }),
        redirects,
      );
    if (checked.launch) {
      // EHR launch: the context is the patient open in the EHR, for the user who opened the app there.
      if (checked.launch.userId !== req.principal.userId)
        return html(reply, 403, errorPage('This app was opened by another Vigil user. Open it again from your own Vigil session.'));
      const launched = await deps.patients.byId(checked.launch.patientId);
      return html(
        reply,
        200,
        consentPage({
          app: checked.client.name,
          scopes: checked.scopes,
          requestId: id,
          user: req.principal,
          choosesPatient: false,
          patients: [],
          launchPatient: launched ?? undefined,
          message,
        }),
        redirects,
      );
    }
    const visible = await deps.access.visiblePatientIds(req.principal);
    const patients = !deps.access.choosesLaunchPatient(req.principal)
      ? []
      : visible === null
        ? await deps.patients.list(null, 200)
        : await deps.patients.list(visible, 200);
    return html(
      reply,
      200,
      consentPage({
        app: checked.client.name,
        scopes: checked.scopes,
        requestId: id,
        user: req.principal,
        choosesPatient: deps.access.choosesLaunchPatient(req.principal),
        patients,
        chosen,
        message,
      }),
      redirects,
    );
  }

  app.get(
    '/oauth/authorize',
    { config: { policy: policy.public('the sign-in and consent screen: it authenticates the user itself') }, schema: { querystring: OAuthParams } },
    async (req, reply) => screen(req, reply, req.query),
  );

  // Signing in through the web app for a SMART request (issue 10: passkeys need script, this screen has none):
  // the screen links here with `return` = the request's /oauth/authorize URL; signed out or half signed in, the
  // browser goes to the web app's sign-in (#/sign-in?return=…), which goes to `return` once fully signed in (it
  // checks it with the same smartReturnPath); already fully signed in, straight on to `return`. Only a relative
  // /oauth/authorize path is a return target, anything else a 400 with no redirect: no open redirect. The
  // request itself is checked again there, and consent keeps its own rules (POST below).
  app.get(
    '/oauth/web-sign-in',
    {
      config: { policy: policy.public('a redirect between the SMART authorize screen and the web app sign-in') },
      schema: { querystring: OAuthParams },
    },
    async (req, reply) => {
      const target = smartReturnPath(req.query.return);
      if (!target) return html(reply, 400, errorPage('This sign-in link is not valid. Go back to the app and start again.'));
      reply.header('cache-control', 'no-store').header('referrer-policy', 'same-origin');
      if (fullySignedIn(req)) return reply.redirect(target, 302);
      return reply.redirect(`/#/sign-in?${new URLSearchParams({ return: target })}`, 302);
    },
  );

  app.post(
    '/oauth/authorize',
    { config: { policy: policy.public('the sign-in and consent screen: it authenticates the user itself') }, schema: { body: OAuthParams } },
    async (req, reply) => {
      const form: Partial<Record<string, string>> = req.body;
      const p = form.request ? await deps.smart.takePending(form.request) : null;
      if (!p) return html(reply, 400, errorPage('This sign-in request has expired. Go back to the app and start again.'));
      // Throttled like the app's own sign-in, on the same counts (found by review: this screen had no limit), one
      // attempt at a time per account and address (login-throttle.ts throttledAttempt).
      const tooMany = (err: unknown) => (err instanceof AppError && err.code === 'TOO_MANY' ? `${err.message[0].toUpperCase()}${err.message.slice(1)}.` : null);
      if (form.action === 'sign-in') {
        const email = form.email ?? '';
        try {
          const session = await throttledAttempt(
            deps.throttle,
            email,
            req.ip,
            { tooMany: 'too many failed attempts', isFailure: (err) => err instanceof AppError && err.code === 'UNAUTHENTICATED' },
            () => deps.auth.login(email, form.password ?? '', { ip: req.ip }),
          );
          setSessionCookie(reply, session, deps.secureCookies);
          req.principal = await deps.auth.principalFromSession(session.token);
          return screen(req, reply, p.query);
        } catch (err) {
          req.principal = null;
          return screen(req, reply, p.query, tooMany(err) ?? 'Wrong email or password.');
        }
      }
      if (form.action === 'mfa') {
        // Second step (issue 9): the code turns the password-only session into a full one.
        const cookie = req.cookies?.[SESSION_COOKIE] ?? '';
        const key = await mfaThrottleKey(deps.auth, cookie);
        try {
          const session = await throttledAttempt(deps.throttle, key, req.ip, { tooMany: 'too many failed attempts', isFailure: () => true }, () =>
            deps.auth.completeMfa(cookie, form.code ?? '', { ip: req.ip }),
          );
          setSessionCookie(reply, session, deps.secureCookies);
          req.principal = await deps.auth.principalFromSession(session.token);
          return screen(req, reply, p.query);
        } catch (err) {
          return screen(req, reply, p.query, tooMany(err) ?? (err as Error).message);
        }
      }
      // "Not you?" on the consent screen (a shared clinic computer, found by review): this session ends, and the same
      // request asks for a sign-in again.
      if (form.action === 'switch-account') {
        const cookie = req.cookies?.[SESSION_COOKIE];
        if (cookie) await deps.auth.logout(cookie);
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        req.principal = null;
        return screen(req, reply, p.query);
      }
      // Consent: only the user who saw the screen, fully signed in with a session, can answer it.
      if (req.principal && (req.principal.credential?.stage ?? 'full') !== 'full') return html(reply, 403, errorPage('Finish signing in first.'));
      if (req.principal?.credential?.kind === 'token') return html(reply, 403, errorPage('Sign in with your password to allow an app.'));
      if (!req.principal || req.principal.smart || req.principal.userId !== p.userId)
        return html(reply, 403, errorPage('Sign in again to answer this request.'));
      const checked = await deps.smart.checkRequest(p.query);
      if ('redirect' in checked) return reply.redirect(checked.redirect, 302);
      if (form.action !== 'allow') {
        return reply.redirect(
          withQuery(checked.redirectUri, {
            error: 'access_denied',
            error_description: 'the user declined',
            ...(checked.state ? { state: checked.state } : {}),
          }),
          302,
        );
      }
      if (checked.launch && checked.launch.userId !== req.principal.userId) return html(reply, 403, errorPage('This app was opened by another Vigil user.'));
      if (p.ageMs < CONSENT_MIN_AGE_MS)
        return screen(
          req,
          reply,
          p.query,
          'Allow was pressed as this screen appeared. If you meant to allow this app, read what it asks for and press Allow again.',
          form.patient,
        );
      const patientId = checked.launch ? checked.launch.patientId : deps.access.launchPatient(req.principal, form.patient ?? null);
      try {
        return reply.redirect(await deps.smart.approve(req.principal, checked, patientId), 302);
      } catch (err) {
        return screen(req, reply, p.query, (err as Error).message);
      }
    },
  );

  // Registering an app (admins): `vigil smart app add` calls this when a server runs.
  app.post(
    '/api/v1/smart/apps',
    { config: { policy: policy.admin() }, schema: { summary: 'Register a SMART app (public client, PKCE)', body: SmartAppBody, response: { 201: SmartApp } } },
    async (req, reply) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      return reply.status(201).send(await deps.smart.registerClient(req.body, p));
    },
  );

  // Looking after registered apps (admins; app-registry.ts): a leaked secret or key, a vendor dropped.
  app.get(
    '/api/v1/smart/apps',
    { config: { policy: policy.admin() }, schema: { summary: 'Registered SMART apps with their live tokens', response: { 200: SmartAppList } } },
    async (req) => {
      deps.access.assertAdmin(requirePrincipal(req));
      return deps.smart.apps.list();
    },
  );
  app.patch(
    '/api/v1/smart/apps/:id',
    {
      config: { policy: policy.admin() },
      schema: {
        summary: 'Correct a SMART app: name, redirect URIs, launch URL, or its keys (rotation); its kind stays',
        params: SmartAppParams,
        body: SmartAppPatchBody,
        response: { 200: SmartAppSummary },
      },
    },
    async (req) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      return deps.smart.apps.update(req.params.id, req.body, p);
    },
  );
  app.post(
    '/api/v1/smart/apps/:id/secret',
    {
      config: { policy: policy.admin() },
      schema: {
        summary: "A confidential app's new client secret (shown once; the old one stops at once)",
        params: SmartAppParams,
        response: { 200: SmartAppSecret },
      },
    },
    async (req) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      return deps.smart.apps.rotateSecret(req.params.id, p);
    },
  );
  app.post(
    '/api/v1/smart/apps/:id/revoke',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'End every token a SMART app holds, for every user and patient', params: SmartAppParams, response: { 200: SmartAppRevoked } },
    },
    async (req) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      return deps.smart.apps.revokeTokens(req.params.id, p);
    },
  );
  app.delete(
    '/api/v1/smart/apps/:id',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'Remove a SMART app and every token it holds', params: SmartAppParams, response: { 200: SmartAppRemoved } },
    },
    async (req) => {
      const p = requirePrincipal(req);
      deps.access.assertAdmin(p);
      return deps.smart.apps.remove(req.params.id, p);
    },
  );

  // The patient page's "Open in app": the registered apps that can be launched (staff; names only).
  app.get(
    '/api/v1/smart/apps/launchable',
    {
      config: { policy: policy.staff('the apps they may open on a patient') },
      schema: { summary: 'SMART apps that can be opened on a patient (EHR launch): id and name', response: { 200: LaunchableSmartApps } },
    },
    async (req) => {
      deps.access.assertStaff(requirePrincipal(req));
      return deps.smart.launchableClients();
    },
  );

  // EHR launch (SMART App Launch 2.x §ehr-launch): Vigil, as the EHR, opens a registered app on a patient.
  app.post(
    '/api/v1/smart/launch',
    {
      config: { policy: policy.signedIn('apps opened on the patients they may see (the SMART service checks)') },
      schema: { summary: 'Open a SMART app on a patient (EHR launch): the app URL with iss and launch', body: SmartLaunchBody, response: { 201: SmartLaunch } },
    },
    async (req, reply) => reply.status(201).send(await deps.smart.createLaunch(requirePrincipal(req), req.body.clientId, req.body.patientId)),
  );

  /** RFC 6749 §5.2: a JSON error, never cached; 401 invalid_client carries WWW-Authenticate (RFC 6749 §5.2). */
  const oauthError = (reply: FastifyReply, err: OAuthError) => {
    if (err.status === 401) reply.header('www-authenticate', 'Basic realm="vigil"');
    return reply.status(err.status).header('cache-control', 'no-store').send({ error: err.error, error_description: err.description });
  };
  /** The token and revocation endpoints: the client as presented, the OAuth error shape on failure. */
  const oauthEndpoint =
    (run: (form: Record<string, string>, client: ReturnType<typeof presentedClient>) => Promise<unknown>) =>
    async (req: FastifyRequest<{ Body: Record<string, string> }>, reply: FastifyReply) => {
      try {
        const result = await run(req.body, presentedClient(req.headers.authorization, req.body));
        return reply
          .header('cache-control', 'no-store')
          .header('pragma', 'no-cache')
          .send(result ?? {});
      } catch (err) {
        if (err instanceof ClientAuthError) return oauthError(reply, new OAuthError('invalid_request', err.message));
        if (err instanceof OAuthError) return oauthError(reply, err);
        throw err;
      }
    };

  app.post(
    '/oauth/token',
    {
      config: { policy: policy.public('OAuth token endpoint: the client proves a one-time code or refresh token (and its secret, if confidential)') },
      schema: { body: OAuthParams },
    },
    oauthEndpoint((form, client) => deps.smart.token(form, client, `${deps.publicBase()}/oauth/token`)),
  );

  // RFC 7009: an app gives up an access or refresh token (on sign-out, uninstall, or a leaked token).
  app.post(
    '/oauth/revoke',
    {
      config: { policy: policy.public('OAuth revocation endpoint: the client names itself (and proves its secret, if confidential)') },
      schema: { body: OAuthParams },
    },
    oauthEndpoint(async (form, client) => {
      await deps.smart.revoke(form, client, `${deps.publicBase()}/oauth/token`);
      return {};
    }),
  );

  // RFC 7662 (SMART App Launch 2.x "Token Introspection"): a resource server asks what a token stands for.
  app.post(
    '/oauth/introspect',
    {
      config: {
        policy: policy.public('OAuth introspection endpoint: a confidential app (its own tokens) or a backend service (any token) authenticates itself'),
      },
      schema: { body: OAuthParams },
    },
    oauthEndpoint((form, client) => deps.smart.introspect(form, client, `${deps.publicBase()}/oauth/token`)),
  );
}
