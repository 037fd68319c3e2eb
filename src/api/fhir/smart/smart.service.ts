import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { PatientCipher } from '../../../platform/encryption/index.ts';
import { systemClock, type Clock } from '../../../platform/clock.ts';
import type { Db, Queryable } from '../../../platform/db.ts';
import type { Principal } from '../../../domain/types.ts';
import type { AuditService } from '../../../audit/audit.service.ts';
import type { AccessPolicy } from '../../../auth/access.ts';
import { AppError, badRequest, notFound } from '../../../platform/errors.ts';
import { newId } from '../../../platform/ids.ts';
import { grantScopes, patientOnly } from '../../../auth/smart-scopes.ts';
import { toFhirId } from '../ids.ts';
import { hashSecret, secretMatches, type PresentedClient } from './client-auth.ts';
import { AssertionError, claimedClient, JWT_BEARER, verifyAssertion } from './backend-services.ts';
import type { JSONWebKeySet } from 'jose';
import { checkAppUrls, createSmartAppRegistry, withQuery } from './app-registry.ts';
import { checkKeySource, createRemoteKeySets } from './remote-jwks.ts';

/**
 * SMART App Launch 2.x (authorization code + PKCE S256; public clients, and confidential ones that prove a
 * client secret, "client-confidential-symmetric", or sign a JWT with a key they registered,
 * "client-confidential-asymmetric"): codes live 60 s and work once, access tokens 1 h, refresh tokens 30 days
 * and rotate on use; an app may revoke its tokens (RFC 7009); a confidential app or a backend service may ask
 * what a token stands for (RFC 7662 introspection). Everything is stored hashed.
 * OAuth errors follow RFC 6749 §5.2 (`{"error", "error_description"}`).
 */

const CODE_TTL_MS = 60_000;
const ACCESS_TTL_MS = 3600_000;
/** SMART Backend Services recommends access tokens of five minutes; the service asks again with a new assertion. */
const BACKEND_ACCESS_TTL_MS = 300_000;
const REFRESH_TTL_MS = 30 * 86400_000;
/**
 * However often it is refreshed, an approval lasts at most 90 days: then the user signs in to the app again
 * (RFC 9700 §4.14.2; a lost phone's app does not keep a patient's data forever).
 */
export const APPROVAL_MAX_MS = 90 * 86400_000;

const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const token = (prefix: string) => `${prefix}_${randomBytes(32).toString('base64url')}`;
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

export interface SmartClient {
  id: string;
  name: string;
  redirectUris: string[];
  /** EHR launch: where Vigil opens the app (with `iss` and `launch`). */
  launchUrl?: string;
  /** A confidential client authenticates at the token, revocation and introspection endpoints: with its secret, or (`asymmetric`) a signed JWT. */
  confidential: boolean;
  /** Confidential with asymmetric keys (private_key_jwt): it registered a JWK Set and redirect URIs (a user-facing app, not a backend service). */
  asymmetric: boolean;
  /** A backend service (no user): signs client assertions with a key from its registered JWK Set. */
  backend: boolean;
}

/** An EHR launch's context, bound to the user who opened the app and to that app. */
export interface LaunchContext {
  userId: string;
  patientId: string;
}

const LAUNCH_TTL_MS = 3600_000;

interface GrantRow {
  hash: string;
  kind: 'code' | 'access' | 'refresh';
  client_id: string;
  user_id: string;
  patient_id: string | null;
  scopes: string;
  redirect_uri: string | null;
  code_challenge: string | null;
  expires_at: Date | string;
  used_at: Date | string | null;
  revoked_at: Date | string | null;
  created_at: Date | string;
  authorized_at: Date | string | null;
  nonce: string | null;
}

/** The id_token key is sealed like a patient's data, under its own key id in patient_keys (platform/encryption). */
const SIGNING_KEY_OWNER = 'system:smart-signing-key';
const PENDING_TTL_MS = 10 * 60_000;
/**
 * The consent screen must have been on show this long before Allow counts ("double-clickjacking": a page asks
 * for a double-click, the first click opens this screen, the second lands on Allow; X-Frame-Options and
 * frame-ancestors do not stop it). A double-click's two clicks are at most ~500 ms apart (Windows' default);
 * a person reading the list takes longer. Too soon, the screen comes back and asks again.
 */
export const CONSENT_MIN_AGE_MS = 750;

