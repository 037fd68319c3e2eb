import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Who is calling the token, revocation or introspection endpoint (RFC 6749 §2.3.1): a confidential client
 * proves itself with its secret, by HTTP Basic (`client_secret_basic`, the id and secret form-urlencoded
 * first) or in the form (`client_secret_post`), or with a JWT it signs with its private key
 * (`private_key_jwt`, RFC 7523 §2.2, SMART "client-confidential-asymmetric"); a public client only names
 * itself (`client_id`, PKCE protects its codes).
 */
export interface PresentedClient {
  /** The client the request names, from the Basic header or the form; null when it names none. */
  id: string | null;
  /** The secret it presented, if any. */
  secret: string | null;
  /** The signed client assertion it presented (private_key_jwt), if any; checked by the SMART service. */
  assertion: string | null;
  /** How: 'basic', 'post', 'private_key_jwt', or 'none'. */
  method: 'basic' | 'post' | 'private_key_jwt' | 'none';
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export class ClientAuthError extends Error {}

/** Reads the client's identity from the Authorization header and the form; refuses two at once (RFC 6749 §2.3). */
export function presentedClient(authorization: string | undefined, form: Record<string, string | undefined>): PresentedClient {
  if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
    if (form.client_assertion_type !== JWT_BEARER) throw new ClientAuthError(`client_assertion_type must be ${JWT_BEARER} (RFC 7523 §2.2)`);
    if (!form.client_assertion) throw new ClientAuthError('client_assertion_type given without a client_assertion');
    if (authorization?.toLowerCase().startsWith('basic ') || form.client_secret !== undefined)
      throw new ClientAuthError('use one way to authenticate the client: a client_assertion or a client secret, not both');
    return { id: form.client_id ?? null, secret: null, assertion: form.client_assertion, method: 'private_key_jwt' };
  }
  if (authorization?.toLowerCase().startsWith('basic ')) {
    if (form.client_secret !== undefined)
      throw new ClientAuthError('use one way to authenticate the client: the Authorization header or client_secret, not both');
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new ClientAuthError('the Basic credentials must be client_id:client_secret');
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        throw new ClientAuthError('the Basic credentials are not form-urlencoded (RFC 6749 §2.3.1)');
      }
    };
    const id = decode(decoded.slice(0, colon));
    if (form.client_id !== undefined && form.client_id !== id) throw new ClientAuthError('client_id in the form differs from the Authorization header');
    return { id, secret: decode(decoded.slice(colon + 1)), assertion: null, method: 'basic' };
  }
  if (form.client_secret !== undefined) return { id: form.client_id ?? null, secret: form.client_secret, assertion: null, method: 'post' };
  return { id: form.client_id ?? null, secret: null, assertion: null, method: 'none' };
}

export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
