import type { AuditService } from '../../../audit/audit.service.ts';
import type { Principal } from '../../../domain/types.ts';
import type { Db, Queryable } from '../../../platform/db.ts';
import { badRequest, notFound } from '../../../platform/errors.ts';
import { checkKeySource } from './remote-jwks.ts';

/**
 * Looking after the SMART apps an admin registered (smart.service.ts registers them): list them with what they
 * hold, correct their name or URLs, rotate their keys or secret, cut every token they hold, or remove them.
 * The case this exists for: an app's secret or key leaks, or a vendor is dropped — the admin must be able to
 * stop it at once, not only register new ones. SMART tokens are looked up in the database on every request
 * (never cached), so a revocation or a removal takes effect on the next request, on every instance.
 * Each change commits with its audit entry (ONC §170.315(d)(2): security-relevant changes are recorded).
 */

export type SmartAppKind = 'public' | 'confidential' | 'asymmetric' | 'backend';

export interface SmartAppSummary {
  id: string;
  name: string;
  /** public: PKCE only; confidential: a client secret; asymmetric: signed assertions (private_key_jwt); backend: no user (client_credentials). */
  kind: SmartAppKind;
  redirectUris: string[];
  launchUrl: string | null;
  /** Where an app that signs assertions publishes its public keys (null: registered as a JWK Set, or no keys). */
  jwksUrl: string | null;
  createdAt: string;
  /** A backend service reads with the authority of this admin. */
  actsAs: { userId: string; email: string } | null;
  /** Access and refresh tokens that work now (not expired, revoked or spent). */
  liveTokens: number;
  /** Distinct users who hold them. */
  users: number;
  /** When the app last received a token. */
  lastTokenAt: string | null;
}

export interface SmartAppPatch {
  name?: string;
  redirectUris?: string[];
  /** null removes it (the app is no longer offered on the patient page). */
  launchUrl?: string | null;
  /** Key rotation: the new JWK Set replaces the old one (assertions signed with a removed key fail at once). */
  jwks?: { keys: Array<Record<string, unknown>> };
  /** Or the URL where the app publishes its keys from now on (replaces a registered set, and the other way round). */
  jwksUrl?: string;
}

/** RFC 6749 §3.1.2: an absolute URI without a fragment; https, or http only on the loopback (RFC 8252 §7.3). */
export function checkAppUrls(urls: string[]) {
  for (const u of urls) {
    const url = URL.canParse(u) ? new URL(u) : null;
    if (!url || url.hash || !(url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(url.hostname)))) {
      throw badRequest(`redirect URI "${u}" must be an absolute https URL (http only for localhost), without a fragment`);
    }
  }
}

interface Row {
  id: string;
  name: string;
  redirect_uris: string[];
  launch_url: string | null;
  secret_hash: string | null;
  jwks: unknown;
  jwks_uri: string | null;
  acts_as: string | null;
  acts_as_email: string | null;
  created_at: Date | string;
  live_tokens: number | string;
  users: number | string;
  last_token_at: Date | string | null;
}

const kindOf = (r: { secret_hash: string | null; jwks: unknown; jwks_uri: string | null; redirect_uris: string[] }): SmartAppKind =>
  r.jwks !== null || r.jwks_uri !== null ? (r.redirect_uris.length ? 'asymmetric' : 'backend') : r.secret_hash !== null ? 'confidential' : 'public';

const iso = (d: Date | string) => new Date(d).toISOString();

