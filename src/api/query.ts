import { badRequest } from '../platform/errors.ts';

/** A time query parameter: ISO 8601 or epoch ms. */
export function parseTime(value: string, name: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw badRequest(`${name} must be an ISO 8601 time or epoch milliseconds (got "${value}")`);
  return ms;
}
