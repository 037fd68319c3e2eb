import type { FastifyInstance } from 'fastify';

/**
 * `application/x-www-form-urlencoded` bodies (OAuth forms, FHIR `POST [type]/_search`): a repeated key keeps
 * every value, in order (a search's `date=ge…&date=lt…` is two conditions; OAuth refuses a repeated parameter,
 * RFC 6749 §3.1, through its schema). Registered once, by whichever routes come first.
 */
export function registerFormBody(app: FastifyInstance) {
  if (app.hasContentTypeParser('application/x-www-form-urlencoded')) return;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    const out: Record<string, string | string[]> = Object.create(null); // a key named __proto__ stays a key
    for (const [k, v] of new URLSearchParams(body as string)) {
      const had = out[k];
      out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
    }
    done(null, out);
  });
}
