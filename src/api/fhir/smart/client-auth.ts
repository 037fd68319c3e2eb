import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Who is calling the token or revocation endpoint (RFC 6749 §2.3.1): a confidential client proves itself with
 * its secret, by HTTP Basic (`client_secret_basic`, the id and secret form-urlencoded first) or in the form
 * (`client_secret_post`); a public client only names itself (`client_id`, PKCE protects its codes).
 */
export interface PresentedClient {
  /** The client the request names, from the Basic header or the form; null when it names none. */
  id: string | null;
  /** The secret it presented, if any. */
  secret: string | null;
  /** How: 'basic', 'post', or 'none'. */
  method: 'basic' | 'post' | 'none';
}

export class ClientAuthError extends Error {}

/** Reads the client's identity from the Authorization header and the form; refuses two at once (RFC 6749 §2.3). */
export function presentedClient(authorization: string | undefined, form: Record<string, string | undefined>): PresentedClient {
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
    return { id, secret: decode(decoded.slice(colon + 1)), method: 'basic' };
  }
  if (form.client_secret !== undefined) return { id: form.client_id ?? null, secret: form.client_secret, method: 'post' };
  return { id: form.client_id ?? null, secret: null, method: 'none' };
}

export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
