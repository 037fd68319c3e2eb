import type { Clock } from '../platform/clock.ts';
import type { ThrottleCount, ThrottleStore } from './throttle-store.ts';
import { AppError } from '../platform/errors.ts';

/**
 * Slows password guessing without letting anyone lock a user out (NIST SP 800-63B §5.2.2; OWASP
 * Authentication Cheat Sheet). Failures are counted per (account, client address), per client address, and
 * per account from anywhere; past a free allowance each adds an exponentially growing wait, capped:
 * - one address guessing one account: after 5 failures, 1 s, 2 s, 4 s … up to 15 min;
 * - one address spraying many accounts: after 30 failures, the same backoff for that address;
 * - many addresses on one account: after 50 failures, at most 30 s between attempts — a bound on a
 *   distributed guess (≤ 2,880 a day) that never keeps the real user out for more than half a minute.
 * The real user, from their own address, meets only the last, short wait. The client address is the real one
 * (Fastify's req.ip with VIGIL_TRUSTED_PROXIES, never a header the client chose). Counted in the database
 * (throttle-store.ts), shared by every instance.
 */
const WINDOW_MS = 24 * 3600_000;
/** How long a claim on "an attempt of this account from this address is being checked" lasts if its instance dies. */
const CLAIM_MS = 30_000;
type Rule = { free: number; capMs: number; baseMs?: number };
/** `account: null`: not counted per account (a throttle whose "account" is one shared key). */
export type ThrottleRules = { pair: Rule; address: Rule; account: Rule | null };
const RULES: ThrottleRules = {
  pair: { free: 5, capMs: 15 * 60_000 },
  address: { free: 30, capMs: 15 * 60_000 },
  account: { free: 50, capMs: 30_000 },
};

/**
 * Wrong second-factor codes count per account: the user of the password-stage session in the cookie (found by
 * review: keyed on the request's principal, a junk Authorization header made every attempt a new key).
 */
