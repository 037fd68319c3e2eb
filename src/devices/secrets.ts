import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Device secrets are 256-bit random values, so a single SHA-256 is enough to store them safely (no
 * dictionary to slow down), and verifying one costs microseconds when a fleet reconnects at once.
 * Human passwords use scrypt instead (auth/passwords.ts).
 */
export function hashSecret(secret: string): string {
  return 'sha256:' + createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function verifySecret(secret: string, stored: string): boolean {
  const a = Buffer.from(hashSecret(secret));
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}
