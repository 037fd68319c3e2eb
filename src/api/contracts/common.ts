import { z } from 'zod';

/**
 * Shared pieces of the API contract. This folder is imported by the server (validation, OpenAPI) and by
 * the web app (types, `import type` only), so it must not import anything outside `zod` and itself.
 */

/** Every error answer on /api: `{"error": {"code", "message"}}` with the HTTP status. */
export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).meta({ id: 'Error' });

/**
 * Text from outside: at most `max` characters and no NUL (PostgreSQL text cannot hold U+0000, so a NUL
 * would otherwise surface as a database error, a 500, instead of a 400 naming the field).
 */
export const Text = (max: number, min = 0) =>
  z
    .string()
    .min(min, min > 0 ? `is required (at least ${min} character${min > 1 ? 's' : ''})` : undefined)
    .max(max, `is too long (at most ${max} characters)`)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

/** An id in a path or body: 1–200 characters, no NUL. */
export const Id = Text(200, 1);

export const IdParams = z.object({ id: Id });

const YEAR_1 = -62_135_596_800_000; // 0001-01-01T00:00:00Z
const YEAR_9999_END = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/** A date-time query bound (ISO 8601 or epoch ms) within years 1–9999, passed on as an ISO string. */
export const DateBound = z
  .string()
  .max(40)
  .transform((value, ctx) => {
    const ms = /^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(ms) || ms < YEAR_1 || ms > YEAR_9999_END) {
      ctx.addIssue({ code: 'custom', message: `must be an ISO 8601 time between years 1 and 9999 (got "${value.slice(0, 40)}")` });
      return z.NEVER;
    }
    return new Date(ms).toISOString();
  })
  .describe('ISO 8601 time or epoch milliseconds');

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

/**
 * A query parameter listing values of an enum, comma-separated (`status=booked,arrived`): blanks and spaces
 * around commas are ignored; an unknown value is a 400 naming it. At most `max` characters.
 */
export const commaList = <E extends z.ZodEnum<Readonly<Record<string, string>>>>(values: E, max = 200) =>
  z
    .string()
    .max(max)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(values));

export const Role = z.enum(['admin', 'clinician', 'patient', 'caregiver', 'guest']);
export type Role = z.infer<typeof Role>;

/** An object with free-form keys, for shapes the API passes through (rule definitions, analysis details). */
export const Loose = z.record(z.string(), z.unknown());

export const NoContent = z.null().describe('no content');

export const Health = z.object({ status: z.enum(['ok', 'unavailable']), database: z.enum(['up', 'down']), broker: z.enum(['up', 'down', 'disabled']) });
