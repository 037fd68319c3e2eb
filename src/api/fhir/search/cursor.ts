import { badRequest } from '../../../platform/errors.ts';

/** Opaque keyset cursors: base64url JSON of the last row's sort key, bound to the sort they were made for. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!check(v)) throw badRequest('_cursor is not one this server issued for this search: follow the Bundle\'s "next" link');
  return v;
}
