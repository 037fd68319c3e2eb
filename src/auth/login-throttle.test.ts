import { describe, expect, it } from 'vitest';
import { createLoginThrottle } from './login-throttle.ts';

describe('login throttle', () => {
  it('blocks an email after 10 failures within 15 minutes, and lets it go after the window', () => {
    let t = 0;
    const throttle = createLoginThrottle(() => t);
    for (let i = 0; i < 9; i++) throttle.failed('a@b.org', '10.0.0.1');
    expect(throttle.blocked('A@b.org', '10.0.0.2')).toBe(false);
    throttle.failed('a@b.org', '10.0.0.1');
    expect(throttle.blocked('a@b.org', '10.0.0.2')).toBe(true);
    t += 15 * 60_000;
    expect(throttle.blocked('a@b.org', '10.0.0.2')).toBe(false);
  });
  it('forgets failures after a successful login', () => {
    const throttle = createLoginThrottle(() => 0);
    for (let i = 0; i < 10; i++) throttle.failed('a@b.org', '10.0.0.1');
    throttle.succeeded('a@b.org');
    expect(throttle.blocked('a@b.org', '10.0.0.9')).toBe(false);
  });
});