export async function mfaThrottleKey(auth: { principalFromSession(token: string): Promise<{ userId: string } | null> }, sessionToken: string): Promise<string> {
  const p = await auth.principalFromSession(sessionToken);
  return `mfa:${p?.userId ?? 'no-session'}`;
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

/**
 * `scope` keeps throttles sharing one store apart (sign-in, reset emails, reset links, invitation links).
 * The store is the database in the running app (throttle-store.ts), so every instance counts the same failures.
 */
export function createLoginThrottle(o: { store: ThrottleStore; scope: string; clock: Clock; rules?: ThrottleRules }) {
  const rules = o.rules ?? RULES;
  const keys = (email: string, address: string) => {
    const e = String(email).trim().toLowerCase().slice(0, 254);
    const k = { pair: `${o.scope}|p:${e}\0${address}`, address: `${o.scope}|a:${address}`, account: `${o.scope}|e:${e}` } as const;
    return { ...k, all: rules.account ? [k.pair, k.address, k.account] : [k.pair, k.address] };
  };
  const waitFor = (c: ThrottleCount | undefined, rule: Rule, now: number) => {
    if (!c || c.failures < rule.free || now - c.last > WINDOW_MS) return 0;
    const delay = Math.min((rule.baseMs ?? 1000) * 2 ** (c.failures - rule.free), rule.capMs);
    return Math.max(0, c.last + delay - now);
  };
  /** The longest of the pair's, the address's and the account's waits. */
  const waitOf = (k: ReturnType<typeof keys>, counts: Map<string, ThrottleCount>) => {
    const now = o.clock.now();
    return Math.max(
      waitFor(counts.get(k.pair), rules.pair, now),
      waitFor(counts.get(k.address), rules.address, now),
      rules.account ? waitFor(counts.get(k.account), rules.account, now) : 0,
    );
  };
  /** Counts one request unless it must wait (the wait, ms), with a way to give the count back (`charge` below). */
  const charge = async (email: string, address: string): Promise<{ wait: number; refund: () => Promise<void> }> => {
    const k = keys(email, address);
    const at = o.clock.now();
    const { wait, before } = await o.store.countUnlessWaiting(k.all, at, WINDOW_MS, (counts) => waitOf(k, counts));
    return { wait, refund: () => o.store.refund(k.all, at, before) };
  };
  return {
    /** Milliseconds this attempt must still wait (0: go ahead). */
    async retryAfterMs(email: string, address: string): Promise<number> {
      const k = keys(email, address);
      return waitOf(k, await o.store.read(k.all));
    },
    /**
     * For throttles where every request counts (reset emails): the wait (ms) if this request must still wait, else 0
     * and the request is counted, in one step (requests sent in parallel cannot all pass).
     */
    async hit(email: string, address: string): Promise<number> {
      return (await charge(email, address)).wait;
    },
    /**
     * `hit`, with a way to give the count back (countedAttempt): for an attempt counted before it ran that turned out
     * not to be a failure. The counts return to what they were, the time of the last failure included.
     */
    charge,
    async failed(email: string, address: string) {
      await o.store.fail(keys(email, address).all, o.clock.now(), WINDOW_MS);
    },
    async succeeded(email: string, address: string) {
      const k = keys(email, address);
      await o.store.clear(rules.account ? [k.pair, k.account] : [k.pair]);
    },
    /**
     * Starts an attempt; false while another attempt of the same account from the same address is still being
     * checked, on any instance. Without it, guesses sent in parallel all passed `retryAfterMs` before any of their
     * failures was counted (found by review). Per pair, so that nobody elsewhere can hold the real user's attempts up.
     */
    async begin(email: string, address: string): Promise<string | null> {
      return o.store.claim(keys(email, address).pair, o.clock.now(), CLAIM_MS);
    },
    /** Ends the attempt `begin` started (its token: an attempt that outlived its lease cannot end a newer one's). */
    async end(email: string, address: string, claim: string) {
      await o.store.release(keys(email, address).pair, claim);
    },
  };
}

/** Every throttle of the app, on one store: the database (throttle-store.ts) in the running app. */
export function createSignInThrottles(o: { store: ThrottleStore; clock: Clock }) {
  return {
    /** Failed passwords and codes: every sign-in screen (the app's and the SMART authorize page's) and factor changes. */
    signIn: createLoginThrottle({ ...o, scope: 'sign-in' }),
    /**
     * Reset emails: 3 per address and email, 20 per address, 10 per email from anywhere, then a wait from 1 min
     * doubling (capped): nobody's mailbox can be flooded, and the answer is the same for any email.
     */
    resetRequest: createLoginThrottle({
      ...o,
      scope: 'reset-request',
      rules: {
        pair: { free: 3, baseMs: 60_000, capMs: 60 * 60_000 },
        address: { free: 20, baseMs: 60_000, capMs: 60 * 60_000 },
        account: { free: 10, baseMs: 60_000, capMs: 15 * 60_000 },
      },
    }),
    /** Wrong or expired reset links, per address. */
    resetConfirm: createLoginThrottle({ ...o, scope: 'reset-confirm' }),
    /**
     * Invalid invitation links, per address: a link cannot be guessed (256 bits), but a flood is slowed. Not per
     * "account": every address shares the one key 'invite', and its count would hold up every family member, and its
     * row would be locked by every request (found by review).
     */
    invite: createLoginThrottle({ ...o, scope: 'invite', rules: { ...RULES, account: null } }),
  };
}
export type SignInThrottles = ReturnType<typeof createSignInThrottles>;

/** The 429 for a request that must still wait `wait` ms (its retry-after in whole seconds, through `onRefused`). */
function refuseFor(o: { tooMany: string; onRefused?: (retryAfterS: number) => void }, wait: number): never {
  o.onRefused?.(Math.ceil(wait / 1000));
  throw new AppError('TOO_MANY', `${o.tooMany}; try again in ${Math.ceil(wait / 1000)} s`);
}

/**
 * One throttled attempt: refused with 429 (and `retryAfter` seconds) while the backoff runs or another attempt of
 * the same account from the same address is being checked; a failure (as `isFailure` judges the error) counts,
 * a success clears the counts when `clearOnSuccess`.
 */
export async function throttledAttempt<T>(
  throttle: LoginThrottle,
  key: string,
  address: string,
  o: { tooMany: string; isFailure: (err: unknown) => boolean; clearOnSuccess?: boolean; onRefused?: (retryAfterS: number) => void },
  fn: () => Promise<T>,
): Promise<T> {
  const refuse = (wait: number) => refuseFor(o, wait);
  // Refused while waiting without writing anything (a flood against a throttled account costs reads only).
  const before = await throttle.retryAfterMs(key, address);
  if (before > 0) refuse(before);
  // Then claimed, and the counts read again: a guess that read them before a parallel one's failure was written
  // cannot slip in after it.
  const claim = await throttle.begin(key, address);
  if (!claim) {
    o.onRefused?.(1);
    throw new AppError('TOO_MANY', 'another attempt is still being checked; try again in a moment');
  }
  let wait: number;
  try {
    wait = await throttle.retryAfterMs(key, address);
  } catch (err) {
    await throttle.end(key, address, claim);
    throw err;
  }
  if (wait > 0) {
    await throttle.end(key, address, claim);
    refuse(wait);
  }
  try {
    const result = await fn();
    if (o.clearOnSuccess !== false) await throttle.succeeded(key, address);
    return result;
  } catch (err) {
    if (o.isFailure(err)) await throttle.failed(key, address);
    throw err;
  } finally {
    await throttle.end(key, address, claim);
  }
}

/**
 * One attempt counted BEFORE it runs, given back when it was not a failure: for throttles where attempts may run side
 * by side from one address (reset links, invitation links: no per-pair claim, which would refuse a second tab). A
 * check, then a count after the attempt, let every request sent in parallel pass the check before any failure was
 * counted (found by review); counted first, the (free + 1)th parallel request already waits.
 */
export async function countedAttempt<T>(
  throttle: LoginThrottle,
  key: string,
  address: string,
  o: { tooMany: string; isFailure: (err: unknown) => boolean; onRefused?: (retryAfterS: number) => void },
  fn: () => Promise<T>,
): Promise<T> {
  const refuse = (wait: number) => refuseFor(o, wait);
  // Refused while waiting without writing anything (found by review: a refused flood took row locks and connections).
  const waiting = await throttle.retryAfterMs(key, address);
  if (waiting > 0) refuse(waiting);
  const { wait, refund } = await throttle.charge(key, address);
  if (wait > 0) refuse(wait);
  // Giving the count back is best effort: a database error there must not turn a done reset or acceptance into an
  // error for the user (found by review); the count left is one failure more, gone with the window.
  const giveBack = () => refund().catch(() => undefined);
  try {
    const result = await fn();
    await giveBack();
    return result;
  } catch (err) {
    if (!o.isFailure(err)) await giveBack();
    throw err;
  }
}
