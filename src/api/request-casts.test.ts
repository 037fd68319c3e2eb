/**
 * "No `as {…}` cast on a request body, query or params" (issue 7): handlers read the typed, validated input
 * their route's schema gives them (api/README.md). This walks every source file, so a route written
 * anywhere (api/, csv/, messaging/, …) is covered. The list of files still casting is empty
 * and stays so: a new cast fails.
 */
import { describe, expect, it } from 'vitest';
import { countMatches } from '../../test/support/source-files.ts';

const REQUEST_CAST = /\breq\.(body|query|params)\)?\s+as\b|\(req\.(body|query|params)\s*\?\?\s*\{\}\)\s*as\b/g;

/** file → how many casts it still has. */
const NOT_YET_TYPED: Record<string, number> = {};

describe('request input is typed by its schema, never cast', () => {
  it('no `req.body as` / `req.query as` / `req.params as` in the sources (except the shrinking list)', () => {
    expect(countMatches(REQUEST_CAST)).toEqual(NOT_YET_TYPED);
  });

  it('the pattern finds what it must (so an empty result means something)', () => {
    for (const s of [
      'req.body as { a: string }',
      '(req.body ?? {}) as X',
      'req.query as Query',
      '(req.params as { id: string }).id',
      '(req.query ?? {}) as Record<string, unknown>',
    ]) {
      expect(s.match(REQUEST_CAST), s).not.toBeNull();
    }
    expect('const body = req.body;'.match(REQUEST_CAST)).toBeNull();
  });
});