export function createSmartService(deps: {
  db: Db;
  audit: AuditService;
  access: AccessPolicy;
  cipher: PatientCipher;
  principalOfUser: (userId: string) => Promise<Principal | null>;
  baseUrl: () => string;
  clock?: Clock;
}) {
  const clock = deps.clock ?? systemClock;
  const remoteKeys = createRemoteKeySets(clock);
  /**
   * The id_token signing key (RS256), published at /.well-known/jwks.json. One for every instance on the
   * database (the first to start makes it; the others read it), and it survives restarts, so a token signed
   * by one instance verifies with the JWKS another publishes.
   */
  let signing: Promise<{ privateKey: KeyObject; jwk: Record<string, unknown>; kid: string }> | null = null;
  const signingKey = () => {
    if (!signing) {
      signing = (async () => {
        const load = async () =>
          (
            await deps.db.query<{ kid: string; private_key: string; public_jwk: Record<string, unknown> }>(
              `SELECT kid, private_key, public_jwk FROM smart_signing_keys WHERE id = 'current'`,
            )
          )[0];
        let row = await load();
        if (!row) {
          const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
          const kid = hash(publicKey.export({ type: 'spki', format: 'der' }).toString('base64')).slice(0, 16);
          const sealed = (
            await deps.cipher.seal(SIGNING_KEY_OWNER, Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), 'smart.signing-key')
          ).toString('base64');
          // Two instances starting together: the first insert wins and both use its key.
          await deps.db.query(`INSERT INTO smart_signing_keys (id, kid, private_key, public_jwk) VALUES ('current', $1, $2, $3) ON CONFLICT (id) DO NOTHING`, [
            kid,
            sealed,
            JSON.stringify(publicKey.export({ format: 'jwk' })),
          ]);
          row = await load();
        }
        const pem = (await deps.cipher.open(SIGNING_KEY_OWNER, Buffer.from(row.private_key, 'base64'), 'smart.signing-key')).toString('utf8');
        return { privateKey: createPrivateKey(pem), jwk: row.public_jwk, kid: row.kid };
      })();
      signing.catch(() => (signing = null));
    }
    return signing;
  };

  async function idToken(p: Principal, clientId: string, nonce: string | null) {
    const { privateKey: key, kid } = await signingKey();
    const now = Math.floor(clock.now() / 1000);
    const who = deps.access.fhirUserOf(p);
    const fhirUser = who ? `${deps.baseUrl()}/${who.type}/${toFhirId(who.id)}` : undefined;
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const body = b64url(
      JSON.stringify({
        iss: deps.baseUrl(),
        sub: p.userId,
        aud: clientId,
        iat: now,
        exp: now + 3600,
        ...(nonce ? { nonce } : {}),
        ...(fhirUser ? { fhirUser } : {}),
        name: p.displayName,
      }),
    );
    return `${header}.${body}.${b64url(sign('sha256', Buffer.from(`${header}.${body}`), key))}`;
  }

  /** keys: how the app proves itself with a signed assertion (its JWK Set, or the URL where it publishes it). */
  type ClientRow = SmartClient & { secretHash: string | null; keys: { jwks: JSONWebKeySet } | { jwksUri: string } | null; actsAs: string | null };
  async function clientRow(id: string): Promise<ClientRow | null> {
    const rows = await deps.db.query<{
      id: string;
      name: string;
      redirect_uris: string[];
      launch_url: string | null;
      secret_hash: string | null;
      jwks: JSONWebKeySet | null;
      jwks_uri: string | null;
      acts_as: string | null;
    }>('SELECT id, name, redirect_uris, launch_url, secret_hash, jwks, jwks_uri, acts_as FROM smart_clients WHERE id = $1', [id]);
    const r = rows[0];
    const keys = r?.jwks_uri ? { jwksUri: r.jwks_uri } : r?.jwks ? { jwks: r.jwks } : null;
    return r
      ? {
          id: r.id,
          name: r.name,
          redirectUris: r.redirect_uris,
          ...(r.launch_url ? { launchUrl: r.launch_url } : {}),
          confidential: r.secret_hash !== null || (keys !== null && r.redirect_uris.length > 0),
          asymmetric: keys !== null && r.redirect_uris.length > 0,
          // A backend service registered keys and no redirect URI: no user ever sends it a code.
          backend: keys !== null && r.redirect_uris.length === 0,
          secretHash: r.secret_hash,
          keys,
          actsAs: r.acts_as,
        }
      : null;
  }
  const publicPart = ({ secretHash: _s, keys: _k, actsAs: _a, ...c }: ClientRow): SmartClient => c;
  async function client(id: string): Promise<SmartClient | null> {
    const row = await clientRow(id);
    return row ? publicPart(row) : null;
  }

  /** client_credentials (SMART Backend Services): a signed assertion in, an access token with system scopes out. */
  async function backendToken(form: Record<string, string | undefined>, tokenEndpoint: string) {
    if (form.client_assertion_type !== JWT_BEARER || !form.client_assertion)
      throw new OAuthError('invalid_client', `client_credentials needs client_assertion_type=${JWT_BEARER} and a signed client_assertion`, 401);
    let row: ClientRow | null;
    try {
      row = await clientRow(claimedClient(form.client_assertion));
      if (!row?.backend || !row.keys || !row.actsAs) throw new AssertionError('the assertion names no registered backend service');
      await verifyAssertion(deps.db, clock, form.client_assertion, { id: row.id, keys: remoteKeys.resolver(row.keys) }, tokenEndpoint);
    } catch (err) {
      if (err instanceof AssertionError) throw new OAuthError('invalid_client', err.message, 401);
      throw err;
    }
    const scopes = grantScopes(form.scope ?? '', 'backend');
    if (!scopes.length) throw new OAuthError('invalid_scope', 'a backend service asks for system scopes to read, e.g. system/*.rs or system/Observation.rs');
    // Its authority is the admin who registered it: disabled or no longer an admin, the app stops.
    const owner = await deps.principalOfUser(row.actsAs);
    if (!owner || !deps.access.mayBackBackendService(owner))
      throw new OAuthError('invalid_client', 'the admin this backend service acts for is disabled or no longer an admin', 401);
    const access = await deps.audit.change(async (tx, log) => {
      log({
        actor: owner,
        action: 'smart.token',
        entityType: 'SmartClient',
        entityId: row.id,
        details: { grant: 'client_credentials', scopes, refresh: false },
      });
      return (await issue('access', { clientId: row.id, userId: owner.userId, patientId: null, scopes }, BACKEND_ACCESS_TTL_MS, tx)).secret;
    });
    return { access_token: access, token_type: 'Bearer', expires_in: BACKEND_ACCESS_TTL_MS / 1000, scope: scopes.join(' ') };
  }

  /**
   * The calling client, authenticated (RFC 6749 §2.3): a confidential client must prove its secret, a public
   * one must not present one. Null when the request names no client (allowed for a public client's code).
   */
  async function authenticate(pc: PresentedClient, tokenEndpoint: string): Promise<SmartClient | null> {
    if (pc.assertion !== null) return publicPart(await assertedClient(pc, tokenEndpoint, 'app'));
    if (!pc.id) {
      if (pc.secret !== null) throw new OAuthError('invalid_client', 'a client secret without a client_id', 401);
      return null;
    }
    const row = await clientRow(pc.id);
    if (!row) throw new OAuthError('invalid_client', `unknown client_id "${pc.id}"`, 401);
    if (row.backend)
      throw new OAuthError('invalid_client', `${row.name} is a backend service: it gets tokens with client_credentials and a signed assertion`, 401);
    if (row.asymmetric)
      throw new OAuthError(
        'invalid_client',
        `${row.name} authenticates with a JWT signed by its registered key: client_assertion_type=${JWT_BEARER} and client_assertion (private_key_jwt)`,
        401,
      );
    if (row.secretHash) {
      if (pc.secret === null) throw new OAuthError('invalid_client', `${row.name} is a confidential client: authenticate with its client secret`, 401);
      if (!secretMatches(pc.secret, row.secretHash)) throw new OAuthError('invalid_client', 'the client secret is wrong', 401);
    } else if (pc.secret !== null) {
      throw new OAuthError('invalid_client', `${row.name} is a public client: it has no client secret`, 401);
    }
    return publicPart(row);
  }
  /**
   * A client that presents a signed assertion (RFC 7523 §3): its `iss` names it; the signature must verify with
   * a key it registered, for the token endpoint, once (backend-services.ts). `kind`: a user-facing app
   * (authorization code, refresh, revoke, introspect) or a backend service (introspection only here).
   */
  async function assertedClient(pc: PresentedClient, tokenEndpoint: string, kind: 'app' | 'app-or-backend'): Promise<ClientRow> {
    try {
      const id = claimedClient(pc.assertion!);
      if (pc.id !== null && pc.id !== id) throw new AssertionError(`client_id "${pc.id}" differs from the assertion's iss "${id}"`);
      const row = await clientRow(id);
      if (!row?.keys) throw new AssertionError(`no registered app "${id}" authenticates with keys`);
      if (row.backend && kind === 'app') throw new AssertionError(`${row.name} is a backend service: it gets tokens with grant_type=client_credentials`);
      await verifyAssertion(deps.db, clock, pc.assertion!, { id: row.id, keys: remoteKeys.resolver(row.keys) }, tokenEndpoint);
      return row;
    } catch (err) {
      if (err instanceof AssertionError) throw new OAuthError('invalid_client', err.message, 401);
      throw err;
    }
  }
  /** A grant of a confidential client is only redeemed by that client, authenticated. */
  async function assertCaller(caller: SmartClient | null, grantClientId: string, what: string) {
    if (caller && caller.id !== grantClientId) throw new OAuthError('invalid_grant', `the ${what} was issued to another client`);
    if (!caller && (await clientRow(grantClientId))?.confidential)
      throw new OAuthError('invalid_client', 'this client is confidential: authenticate with its client secret or signed assertion', 401);
  }

  async function issue(
    kind: GrantRow['kind'],
    g: {
      clientId: string;
      userId: string;
      patientId: string | null;
      scopes: string[];
      redirectUri?: string;
      codeChallenge?: string;
      /** When the user approved the app (epoch ms); a code is the approval itself. */
      authorizedAt?: number;
      /** A code's OpenID Connect nonce, for the id_token it is exchanged for. */
      nonce?: string | null;
    },
    ttl: number,
    q: Queryable = deps.db,
  ) {
    const secret = token(kind === 'code' ? 'vsc' : kind === 'access' ? 'vsa' : 'vsr');
    const authorizedAt = g.authorizedAt ?? clock.now();
    // Expiry counted from the row's own creation instant (the database's now(), which is also `created_at`, the
    // introspection `iat` of RFC 7662 §2.2), so exp − iat is the lifetime exactly; before, the expiry came from
    // the app's clock read a moment later and exp − iat was 3601 on a loaded machine (CI of 5 Dec). Capped by the
    // approval's age as before.
    const [row] = await q.query<{ expires_at: Date | string }>(
      `INSERT INTO smart_grants (hash, kind, client_id, user_id, patient_id, scopes, redirect_uri, code_challenge, expires_at, authorized_at, nonce)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
               LEAST(now() + make_interval(secs => $9::float8 / 1000), $10::timestamptz + make_interval(secs => $12::float8 / 1000)), $10, $11)
       RETURNING expires_at`,
      [
        hash(secret),
        kind,
        g.clientId,
        g.userId,
        g.patientId,
        g.scopes.join(' '),
        g.redirectUri ?? null,
        g.codeChallenge ?? null,
        ttl,
        new Date(authorizedAt).toISOString(),
        kind === 'code' ? (g.nonce ?? null) : null,
        APPROVAL_MAX_MS,
      ],
    );
    return { secret, expiresAt: new Date(row.expires_at).getTime() };
  }

  /** The approval a code or token stands for (older rows: their own creation). */
  const approvalOf = (g: GrantRow) => new Date(g.authorized_at ?? g.created_at).getTime();

  async function take(kind: GrantRow['kind'], secret: string): Promise<GrantRow | null> {
    // Marks it used in the same statement that finds it: a code or refresh token works once, even when raced.
    const rows = await deps.db.query<GrantRow>(
      `UPDATE smart_grants SET used_at = now() WHERE hash = $1 AND kind = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now() RETURNING *`,
      [hash(secret), kind],
    );
    return rows[0] ?? null;
  }

  /**
   * Ends every access and refresh token the user of grant `g` gave its app for its patient (issued at or after
   * `since`, when given); the revoked rows are returned for the audit entry.
   */
  function revokeFamily(tx: Queryable, g: GrantRow, since: Date | null) {
    return tx.query<{ kind: string }>(
      `UPDATE smart_grants SET revoked_at = now()
        WHERE user_id = $1 AND client_id = $2 AND patient_id IS NOT DISTINCT FROM $3 AND kind IN ('access', 'refresh') AND revoked_at IS NULL
          AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)
        RETURNING kind`,
      [g.user_id, g.client_id, g.patient_id, since?.toISOString() ?? null],
    );
  }

  /**
   * A refresh token presented again after it was rotated means two parties hold it (the app and a thief), and
   * the server cannot tell which is which: every token the user gave that app for that patient ends
   * (OAuth 2.0 Security BCP, RFC 9700 §4.14.2, "refresh token rotation"). A code presented again: the tokens
   * issued since it was spent end (RFC 6749 §4.1.2 "SHOULD revoke … all tokens previously issued based on that
   * authorization code"; a code is not linked to its tokens, so those of the same user, app and patient issued
   * after it was used). Audited `smart.revoke`.
   */
  async function revokeOnReuse(secret: string, caller: { id: string } | null, kind: 'code' | 'refresh') {
    const [g] = await deps.db.query<GrantRow>(`SELECT * FROM smart_grants WHERE hash = $1 AND kind = $2 AND used_at IS NOT NULL AND revoked_at IS NULL`, [
      hash(secret),
      kind,
    ]);
    if (!g) return;
    // Only the client it was issued to counts (a confidential one authenticated): anyone else cannot use it anyway.
    if (caller ? caller.id !== g.client_id : (await clientRow(g.client_id))?.confidential) return;
    const owner = await deps.principalOfUser(g.user_id);
    await deps.audit.change(async (tx, log) => {
      const revoked = await revokeFamily(tx, g, kind === 'code' ? new Date(g.used_at!) : null);
      log({
        actor: owner ?? 'system',
        action: 'smart.revoke',
        entityType: 'SmartClient',
        entityId: g.client_id,
        patientId: g.patient_id,
        details: { tokenType: kind, reason: `${kind === 'code' ? 'authorization code' : 'refresh token'} reused`, revoked: revoked.length },
      });
    });
  }

  async function tokenResponse(
    g: { clientId: string; userId: string; patientId: string | null; scopes: string[]; authorizedAt: number; nonce?: string | null },
    grant: 'authorization_code' | 'refresh_token',
  ) {
    const owner = await deps.principalOfUser(g.userId);
    // A disabled account's grants give nothing more (its access tokens stop too: principalFromAccessToken).
    if (!owner) throw new OAuthError('invalid_grant', 'the account that allowed this app is disabled');
    // [audit] the tokens an app receives and their entry commit together ((d)(2)): who, which app, which patient, what scopes.
    const { access, refresh } = await deps.audit.change(async (tx, log) => {
      // Checked again under a share lock on the account, in the transaction that writes the tokens: a refresh
      // racing the account's disable either waits for it and is refused, or commits first and its tokens are
      // among those the disable revokes (found by review: checked outside, it could slip between the two).
      if (!(await tx.query('SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NULL FOR SHARE', [g.userId])).length)
        throw new OAuthError('invalid_grant', 'the account that allowed this app is disabled');
      const tokens = {
        access: await issue('access', g, ACCESS_TTL_MS, tx),
        refresh: g.scopes.includes('offline_access') || g.scopes.includes('online_access') ? (await issue('refresh', g, REFRESH_TTL_MS, tx)).secret : undefined,
      };
      log({
        actor: owner,
        action: 'smart.token',
        entityType: 'SmartClient',
        entityId: g.clientId,
        patientId: g.patientId,
        details: { grant, scopes: g.scopes, refresh: !!tokens.refresh },
      });
      return tokens;
    });
    const user = g.scopes.includes('openid') ? owner : null;
    return {
      access_token: access.secret,
      token_type: 'Bearer',
      expires_in: Math.max(1, Math.round((access.expiresAt - clock.now()) / 1000)),
      scope: g.scopes.join(' '),
      ...(g.patientId ? { patient: toFhirId(g.patientId) } : {}),
      ...(refresh ? { refresh_token: refresh } : {}),
      ...(user ? { id_token: await idToken(user, g.clientId, g.nonce ?? null) } : {}),
    };
  }

  return {
    /** Registered apps: list, correct, rotate, revoke, remove (admins; app-registry.ts). */
    apps: createSmartAppRegistry({ db: deps.db, audit: deps.audit, newSecret: () => token('vcs'), hashSecret, forgetKeySet: (url) => remoteKeys.forget(url) }),

    async jwks() {
      const { jwk, kid } = await signingKey();
      return { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] };
    },

    /**
     * An authorization request waiting for the user's answer (sign-in, MFA, consent), stored so that any
     * instance can take the answer; the id is unguessable and works once.
     */
    async savePending(userId: string | null, query: Record<string, string>): Promise<string> {
      const id = randomBytes(18).toString('base64url');
      await deps.db.query(`DELETE FROM smart_pending WHERE created_at < $1`, [new Date(clock.now() - PENDING_TTL_MS).toISOString()]);
      await deps.db.query('INSERT INTO smart_pending (id, user_id, query) VALUES ($1, $2, $3)', [id, userId, JSON.stringify(query)]);
      return id;
    },
    /** `ageMs`: how long the screen has been on show, by the database's clock (the one clock all instances share). */
    async takePending(id: string): Promise<{ userId: string | null; query: Record<string, string>; ageMs: number } | null> {
      const rows = await deps.db.query<{ user_id: string | null; query: Record<string, string>; age_ms: number }>(
        `DELETE FROM smart_pending WHERE id = $1 AND created_at > $2
         RETURNING user_id, query, (extract(epoch FROM clock_timestamp() - created_at) * 1000)::float8 AS age_ms`,
        [id, new Date(clock.now() - PENDING_TTL_MS).toISOString()],
      );
      return rows[0] ? { userId: rows[0].user_id, query: rows[0].query, ageMs: Number(rows[0].age_ms) } : null;
    },

    /** Registers an app; the app and its `smart.app.register` entry commit together ((d)(2): a privilege change). */
    async registerClient(
      input: {
        name: string;
        redirectUris: string[];
        launchUrl?: string;
        confidential?: boolean;
        jwks?: { keys: Array<Record<string, unknown>> };
        jwksUrl?: string;
      },
      actor: Principal | 'cli',
    ): Promise<SmartClient & { clientSecret?: string }> {
      const { jwks, jwksUri } = await checkKeySource(input);
      const keyed = !!jwks || !!jwksUri;
      // Keys and no redirect URI: a backend service (no user); keys and redirect URIs: a user-facing app that
      // authenticates with private_key_jwt instead of a secret (SMART "client-confidential-asymmetric").
      const backend = keyed && !input.redirectUris.length;
      if (backend && (actor === 'cli' || !deps.access.mayBackBackendService(actor)))
        throw badRequest(
          'a backend service acts with the authority of the admin who registers it: register it signed in as that admin (POST /api/v1/smart/apps)',
        );
      if (backend && input.launchUrl) throw badRequest('a backend service (keys, no redirect URI) has no launch URL: it is never opened on a patient');
      if (keyed && input.confidential)
        throw badRequest('an app with keys authenticates with them (private_key_jwt): leave out "confidential", which issues a client secret');
      if (!input.name.trim()) throw badRequest('an app needs a name');
      checkAppUrls([...input.redirectUris, ...(input.launchUrl ? [input.launchUrl] : [])]);
      if (!input.redirectUris.length && !keyed) throw badRequest('an app needs at least one redirect URI');
      const c: SmartClient = {
        id: newId('app'),
        name: input.name.trim(),
        redirectUris: input.redirectUris,
        ...(input.launchUrl ? { launchUrl: input.launchUrl } : {}),
        confidential: !!input.confidential || (keyed && !backend),
        asymmetric: keyed && !backend,
        backend,
      };
      // Shown once, to whoever registers the app; only its hash is kept.
      const clientSecret = input.confidential ? token('vcs') : undefined;
      await deps.audit.change(async (tx, log) => {
        await tx.query(
          'INSERT INTO smart_clients (id, name, redirect_uris, launch_url, secret_hash, jwks, jwks_uri, acts_as) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [
            c.id,
            c.name,
            JSON.stringify(c.redirectUris),
            c.launchUrl ?? null,
            clientSecret ? hashSecret(clientSecret) : null,
            jwks ? JSON.stringify(jwks) : null,
            jwksUri,
            backend && actor !== 'cli' ? actor.userId : null,
          ],
        );
        log({
          actor,
          action: 'smart.app.register',
          entityType: 'SmartApp',
          entityId: c.id,
          details: {
            name: c.name,
            redirectUris: c.redirectUris,
            launchUrl: c.launchUrl ?? null,
            confidential: c.confidential,
            asymmetric: c.asymmetric,
            backend: c.backend,
            ...(jwksUri ? { jwksUrl: jwksUri } : {}),
          },
        });
      });
      return { ...c, ...(clientSecret ? { clientSecret } : {}) };
    },

    /**
     * EHR launch (SMART App Launch 2.x §ehr-launch): the signed-in user opens an app on a patient they may see.
     * Returns the opaque `launch` (stored hashed, for this user and app, an hour), and the URL to open.
     */
    async createLaunch(p: Principal, clientId: string, patientId: string) {
      await deps.access.assertPatient(p, patientId);
      const c = await client(clientId);
      if (!c) throw notFound(`SMART app ${clientId}`);
      const launch = randomBytes(24).toString('base64url');
      await deps.db.query('DELETE FROM smart_launches WHERE created_at < $1', [new Date(clock.now() - LAUNCH_TTL_MS).toISOString()]);
      await deps.audit.change(async (tx, log) => {
        await tx.query('INSERT INTO smart_launches (id, client_id, user_id, patient_id) VALUES ($1, $2, $3, $4)', [hash(launch), c.id, p.userId, patientId]);
        log({ actor: p, action: 'smart.launch', entityType: 'SmartClient', entityId: c.id, patientId });
      });
      const iss = deps.baseUrl();
      return { launch, iss, url: c.launchUrl ? `${c.launchUrl}${c.launchUrl.includes('?') ? '&' : '?'}${new URLSearchParams({ iss, launch })}` : null };
    },

    client,

    /** Apps with a launch URL: what the patient page offers to open (EHR launch). */
    async launchableClients(): Promise<Array<{ id: string; name: string }>> {
      return deps.db.query<{ id: string; name: string }>('SELECT id, name FROM smart_clients WHERE launch_url IS NOT NULL ORDER BY name, id');
    },

    /** Checks an authorization request (RFC 6749 §4.1.1 + PKCE RFC 7636); returns what the consent screen shows. */
    async checkRequest(q: Record<string, string | undefined>) {
      const c = q.client_id ? await client(q.client_id) : null;
      // Without a valid client and redirect URI, errors are shown here, never redirected (RFC 6749 §4.1.2.1).
      if (!c) throw new OAuthError('invalid_client', `unknown client_id "${q.client_id ?? ''}"`);
      if (!q.redirect_uri || !c.redirectUris.includes(q.redirect_uri))
        throw new OAuthError('invalid_request', `redirect_uri "${q.redirect_uri ?? ''}" is not registered for ${c.name}`);
      const redirectUri = q.redirect_uri;
      const redirectError = (error: string, description: string) => ({
        redirect: withQuery(redirectUri, { error, error_description: description, ...(q.state ? { state: q.state } : {}) }),
      });
      if (q.response_type !== 'code') return redirectError('unsupported_response_type', 'response_type must be code');
      if (!q.code_challenge || q.code_challenge_method !== 'S256')
        return redirectError('invalid_request', 'PKCE is required: code_challenge with code_challenge_method=S256');
      // SMART App Launch 2.x §app-launch "aud: REQUIRED": the app names the server it means to send the token to,
      // so a token is never issued for a server the app did not intend (found by review: a missing aud passed).
      if (!q.aud || q.aud.replace(/\/$/, '') !== deps.baseUrl())
        return redirectError('invalid_request', `aud ${q.aud ? 'must be' : 'is required: give'} this FHIR server's base URL, ${deps.baseUrl()}`);
      if (q.nonce !== undefined && (q.nonce.length < 1 || q.nonce.length > 255))
        return redirectError('invalid_request', 'nonce must be 1–255 characters (OpenID Connect Core §3.1.2.1)');
      const scopes = grantScopes(q.scope ?? '');
      if (!scopes.some((s) => s.includes('/'))) return redirectError('invalid_scope', 'ask for at least one resource scope, e.g. patient/Observation.rs');
      let launch: LaunchContext | undefined;
      if (q.launch) {
        // EHR launch: the context the EHR bound to this opaque value, for this app (§ehr-launch, §scopes "launch").
        if (!scopes.includes('launch')) return redirectError('invalid_scope', 'an EHR launch (launch=…) needs the scope "launch"');
        const rows = await deps.db.query<{ user_id: string; patient_id: string }>(
          'SELECT user_id, patient_id FROM smart_launches WHERE id = $1 AND client_id = $2 AND created_at > $3',
          [hash(q.launch), c.id, new Date(clock.now() - LAUNCH_TTL_MS).toISOString()],
        );
        if (!rows[0]) return redirectError('invalid_request', 'the launch is unknown, expired, or for another app: open the app from Vigil again');
        launch = { userId: rows[0].user_id, patientId: rows[0].patient_id };
      } else if (scopes.includes('launch')) {
        return redirectError('invalid_scope', 'the scope "launch" is for an EHR launch (with launch=…); a standalone launch asks for launch/patient');
      }
      return { client: c, scopes, redirectUri: q.redirect_uri, state: q.state, codeChallenge: q.code_challenge, nonce: q.nonce, launch };
    },

    /** The user said yes: a one-time code for the app (bound to the redirect URI and PKCE challenge). */
    async approve(
      p: Principal,
      req: { client: SmartClient; scopes: string[]; redirectUri: string; state?: string; codeChallenge: string; nonce?: string },
      patientId: string | null,
    ) {
      const needsPatient = req.scopes.includes('launch/patient') || req.scopes.includes('launch') || patientOnly(req.scopes);
      if (needsPatient && !patientId) throw badRequest('choose the patient this app may see');
      if (patientId) await deps.access.assertPatient(p, patientId);
      const code = await deps.audit.change(async (tx, log) => {
        log({ actor: p, action: 'smart.authorize', entityType: 'SmartClient', entityId: req.client.id, patientId, details: { scopes: req.scopes } });
        const made = await issue(
          'code',
          {
            clientId: req.client.id,
            userId: p.userId,
            patientId,
            scopes: req.scopes,
            redirectUri: req.redirectUri,
            codeChallenge: req.codeChallenge,
            nonce: req.nonce,
          },
          CODE_TTL_MS,
          tx,
        );
        return made.secret;
      });
      return withQuery(req.redirectUri, { code, ...(req.state ? { state: req.state } : {}) });
    },

    /** POST /oauth/token (RFC 6749 §4.1.3, §6; RFC 7636 §4.6); `pc`: the client as the request presents it. */
    async token(form: Record<string, string | undefined>, pc: PresentedClient, tokenEndpoint: string) {
      if (form.grant_type === 'client_credentials') return backendToken(form, tokenEndpoint);
      // The client first (a wrong secret spends nothing), then the grant.
      const caller = await authenticate(pc, tokenEndpoint);
      if (form.grant_type === 'authorization_code') {
        const g = form.code ? await take('code', form.code) : null;
        if (!g) {
          if (form.code) await revokeOnReuse(form.code, caller, 'code');
          throw new OAuthError('invalid_grant', 'the code is unknown, expired or already used');
        }
        await assertCaller(caller, g.client_id, 'code');
        if (form.redirect_uri !== g.redirect_uri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
        const verifier = form.code_verifier ?? '';
        const challenge = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
        const expected = Buffer.from(g.code_challenge ?? '');
        if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier) || challenge.length !== expected.length || !timingSafeEqual(challenge, expected)) {
          throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge (PKCE S256)');
        }
        return tokenResponse(
          { clientId: g.client_id, userId: g.user_id, patientId: g.patient_id, scopes: g.scopes.split(' '), authorizedAt: approvalOf(g), nonce: g.nonce },
          'authorization_code',
        );
      }
      if (form.grant_type === 'refresh_token') {
        const g = form.refresh_token ? await take('refresh', form.refresh_token) : null;
        if (!g) {
          if (form.refresh_token) await revokeOnReuse(form.refresh_token, caller, 'refresh');
          throw new OAuthError('invalid_grant', 'the refresh token is unknown, expired, revoked or already used');
        }
        await assertCaller(caller, g.client_id, 'refresh token');
        const asked = form.scope ? grantScopes(form.scope) : null;
        const had = g.scopes.split(' ');
        if (asked && asked.some((s) => !had.includes(s))) throw new OAuthError('invalid_scope', 'a refresh may narrow the scopes, never widen them');
        return tokenResponse(
          { clientId: g.client_id, userId: g.user_id, patientId: g.patient_id, scopes: asked ?? had, authorizedAt: approvalOf(g) },
          'refresh_token',
        );
      }
      throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code, refresh_token or client_credentials');
    },

    /** Bearer access token → the user's principal, narrowed to what the app was granted. */
    async principalFromAccessToken(secret: string): Promise<Principal | null> {
      const rows = await deps.db.query<GrantRow>(
        `SELECT * FROM smart_grants WHERE hash = $1 AND kind = 'access' AND revoked_at IS NULL AND expires_at > now()`,
        [hash(secret)],
      );
      const g = rows[0];
      if (!g) return null;
      const user = await deps.principalOfUser(g.user_id);
      return user ? { ...user, smart: { clientId: g.client_id, scopes: g.scopes.split(' '), patientId: g.patient_id } } : null;
    },

    /**
     * POST /oauth/revoke (RFC 7009): the app gives up a token. An unknown, expired or already revoked token
     * is a success (§2.2: the client cannot do more about it). Revoking a refresh token also revokes the
     * access and refresh tokens the user gave the same app for the same patient (§2.1: "SHOULD also
     * invalidate all access tokens based on the same authorization grant"); an access token goes alone.
     * The revocation and its `smart.revoke` entry commit together ((d)(2)).
     */
    async revoke(form: Record<string, string | undefined>, pc: PresentedClient, tokenEndpoint: string): Promise<void> {
      const caller = await authenticate(pc, tokenEndpoint);
      if (!caller) throw new OAuthError('invalid_client', 'name the client: client_id, or HTTP Basic for a confidential client', 401);
      if (!form.token) throw new OAuthError('invalid_request', 'token is required (RFC 7009 §2.1)');
      const [g] = await deps.db.query<GrantRow>(`SELECT * FROM smart_grants WHERE hash = $1 AND kind IN ('access', 'refresh')`, [hash(form.token)]);
      if (!g || g.revoked_at) return;
      if (g.client_id !== caller.id) throw new OAuthError('unauthorized_client', 'the token was issued to another client (RFC 7009 §2.1)');
      const owner = await deps.principalOfUser(g.user_id);
      await deps.audit.change(async (tx, log) => {
        const revoked =
          g.kind === 'refresh'
            ? await revokeFamily(tx, g, null)
            : await tx.query<{ kind: string }>(`UPDATE smart_grants SET revoked_at = now() WHERE hash = $1 AND revoked_at IS NULL RETURNING kind`, [g.hash]);
        log({
          actor: owner ?? 'system',
          action: 'smart.revoke',
          entityType: 'SmartClient',
          entityId: g.client_id,
          patientId: g.patient_id,
          details: { tokenType: g.kind, revoked: revoked.length },
        });
      });
    },

    /**
     * POST /oauth/introspect (RFC 7662; SMART App Launch 2.x "Token Introspection"): what a token stands for,
     * asked by a resource server. The caller authenticates: a confidential app (client secret or signed
     * assertion) learns about the tokens issued to it only; a backend service (signed assertion; it acts for the
     * admin who registered it) about any token. Whatever else (unknown, expired, revoked, rotated, another
     * app's, its user disabled) is `{"active": false}` and nothing more (RFC 7662 §2.2).
     * An active answer carries what SMART requires: scope, client_id, exp; the patient when the token has one;
     * iss, sub and fhirUser when an id_token came with it (scope openid).
     */
    async introspect(form: Record<string, string | undefined>, pc: PresentedClient, tokenEndpoint: string): Promise<Record<string, unknown>> {
      let callerId: string;
      let mayReadAny = false;
      if (pc.assertion !== null) {
        const row = await assertedClient(pc, tokenEndpoint, 'app-or-backend');
        if (row.backend) {
          const owner = row.actsAs ? await deps.principalOfUser(row.actsAs) : null;
          if (!owner || !deps.access.mayBackBackendService(owner))
            throw new OAuthError('invalid_client', 'the admin this backend service acts for is disabled or no longer an admin', 401);
          mayReadAny = true;
        }
        callerId = row.id;
      } else {
        const caller = await authenticate(pc, tokenEndpoint);
        if (!caller?.confidential)
          throw new OAuthError(
            'invalid_client',
            'introspection is for confidential apps and backend services: authenticate with the client secret or a signed client_assertion',
            401,
          );
        callerId = caller.id;
      }
      if (!form.token) throw new OAuthError('invalid_request', 'token is required (RFC 7662 §2.1)');
      const inactive = { active: false };
      const [g] = await deps.db.query<GrantRow & { created_at: Date | string }>(
        `SELECT * FROM smart_grants WHERE hash = $1 AND kind IN ('access', 'refresh') AND revoked_at IS NULL AND used_at IS NULL AND expires_at > now()`,
        [hash(form.token)],
      );
      if (!g || (!mayReadAny && g.client_id !== callerId)) return inactive;
      const user = await deps.principalOfUser(g.user_id);
      if (!user) return inactive;
      const scopes = g.scopes.split(' ');
      const who = scopes.includes('openid') ? deps.access.fhirUserOf(user) : null;
      const seconds = (d: Date | string) => Math.floor(new Date(d).getTime() / 1000);
      return {
        active: true,
        scope: g.scopes,
        client_id: g.client_id,
        exp: seconds(g.expires_at),
        iat: seconds(g.created_at),
        token_type: g.kind === 'access' ? 'Bearer' : 'refresh_token',
        ...(g.patient_id ? { patient: toFhirId(g.patient_id) } : {}),
        ...(scopes.includes('openid')
          ? { iss: deps.baseUrl(), sub: g.user_id, ...(who ? { fhirUser: `${deps.baseUrl()}/${who.type}/${toFhirId(who.id)}` } : {}) }
          : {}),
      };
    },

    /** Revokes every token a user gave an app (RFC 7009 spirit; also on sign-out of the app). */
    async revokeClientForUser(userId: string, clientId: string) {
      await deps.db.query('UPDATE smart_grants SET revoked_at = now() WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL', [userId, clientId]);
    },
  };
}

export type SmartService = ReturnType<typeof createSmartService>;
export { AppError };
