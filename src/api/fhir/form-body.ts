import type { FastifyInstance } from 'fastify';

/**
 * `a=1&b=2&a=3` → `{ a: ['1', '3'], b: '2' }`: a repeated key keeps every value, in order. In a FHIR search a
 * repeated parameter is one more condition (`date=ge…&date=lt…`, R4 §3.1.1.4.4); keeping only the last (as
 * Object.fromEntries does) would silently widen the answer.
 */
export function parseForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null); // a key named __proto__ stays a key
  for (const [k, v] of new URLSearchParams(text)) {
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/**
 * `application/x-www-form-urlencoded` bodies (OAuth forms, FHIR `POST [type]/_search`) through parseForm
 * (OAuth then refuses a repeated parameter, RFC 6749 §3.1, by its schema). Registered once, by whichever
 * routes come first.
 */
export function registerFormBody(app: FastifyInstance) {
  if (app.hasContentTypeParser('application/x-www-form-urlencoded')) return;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) =>
    done(null, parseForm(body as string)),
  );
}
