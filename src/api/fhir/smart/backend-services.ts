import { decodeJwt, importJWK, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Db } from '../../../platform/db.ts';
import type { Clock } from '../../../platform/clock.ts';
import { badRequest } from '../../../platform/errors.ts';

/**
 * SMART Backend Services (HL7 SMART App Launch 2.x §backend-services; RFC 7523 private_key_jwt): a server
 * with no user present (a data warehouse pulling Bulk Data every night) proves itself with a short JWT it
 * signs with its own private key; Vigil keeps only the app's public keys (a JWK Set given at registration, or
 * the URL where the app publishes it: remote-jwks.ts).
 * Signature checks and claim checks are jose's; what this file adds is the SMART profile: RS384 or ES384,
 * iss = sub = client_id, aud = the token endpoint, exp at most five minutes ahead, and a jti used once.
 */

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ASSERTION_ALGS = ['RS384', 'ES384'];
const MAX_LIFETIME_S = 300;

export class AssertionError extends Error {}

/** Checks a JWK Set an admin registers: public keys only, each importable, for an algorithm the profile allows. */
export async function checkJwks(jwks: { keys: Array<Record<string, unknown>> }): Promise<JSONWebKeySet> {
  if (!jwks.keys.length) throw badRequest('jwks: give at least one public key');
  for (const [i, key] of jwks.keys.entries()) {
    if ('d' in key || 'p' in key || 'k' in key)
      throw badRequest(`jwks.keys[${i}] holds private or secret key material: register only the public key (the app keeps its private key)`);
    const alg = typeof key.alg === 'string' ? key.alg : key.kty === 'EC' ? 'ES384' : 'RS384';
    if (!ASSERTION_ALGS.includes(alg)) throw badRequest(`jwks.keys[${i}]: alg ${alg} is not allowed (SMART Backend Services: ${ASSERTION_ALGS.join(' or ')})`);
    try {
      await importJWK(key, alg);
    } catch (err) {
      throw badRequest(`jwks.keys[${i}] is not a usable ${alg} public key: ${(err as Error).message}`);
    }
  }
  return jwks as unknown as JSONWebKeySet;
}

/** The client an assertion claims to be from (its `iss`), before anything is verified: to find its keys. */
export function claimedClient(assertion: string): string {
  try {
    const iss = decodeJwt(assertion).iss;
    if (typeof iss === 'string' && iss) return iss;
  } catch {
    // falls through
  }
  throw new AssertionError('client_assertion is not a JWT with an iss (the client_id)');
}

/**
 * Verifies a client assertion against the app's registered keys (`keys`: remote-jwks.ts resolver) and spends
 * its jti. Throws AssertionError naming what is wrong (the token endpoint answers invalid_client with it).
 */
export async function verifyAssertion(
  db: Db,
  clock: Clock,
  assertion: string,
  client: { id: string; keys: JWTVerifyGetKey },
  tokenEndpoint: string,
): Promise<void> {
  let payload;
  try {
    ({ payload } = await jwtVerify(assertion, client.keys, {
      algorithms: ASSERTION_ALGS,
      issuer: client.id,
      subject: client.id,
      audience: tokenEndpoint,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(clock.now()),
      clockTolerance: 30,
    }));
  } catch (err) {
    if (err instanceof AssertionError) throw err;
    throw new AssertionError(`client_assertion refused: ${(err as Error).message}`);
  }
  const now = Math.floor(clock.now() / 1000);
  if (payload.exp! - now > MAX_LIFETIME_S) throw new AssertionError(`client_assertion must expire within ${MAX_LIFETIME_S} s (SMART Backend Services)`);
  await db.query('DELETE FROM smart_assertion_jtis WHERE expires_at < $1', [new Date(clock.now()).toISOString()]);
  const spent = await db.query('INSERT INTO smart_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING jti', [
    client.id,
    String(payload.jti),
    new Date((payload.exp! + 30) * 1000).toISOString(),
  ]);
  if (!spent.length) throw new AssertionError('client_assertion was already used (its jti): sign a new one for every token request');
}
