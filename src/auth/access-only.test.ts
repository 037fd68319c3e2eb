/**
 * "Access decisions only in the policy module" (issue 7): outside src/auth/ no code compares a role. Routes
 * declare a policy (api/policy.ts) and services ask auth/access.ts. The list of files still comparing roles
 * is empty and stays so: a new comparison anywhere fails.
 */
import { describe, expect, it } from 'vitest';
import { countMatches } from '../../test/support/source-files.ts';

const ROLE_COMPARISON = /\.role\s*[!=]==?|[!=]==?\s*[\w.]*\.role\b|\brole\s*[!=]==?\s*'(admin|clinician|patient)'/g;

/** file → how many comparisons it still has (to be moved into auth/access.ts). */
const NOT_YET_MOVED: Record<string, number> = {};

describe('access decisions live in auth/access.ts', () => {
  it('no role comparison outside src/auth (except the shrinking list)', () => {
    expect(countMatches(ROLE_COMPARISON, (file) => file.startsWith('auth/'))).toEqual(NOT_YET_MOVED);
  });

  it('the pattern finds what it must (so an empty result means something)', () => {
    for (const s of ["p.role === 'admin'", "principal.role !== 'patient'", "'admin' === p.role", "role === 'clinician'"])
      expect(s.match(ROLE_COMPARISON), s).not.toBeNull();
    expect("const role = 'admin'".match(ROLE_COMPARISON)).toBeNull();
  });
});
