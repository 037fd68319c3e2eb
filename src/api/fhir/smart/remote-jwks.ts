import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../../../platform/clock.ts';
import { badRequest } from '../../../platform/errors.ts';
import { AssertionError, checkJwks } from './backend-services.ts';

/**
 * An app's public keys by URL (SMART App Launch 2.x, client-confidential-asymmetric: "FHIR authorization servers
 * SHALL support registration of client JWKs" both as a JWK Set URL, strongly preferred because the app rotates
 * its own keys there, and as a JWK Set). What the IG asks of the server, and what this file does:
 * - a `jku` header must be the URL registered for that client, or verification fails;
 * - the key is the single one whose `kid` matches and whose `kty` fits the algorithm (jose's local key set);
 * - the set is fetched with GET and `Accept: application/json`, and never cached longer than the app's
 *   `Cache-Control` says (no-store or no-cache: not kept; max-age: at most that; none: DEFAULT_TTL_S);
 * - an unknown `kid` fetches the set again (the app rotated its key), at most once per REFETCH_COOLDOWN_MS.
 * The URL is registered by an admin; it is fetched without following redirects, within FETCH_TIMEOUT_MS and
 * MAX_BYTES, and a set holding private key material is refused whole.
 */
export const FETCH_TIMEOUT_MS = 5000;
export const MAX_BYTES = 64 * 1024;
export const DEFAULT_TTL_S = 300;
const MAX_TTL_S = 24 * 3600;
const REFETCH_COOLDOWN_MS = 30_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The URL an admin registers: https, or http on this machine only (development); no credentials or fragment. */
export function checkJwksUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest(`jwksUrl: "${raw.slice(0, 200)}" is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname)))
    throw badRequest('jwksUrl must be https (SMART: a TLS-protected endpoint); http only for localhost');
  if (url.username || url.password) throw badRequest('jwksUrl must not carry a user name or password');
  if (url.hash) throw badRequest('jwksUrl must not have a fragment');
  return url.href;
}

/**
 * An app's key source as an admin gives it, at registration or in a change: the set itself or the URL where the
 * app publishes it, never both (the app would have two sources of truth for its keys). Null where not given.
 */
export async function checkKeySource(given: {
  jwks?: { keys: Array<Record<string, unknown>> };
  jwksUrl?: string;
}): Promise<{ jwks: JSONWebKeySet | null; jwksUri: string | null }> {
  if (given.jwks && given.jwksUrl) throw badRequest('give the public keys one way: jwks (the set) or jwksUrl (where the app publishes it), not both');
  return { jwks: given.jwks ? await checkJwks(given.jwks) : null, jwksUri: given.jwksUrl ? checkJwksUrl(given.jwksUrl) : null };
}

/** How long a fetched set may be kept, in seconds, from its Cache-Control header. */
export function cacheSeconds(header: string | null): number {
  if (!header) return DEFAULT_TTL_S;
  const directives = header
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  const maxAge = directives.find((d) => d.startsWith('max-age='));
  if (!maxAge) return DEFAULT_TTL_S;
  const s = Number(maxAge.slice('max-age='.length));
  return Number.isFinite(s) && s >= 0 ? Math.min(Math.floor(s), MAX_TTL_S) : 0;
}

async function fetchSet(url: string): Promise<{ set: JSONWebKeySet; ttlS: number }> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new AssertionError(`the app's key set at ${url} could not be fetched (${(err as Error).message})`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new AssertionError(`the app's key set at ${url} answered HTTP ${res.status}`);
  }
  if (Number(res.headers.get('content-length') ?? 0) > MAX_BYTES) {
    await res.body?.cancel();
    throw new AssertionError(`the app's key set at ${url} is larger than ${MAX_BYTES} bytes`);
  }
  const bytes = await readAtMost(res, MAX_BYTES);
  if (!bytes) throw new AssertionError(`the app's key set at ${url} is larger than ${MAX_BYTES} bytes`);
  let set: unknown;
  try {
    set = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new AssertionError(`the app's key set at ${url} is not JSON`);
  }
  const keys = (set as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.some((k) => !k || typeof k !== 'object'))
    throw new AssertionError(`the app's key set at ${url} is not a JWK Set (an object with "keys": [...])`);
  if (keys.some((k: Record<string, unknown>) => 'd' in k || 'p' in k || 'k' in k))
    throw new AssertionError(`the app's key set at ${url} holds private or secret key material: it is not used`);
  return { set: set as JSONWebKeySet, ttlS: cacheSeconds(res.headers.get('cache-control')) };
}

/** The body, or null when it is longer than max bytes (read no further than that). */
async function readAtMost(res: Response, max: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > max) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Key sets fetched by URL, kept per URL as long as their Cache-Control allows (one cache per instance). */
export function createRemoteKeySets(clock: Clock) {
  const cache = new Map<string, { set: JSONWebKeySet; fetchedAt: number; expiresAt: number }>();
  async function get(url: string, fresh: boolean): Promise<{ set: JSONWebKeySet; fetchedAt: number }> {
    const hit = cache.get(url);
    if (hit && !fresh && hit.expiresAt > clock.now()) return hit;
    const { set, ttlS } = await fetchSet(url);
    const entry = { set, fetchedAt: clock.now(), expiresAt: clock.now() + ttlS * 1000 };
    if (ttlS > 0) cache.set(url, entry);
    else cache.delete(url);
    return entry;
  }
  return {
    /**
     * The key resolver for a client's assertion (the IG's algorithm): registered by value (`jwks`) or by URL
     * (`jwksUri`). A `jku` header must name the registered URL; a set registered by value has none to name.
     */
    resolver(keys: { jwks: JSONWebKeySet } | { jwksUri: string }): JWTVerifyGetKey {
      return async (header, token) => {
        if (header.jku !== undefined && (!('jwksUri' in keys) || header.jku !== keys.jwksUri))
          throw new AssertionError(`the assertion's jku ${String(header.jku).slice(0, 200)} is not the key set URL registered for this app`);
        if ('jwks' in keys) return createLocalJWKSet(keys.jwks)(header, token);
        const first = await get(keys.jwksUri, false);
        try {
          return await createLocalJWKSet(first.set)(header, token);
        } catch (err) {
          // A kid the cached set lacks: the app may have rotated its key; fetch again (not too often).
          if (!(err instanceof errors.JWKSNoMatchingKey) || clock.now() - first.fetchedAt < REFETCH_COOLDOWN_MS) throw err;
          return createLocalJWKSet((await get(keys.jwksUri, true)).set)(header, token);
        }
      };
    },
    /** Forgets a URL's set (its app was changed or removed). */
    forget(url: string) {
      cache.delete(url);
    },
  };
}
export type RemoteKeySets = ReturnType<typeof createRemoteKeySets>;
