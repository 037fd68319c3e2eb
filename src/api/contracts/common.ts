import { z } from 'zod';

/**
 * Shared pieces of the API contract. This folder is imported by the server (validation, OpenAPI) and by
 * the web app (types, `import type` only), so it must not import anything outside `zod` and itself.
 */

/** Every error answer on /api: `{"error": {"code", "message"}}` with the HTTP status. */
export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).meta({ id: 'Error' });

export const IdParams = z.object({ id: z.string().min(1).max(200) });

/** An ISO 8601 time with offset, as every response sends times. */
export const IsoTime = z.string().describe('ISO 8601 time');

/** A time query parameter: ISO 8601 or epoch milliseconds; parsed to epoch ms. */
export const TimeParam = z
  .string()
  .transform((value, ctx) => {
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: `must be an ISO 8601 time or epoch milliseconds (got "${value}")` });
      return z.NEVER;
    }
    return ms;
  })
  .describe('ISO 8601 time or epoch milliseconds');

/** An integer query parameter clamped to [min, max] (out-of-range values are clamped, not refused). */
export const ClampedInt = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((s) => {
      const n = s === undefined ? fallback : Number(s) || fallback;
      return Math.min(max, Math.max(min, Math.trunc(n)));
    })
    .describe(`integer ${min}–${max} (default ${fallback})`);

export const Role = z.enum(['admin', 'clinician', 'patient']);
export type Role = z.infer<typeof Role>;

/** An object with free-form keys, for shapes the API passes through (rule definitions, analysis details). */
export const Loose = z.record(z.string(), z.unknown());

export const NoContent = z.null().describe('no content');

export const Health = z.object({ status: z.enum(['ok', 'unavailable']), database: z.enum(['up', 'down']), broker: z.enum(['up', 'down', 'disabled']) });
