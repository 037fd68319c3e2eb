import { describe, expect, it } from 'vitest';
import { createLoginThrottle, throttledAttempt, type ThrottleRules } from './login-throttle.ts';
import { memoryThrottleStore } from './throttle-store.ts';

/** A throttle on the in-memory store (the database store keeps the same contract: throttle-store.test.ts). */
const throttleAt = (now: () => number, rules?: ThrottleRules) => createLoginThrottle({ store: memoryThrottleStore(), scope: 'test', clock: { now }, rules });

describe('login throttle (F7: backoff, not a lockout an attacker can trigger)', () => {
  it('slows one address guessing one account with a growing wait', async () => {
    let t = 0;
    const th = throttleAt(() => t);
    for (let i = 0; i < 5; i++) {
      expect(await th.retryAfterMs('a@b.org', '10.0.0.1')).toBe(0);
      await th.failed('a@b.org', '10.0.0.1');
    }
    expect(await th.retryAfterMs('A@b.org', '10.0.0.1')).toBe(1000);
    t += 1000;
    await th.failed('a@b.org', '10.0.0.1');
    expect(await th.retryAfterMs('a@b.org', '10.0.0.1')).toBe(2000);
    for (let i = 0; i < 30; i++) await th.failed('a@b.org', '10.0.0.1');
    expect(await th.retryAfterMs('a@b.org', '10.0.0.1')).toBe(15 * 60_000);
  });

  it('an attacker failing 1,000 times from many addresses keeps the real user waiting 30 s at most', async () => {
    let t = 0;
    const th = throttleAt(() => t);
    for (let i = 0; i < 1000; i++) await th.failed('nurse@clinic.org', `203.0.113.${i % 250}`);
    expect(await th.retryAfterMs('nurse@clinic.org', '192.168.1.20')).toBeLessThanOrEqual(30_000);
    t += 30_000;
    expect(await th.retryAfterMs('nurse@clinic.org', '192.168.1.20')).toBe(0);
  });

  it('slows one address spraying many accounts', async () => {
    const th = throttleAt(() => 0);
    for (let i = 0; i < 30; i++) await th.failed(`user${i}@b.org`, '10.0.0.9');
    expect(await th.retryAfterMs('someone-new@b.org', '10.0.0.9')).toBeGreaterThan(0);
    expect(await th.retryAfterMs('someone-new@b.org', '10.0.0.10')).toBe(0);
  });

  it("forgets an account's failures after a successful sign-in", async () => {
    const th = throttleAt(() => 0);
    for (let i = 0; i < 10; i++) await th.failed('a@b.org', '10.0.0.1');
    await th.succeeded('a@b.org', '10.0.0.1');
    expect(await th.retryAfterMs('a@b.org', '10.0.0.1')).toBe(0);
  });

  it('lets one attempt per account and address run at a time: parallel guesses are refused, not all checked (found by review)', async () => {
    const th = throttleAt(() => 0);
    let checked = 0;
    const wrong = () =>
      throttledAttempt(th, 'a@b.org', '10.0.0.1', { tooMany: 'too many', isFailure: () => true }, async () => {
        checked++;
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('wrong password');
      });
    const results = await Promise.allSettled(Array.from({ length: 20 }, wrong));
    expect(checked).toBe(1);
    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok'));
    expect(reasons.filter((m) => m === 'wrong password')).toHaveLength(1);
    expect(reasons.filter((m) => /another attempt is still being checked/.test(m))).toHaveLength(19);
    // Another address is not held up by them, and the pair is free again once its attempt is answered.
    await expect(throttledAttempt(th, 'a@b.org', '10.0.0.2', { tooMany: 'x', isFailure: () => true }, async () => 'in')).resolves.toBe('in');
    await expect(throttledAttempt(th, 'a@b.org', '10.0.0.1', { tooMany: 'x', isFailure: () => true }, async () => 'in')).resolves.toBe('in');
  });
});
