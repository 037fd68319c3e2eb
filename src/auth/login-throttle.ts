/**
 * Slows password guessing without letting anyone lock a user out (NIST SP 800-63B §5.2.2; OWASP
 * Authentication Cheat Sheet). Failures are counted per (account, client address), per client address, and
 * per account from anywhere; past a free allowance each adds an exponentially growing wait, capped:
 * - one address guessing one account: after 5 failures, 1 s, 2 s, 4 s … up to 15 min;
 * - one address spraying many accounts: after 30 failures, the same backoff for that address;
 * - many addresses on one account: after 50 failures, at most 30 s between attempts — a bound on a
 *   distributed guess (≤ 2,880 a day) that never keeps the real user out for more than half a minute.
 * The real user, from their own address, meets only the last, short wait. The client address is the real one
 * (Fastify's req.ip with VIGIL_TRUSTED_PROXIES, never a header the client chose). In memory, per instance.
 */
const WINDOW_MS = 24 * 3600_000;
type Rule = { free: number; capMs: number; baseMs?: number };
export type ThrottleRules = { pair: Rule; address: Rule; account: Rule };
const RULES: ThrottleRules = {
  pair: { free: 5, capMs: 15 * 60_000 },
  address: { free: 30, capMs: 15 * 60_000 },
  account: { free: 50, capMs: 30_000 },
};
const MAX_KEYS = 200_000;

interface Counter {
  failures: number;
  last: number;
}

/**
 * Wrong second-factor codes count per account: the user of the password-stage session in the cookie (found by
 * review: keyed on the request's principal, a junk Authorization header made every attempt a new key).
 */
export async function mfaThrottleKey(auth: { principalFromSession(token: string): Promise<{ userId: string } | null> }, sessionToken: string): Promise<string> {
  const p = await auth.principalFromSession(sessionToken);
  return `mfa:${p?.userId ?? 'no-session'}`;
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

export function createLoginThrottle(now: () => number = Date.now, rules: ThrottleRules = RULES) {
  const counters = new Map<string, Counter>();
  const keys = (email: string, address: string) => {
    const e = String(email).trim().toLowerCase().slice(0, 254);
    return { pair: `p:${e}\0${address}`, address: `a:${address}`, account: `e:${e}` } as const;
  };
  const get = (key: string): Counter | null => {
    const c = counters.get(key);
    if (!c) return null;
    if (now() - c.last > WINDOW_MS) {
      counters.delete(key);
      return null;
    }
    return c;
  };
  const waitFor = (c: Counter | null, rule: Rule) => {
    if (!c || c.failures < rule.free) return 0;
    const delay = Math.min((rule.baseMs ?? 1000) * 2 ** (c.failures - rule.free), rule.capMs);
    return Math.max(0, c.last + delay - now());
  };
  return {
    /** Milliseconds this attempt must still wait (0: go ahead). */
    retryAfterMs(email: string, address: string): number {
      const k = keys(email, address);
      return Math.max(waitFor(get(k.pair), rules.pair), waitFor(get(k.address), rules.address), waitFor(get(k.account), rules.account));
    },
    failed(email: string, address: string) {
      if (counters.size > MAX_KEYS) counters.clear(); // bound memory under a spray of random emails
      for (const key of Object.values(keys(email, address))) {
        const c = get(key) ?? { failures: 0, last: 0 };
        c.failures++;
        c.last = now();
        counters.set(key, c);
      }
    },
    succeeded(email: string, address: string) {
      const k = keys(email, address);
      counters.delete(k.pair);
      counters.delete(k.account);
    },
  };
}
