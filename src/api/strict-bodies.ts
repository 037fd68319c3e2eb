import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * REST request bodies refuse fields they do not declare (400 "body: Unrecognized key: \"slotMinuts\""): a
 * misspelt optional field was silently dropped and its default used, e.g. 15-minute slots for `slotMinuts: 30`
 * or an alert rule without the limit its author meant (found by review). Only the top level of `/api/` bodies
 * whose schema is a plain object: FHIR resources are open by the FHIR rules (looseObject), and OAuth endpoints
 * must ignore parameters they do not know (RFC 6749 §3.1).
 */
// The same for `/api/` query strings: `?stauts=booked` answered every appointment, unfiltered (found by review).
export const strictBodyValidator: typeof validatorCompiler = (route) => {
  const { schema, httpPart, url } = route as typeof route & { httpPart?: string; url?: string };
  const strict =
    (httpPart === 'body' || httpPart === 'querystring') && url?.startsWith('/api/') && schema instanceof z.ZodObject && schema._zod.def.catchall === undefined
      ? schema.strict()
      : schema;
  return validatorCompiler({ ...route, schema: strict });
};
