import type { IncomingHttpHeaders } from 'node:http';

/**
 * Cross-site request checks for cookie-authenticated browsers (OWASP CSRF Prevention Cheat Sheet: Fetch
 * Metadata and Origin verification; F5, F6). Bearer-token clients are not browsers and are not checked.
 * Allowed: the server's own origin (from the Host header, or VIGIL_PUBLIC_URL) and VIGIL_ALLOWED_ORIGINS.
 */
export function createOriginCheck(opts: { publicUrl?: string; allowedOrigins: string[] }) {
  const fixed = new Set(opts.allowedOrigins.map((o) => o.toLowerCase().replace(/\/$/, '')));
  if (opts.publicUrl) fixed.add(new URL(opts.publicUrl).origin.toLowerCase());

  const allowedOrigin = (origin: string, headers: IncomingHttpHeaders, protocol: string) => {
    const o = origin.toLowerCase();
    if (fixed.has(o)) return true;
    const host = headers.host?.toLowerCase();
    return !!host && (o === `${protocol}://${host}` || o === `http://${host}` || o === `https://${host}`);
  };

  return {
    /** Why a state-changing browser request must be refused, or null when it may go on. */
    refuseUnsafe(headers: IncomingHttpHeaders, protocol: string): string | null {
      const site = headers['sec-fetch-site'];
      if (site === 'cross-site' || site === 'same-site') return `cross-site request refused (Sec-Fetch-Site: ${site})`;
      const origin = headers.origin;
      if (origin && origin !== 'null' && !allowedOrigin(origin, headers, protocol)) return `request from origin ${origin} refused`;
      if (origin === 'null') return 'request from an opaque origin refused';
      return null;
    },
    /** WebSocket handshakes: browsers always send Origin; a foreign one is refused (cross-site WebSocket hijacking). */
    refuseSocket(headers: IncomingHttpHeaders, protocol: string): string | null {
      const origin = headers.origin;
      if (!origin) return null;
      return allowedOrigin(origin, headers, protocol === 'wss' ? 'https' : protocol === 'ws' ? 'http' : protocol)
        ? null
        : `origin ${origin} may not open the live stream`;
    },
  };
}

export type OriginCheck = ReturnType<typeof createOriginCheck>;

/** True for loopback socket addresses (IPv4, IPv6 and IPv4-mapped IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}
