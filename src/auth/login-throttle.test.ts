import { describe, expect, it } from 'vitest';
import { createLoginThrottle } from './login-throttle.ts';

describe('login throttle (F7: backoff, not a lockout an attacker can trigger)', () => {
  it('slows one address guessing one account with a growing wait', () => {
    let t = 0;
    const th = createLoginThrottle(() => t);
    for (let i = 0; i < 5; i++) {
      expect(th.retryAfterMs('a@b.org', '10.0.0.1')).toBe(0);
      th.failed('a@b.org', '10.0.0.1');
    }
    expect(th.retryAfterMs('A@b.org', '10.0.0.1')).toBe(1000);
    t += 1000;
    th.failed('a@b.org', '10.0.0.1');
    expect(th.retryAfterMs('a@b.org', '10.0.0.1')).toBe(2000);
    for (let i = 0; i < 30; i++) th.failed('a@b.org', '10.0.0.1');
    expect(th.retryAfterMs('a@b.org', '10.0.0.1')).toBe(15 * 60_000);
  });

  it('an attacker failing 1,000 times from many addresses keeps the real user waiting 30 s at most', () => {
    let t = 0;
    const th = createLoginThrottle(() => t);
    for (let i = 0; i < 1000; i++) th.failed('nurse@clinic.org', `203.0.113.${i % 250}`);
    expect(th.retryAfterMs('nurse@clinic.org', '192.168.1.20')).toBeLessThanOrEqual(30_000);
    t += 30_000;
    expect(th.retryAfterMs('nurse@clinic.org', '192.168.1.20')).toBe(0);
  });

  it('slows one address spraying many accounts', () => {
    const th = createLoginThrottle(() => 0);
    for (let i = 0; i < 30; i++) th.failed(`user${i}@b.org`, '10.0.0.9');
    expect(th.retryAfterMs('someone-new@b.org', '10.0.0.9')).toBeGreaterThan(0);
    expect(th.retryAfterMs('someone-new@b.org', '10.0.0.10')).toBe(0);
  });

  it("forgets an account's failures after a successful sign-in", () => {
    const th = createLoginThrottle(() => 0);
    for (let i = 0; i < 10; i++) th.failed('a@b.org', '10.0.0.1');
    th.succeeded('a@b.org', '10.0.0.1');
    expect(th.retryAfterMs('a@b.org', '10.0.0.1')).toBe(0);
  });
});
