import { describe, expect, it } from 'vitest';
import { passwordProblem } from './password-policy.ts';

// F13–F18 (passwords like 1234567890 accepted, no maximum length); NIST SP 800-63B §5.1.1.2.
describe('password policy', () => {
  it.each([
    ['1234567890', /at least 12/],
    ['123456789012', /sequence|common/],
    ['password1234', /common/],
    ['qwertyuiopasdf', /sequence/],
    ['aaaaaaaaaaaaaaaa', /repetitive/],
    ['abcabcabcabcabc', /repetitive/],
    ['x'.repeat(129), /at most 128/],
    ['Vigil2026!!!!', /service name/],
  ])('refuses %s', (pw, why) => {
    expect(passwordProblem(pw)).toMatch(why);
  });
  it('refuses a password built from the email address', () => {
    expect(passwordProblem('jordan.reyes2026', { email: 'jordan.reyes@clinic.org' })).toMatch(/email/);
  });
  it.each(['correct horse battery', 'tulip-anchor-mosaic-41', 'Ünïcödé pässwörd ok', 'x'.repeat(10) + 'yz€∑®'])('accepts %s', (pw) => {
    expect(passwordProblem(pw, { email: 'someone@clinic.org' })).toBeNull();
  });
  it('counts characters, not bytes: 12 emoji are 12 characters', () => {
    expect(passwordProblem('🫀🩺💊🩹🧬🦠🫁🧠🦷👁️🩸🌡️')).toBeNull();
  });
});
