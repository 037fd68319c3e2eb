/**
 * Marks `p` as observed at once and returns it. For a promise created now and awaited later, after other
 * awaits: a rejection that arrives in between would otherwise be an unhandled rejection, which fails the
 * whole test run (vitest reports it as an error even though the test would have caught it; CI on 8cfcb9a).
 * `await p` later still throws as usual, and `expect(p).rejects` still sees the rejection.
 */
export function observe<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
