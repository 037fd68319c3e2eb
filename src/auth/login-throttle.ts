/**
 * Slows password guessing: after MAX_FAILURES failed logins for one email (or from one address) within
 * WINDOW_MS, further attempts are refused with 429 until the window passes (OWASP Authentication Cheat
 * Sheet: account and source throttling). In memory: per instance, which is enough to make guessing slow.
 */
const WINDOW_MS = 15 * 60_000; // 15 min
const MAX_FAILURES = 10;

export function createLoginThrottle(now: () => number = Date.now) {
  const failures = new Map<string, number[]>();
  const recent = (key: string) => (failures.get(key) ?? []).filter((t) => now() - t < WINDOW_MS);
  return {
    /** True when this email or address must wait. */
    blocked(email: string, address: string): boolean {
      return recent(`e:${email.toLowerCase()}`).length >= MAX_FAILURES || recent(`a:${address}`).length >= MAX_FAILURES * 3;
    },
    failed(email: string, address: string) {
      for (const key of [`e:${email.toLowerCase()}`, `a:${address}`]) failures.set(key, [...recent(key), now()]);
      if (failures.size > 100_000) failures.clear(); // bound memory under a spray of random emails
    },
    succeeded(email: string) {
      failures.delete(`e:${email.toLowerCase()}`);
    },
  };
}
