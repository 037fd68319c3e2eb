import { createHash } from 'node:crypto';
import type { AuthService } from '../auth/auth.service.ts';
import type { Principal } from '../domain/types.ts';
import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';

/** How long an instance may answer from its cache without asking the database: the bound on staleness. */
export const PRINCIPAL_CACHE_TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;
export const PRINCIPAL_CHANNEL = 'vigil_principals';

/**
 * "Bearer API token → principal" for a moment (the lookup was one query on every request: most of what an
 * API client waits for beyond its own query, bench:fhir). Revocation-safe:
 * - on this instance, at once: the auth service's session-ended signal (a token revoked, a user disabled,
 *   signed out everywhere, a password changed, second factors reset) and a patient's erasure (which deletes
 *   their login; app.ts) empty the cache before the call that made the change returns; a lookup that was already under way when it happened is not stored
 *   (generation check), so it cannot put the old answer back;
 * - on every instance (PostgreSQL): a trigger (migration 021) NOTIFYs `vigil_principals` with the user id when
 *   a token or user row changes in a way that matters, at COMMIT, whoever wrote it (another instance, the CLI,
 *   SQL); each instance LISTENs and drops that user's entries. After the LISTEN connection comes back from a
 *   drop, everything is dropped (what was missed is unknown);
 * - in every case, at most PRINCIPAL_CACHE_TTL_MS (2 s) after the change, whatever was missed: an entry is
 *   never older than that. This is also the most a token may outlive its `expires_at`.
 * Only negative answers are never cached: an unknown or revoked token asks the database every time.
 * Sessions (cookies) are not cached: their idle timeout is kept by touching them.
 */
export function createPrincipalCache(deps: { auth: AuthService; db: Db; logger?: Logger; now?: () => number; ttlMs?: number }) {
  const now = deps.now ?? (() => performance.now());
  const ttl = deps.ttlMs ?? PRINCIPAL_CACHE_TTL_MS;
  const entries = new Map<string, { principal: Principal; until: number }>();
  let generation = 0;
  const counters = { hits: 0, misses: 0, invalidations: 0 };
  let unlisten: (() => Promise<void>) | null = null;

  const clear = () => {
    generation++;
    counters.invalidations++;
    entries.clear();
  };
  const dropUser = (userId: string) => {
    generation++;
    counters.invalidations++;
    for (const [k, e] of entries) if (e.principal.userId === userId) entries.delete(k);
  };
  const offEnded = deps.auth.onSessionEnded(() => clear());

  return {
    /** auth.principalFromToken, answered from memory when a fresh answer is there. */
    async principalFromToken(token: string): Promise<Principal | null> {
      const key = createHash('sha256').update(token).digest('base64url');
      const hit = entries.get(key);
      const t = now();
      if (hit && hit.until > t) {
        counters.hits++;
        return hit.principal;
      }
      counters.misses++;
      const started = generation;
      const principal = await deps.auth.principalFromToken(token);
      if (!principal || generation !== started) {
        entries.delete(key);
        return principal;
      }
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!); // the oldest
      entries.set(key, { principal, until: t + ttl });
      return principal;
    },

    /** LISTEN for other instances' changes (PostgreSQL; PGlite has one instance and no LISTEN). */
    async start() {
      if (!deps.db.listen) return;
      unlisten = await deps.db.listen(PRINCIPAL_CHANNEL, (userId) => (userId ? dropUser(userId) : clear()));
    },
    async close() {
      offEnded();
      await unlisten?.();
      unlisten = null;
      entries.clear();
    },
    /** Forget everything (a local change the auth service does not signal, e.g. a patient's erasure deleting their login). */
    invalidateAll: clear,
    stats: () => ({ ...counters, size: entries.size, ttlMs: ttl }),
  };
}

export type PrincipalCache = ReturnType<typeof createPrincipalCache>;
