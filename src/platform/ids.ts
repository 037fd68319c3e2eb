import { randomBytes, randomUUID } from 'node:crypto';

/** Short readable ids with a type prefix, e.g. `pat_8f3k2m9q`; unguessable enough for URLs, not secrets. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').toLowerCase()}`;
}

/** A secret for a device: 32 random bytes as hex (safe in shells, URLs and device configs; never starts with "-"). */
export function newSecret(): string {
  return randomBytes(32).toString('hex');
}

export { randomUUID };
