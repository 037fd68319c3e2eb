/**
 * The exact JSON value an entry will have after a jsonb round trip: keys with `undefined` values dropped (as
 * JSON.stringify does; F1: the web app's `{}` acknowledgement hashed `"note": undefined` but stored nothing),
 * non-finite numbers null, dates as ISO strings, and NUL characters (which PostgreSQL text and jsonb refuse)
 * replaced by U+FFFD.
 */
export function jsonSafe<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'string' ? x.replace(/\u0000/g, '\uFFFD') : x)) ?? 'null');
}

/** JSON with sorted keys, so the hash does not depend on how jsonb reorders them. Undefined members are skipped. */
export function canonicalJson(v: unknown): string {
  if (v === null || v === undefined || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return '[' + v.map((x) => canonicalJson(x)).join(',') + ']';
  const o = v as Record<string, unknown>;
  return (
    '{' +
    Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k]))
      .join(',') +
    '}'
  );
}