export function createSmartAppRegistry(deps: {
  db: Db;
  audit: AuditService;
  newSecret: () => string;
  hashSecret: (s: string) => string;
  /** A key set URL that changed or went away: its cached set is dropped (remote-jwks.ts). */
  forgetKeySet?: (url: string) => void;
}) {
  async function rows(id: string | null): Promise<SmartAppSummary[]> {
    const found = await deps.db.query<Row>(
      `SELECT c.id, c.name, c.redirect_uris, c.launch_url, c.secret_hash, c.jwks, c.jwks_uri, c.acts_as, u.email AS acts_as_email, c.created_at,
              count(g.hash) AS live_tokens, count(DISTINCT g.user_id) AS users,
              (SELECT max(created_at) FROM smart_grants WHERE client_id = c.id AND kind = 'access') AS last_token_at
         FROM smart_clients c
         LEFT JOIN users u ON u.id = c.acts_as
         LEFT JOIN smart_grants g ON g.client_id = c.id AND g.kind IN ('access', 'refresh') AND g.revoked_at IS NULL AND g.used_at IS NULL AND g.expires_at > now()
        WHERE $1::text IS NULL OR c.id = $1
        GROUP BY c.id, u.email
        ORDER BY c.name, c.id`,
      [id],
    );
    return found.map((r) => ({
      id: r.id,
      name: r.name,
      kind: kindOf(r),
      redirectUris: r.redirect_uris,
      launchUrl: r.launch_url,
      jwksUrl: r.jwks_uri,
      createdAt: iso(r.created_at),
      actsAs: r.acts_as ? { userId: r.acts_as, email: r.acts_as_email ?? '' } : null,
      liveTokens: Number(r.live_tokens),
      users: Number(r.users),
      lastTokenAt: r.last_token_at ? iso(r.last_token_at) : null,
    }));
  }
  async function one(id: string): Promise<SmartAppSummary & { hasJwks: boolean }> {
    const [app] = await rows(id);
    if (!app) throw notFound(`SMART app ${id}`);
    return { ...app, hasJwks: app.kind === 'asymmetric' || app.kind === 'backend' };
  }
  /** Ends every live token of the app (inside `tx`); returns how many. */
  const revokeAll = async (tx: Queryable, id: string) =>
    (
      await tx.query<{ kind: string }>(
        `UPDATE smart_grants SET revoked_at = now() WHERE client_id = $1 AND kind IN ('code', 'access', 'refresh') AND revoked_at IS NULL AND expires_at > now() RETURNING kind`,
        [id],
      )
    ).filter((r) => r.kind !== 'code').length;

  return {
    /** Every registered app, with what it holds now (admins). */
    list: () => rows(null),
    get: async (id: string): Promise<SmartAppSummary> => {
      const { hasJwks: _h, ...app } = await one(id);
      return app;
    },

    /**
     * Corrects an app. Its kind stays what it was registered as (public, confidential, asymmetric, backend):
     * changing it would change who may use its tokens; register a new app instead.
     */
    async update(id: string, patch: SmartAppPatch, actor: Principal | 'cli'): Promise<SmartAppSummary> {
      const app = await one(id);
      const name = patch.name?.trim();
      if (patch.name !== undefined && !name) throw badRequest('an app needs a name');
      if (patch.redirectUris) {
        if (app.kind === 'backend' && patch.redirectUris.length)
          throw badRequest('a backend service has no redirect URI (no user signs in to it): register a user-facing app instead');
        if (app.kind !== 'backend' && !patch.redirectUris.length) throw badRequest('an app needs at least one redirect URI');
        checkAppUrls(patch.redirectUris);
      }
      if (patch.launchUrl) {
        if (app.kind === 'backend') throw badRequest('a backend service (jwks, no redirect URI) has no launch URL: it is never opened on a patient');
        checkAppUrls([patch.launchUrl]);
      }
      const { jwks, jwksUri } = await checkKeySource(patch);
      if ((jwks || jwksUri) && !app.hasJwks)
        throw badRequest(`${app.name} is a ${app.kind} app: it has no keys to rotate (register an app with jwks or jwksUrl instead)`);
      await deps.audit.change(async (tx, log) => {
        await tx.query(
          `UPDATE smart_clients SET name = coalesce($2, name), redirect_uris = coalesce($3::jsonb, redirect_uris),
                  launch_url = CASE WHEN $4::boolean THEN $5 ELSE launch_url END,
                  jwks = CASE WHEN $7::text IS NOT NULL THEN NULL ELSE coalesce($6::jsonb, jwks) END,
                  jwks_uri = CASE WHEN $6::jsonb IS NOT NULL THEN NULL ELSE coalesce($7, jwks_uri) END
            WHERE id = $1`,
          [
            id,
            name ?? null,
            patch.redirectUris ? JSON.stringify(patch.redirectUris) : null,
            patch.launchUrl !== undefined,
            patch.launchUrl ?? null,
            jwks ? JSON.stringify(jwks) : null,
            jwksUri,
          ],
        );
        // Codes issued for a redirect URI that is no longer registered must not be redeemed.
        if (patch.redirectUris)
          await tx.query(
            `UPDATE smart_grants SET revoked_at = now() WHERE client_id = $1 AND kind = 'code' AND revoked_at IS NULL AND NOT ($2::jsonb ? redirect_uri)`,
            [id, JSON.stringify(patch.redirectUris)],
          );
        log({
          actor,
          action: 'smart.app.update',
          entityType: 'SmartApp',
          entityId: id,
          details: {
            ...(name ? { name } : {}),
            ...(patch.redirectUris ? { redirectUris: patch.redirectUris } : {}),
            ...(patch.launchUrl !== undefined ? { launchUrl: patch.launchUrl } : {}),
            ...(jwks ? { keysRotated: jwks.keys.length } : {}),
            ...(jwksUri ? { jwksUrl: jwksUri } : {}),
          },
        });
      });
      if ((jwks || jwksUri) && app.jwksUrl) deps.forgetKeySet?.(app.jwksUrl);
      const { hasJwks: _h, ...updated } = await one(id);
      return updated;
    },

    /** A confidential app's new client secret, shown once; the old one stops at once. Its tokens live on (revoke them too if it leaked). */
    async rotateSecret(id: string, actor: Principal | 'cli'): Promise<{ clientSecret: string }> {
      const app = await one(id);
      if (app.kind !== 'confidential') throw badRequest(`${app.name} is a ${app.kind} app: only a confidential app with a client secret has one to rotate`);
      const clientSecret = deps.newSecret();
      await deps.audit.change(async (tx, log) => {
        await tx.query('UPDATE smart_clients SET secret_hash = $2 WHERE id = $1', [id, deps.hashSecret(clientSecret)]);
        log({ actor, action: 'smart.app.secret', entityType: 'SmartApp', entityId: id, details: { name: app.name } });
      });
      return { clientSecret };
    },

    /** Ends every token the app holds (all users, all patients); the app stays registered and may be authorised again. */
    async revokeTokens(id: string, actor: Principal | 'cli'): Promise<{ revokedTokens: number }> {
      const app = await one(id);
      const revokedTokens = await deps.audit.change(async (tx, log) => {
        const n = await revokeAll(tx, id);
        log({ actor, action: 'smart.revoke', entityType: 'SmartClient', entityId: id, details: { reason: 'revoked by an admin', name: app.name, revoked: n } });
        return n;
      });
      return { revokedTokens };
    },

    /**
     * Removes the app: its tokens, pending codes, launches and used assertion ids go with it (ON DELETE CASCADE),
     * so its next request is a 401 and its next token request `invalid_client`. The audit trail keeps its history.
     */
    async remove(id: string, actor: Principal | 'cli'): Promise<{ id: string; revokedTokens: number }> {
      const app = await one(id);
      const revokedTokens = await deps.audit.change(async (tx, log) => {
        const n = await revokeAll(tx, id);
        await tx.query('DELETE FROM smart_clients WHERE id = $1', [id]);
        log({ actor, action: 'smart.app.remove', entityType: 'SmartApp', entityId: id, details: { name: app.name, kind: app.kind, revoked: n } });
        return n;
      });
      if (app.jwksUrl) deps.forgetKeySet?.(app.jwksUrl);
      return { id, revokedTokens };
    },
  };
}

export type SmartAppRegistry = ReturnType<typeof createSmartAppRegistry>;

/**
 * A registered redirect URI with the answer's parameters added, keeping the URI's own query (RFC 6749
 * §3.1.2: `https://app/cb?tenant=1` gets `…?tenant=1&code=…`, not `…?tenant=1?code=…`; found by review).
 */
export function withQuery(uri: string, params: Record<string, string>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}
