import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * NIST SP 800-63B §5.1.1.2 memorized secrets: at least 12 characters (Vigil's choice above the minimum of 8),
 * at most 128, any characters (NFKC-normalised, counted as code points), no composition rules, and refused
 * when common or breached (zxcvbn-ts's bundled list of ~49,000 common passwords), repetitive or sequential,
 * or built from context words (the service name, the account's email).
 */
export const MIN_PASSWORD_CHARS = 12;
export const MAX_PASSWORD_CHARS = 128;

const COMMON = new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
const SEQUENCES = ['0123456789012345678901234567890', 'abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm', '1qaz2wsx3edc4rfv5tgb6yhn7ujm'];

/** Why this password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, context: { email?: string } = {}): string | null {
  if (typeof password !== 'string') return 'password must be a string';
  const p = password.normalize('NFKC');
  const length = [...p].length;
  if (length < MIN_PASSWORD_CHARS) return `password must have at least ${MIN_PASSWORD_CHARS} characters (a few words make a good one)`;
  if (length > MAX_PASSWORD_CHARS) return `password must have at most ${MAX_PASSWORD_CHARS} characters`;
  const lower = p.toLowerCase();
  const squeezed = lower.replace(/[\s\-_.]+/g, '');
  if (new Set(squeezed).size <= 2) return 'password is too repetitive';
  const core = squeezed.replace(/[\d!@#$%^&*?]+$/, '').replace(/^[\d!@#$%^&*?]+/, '');
  if (COMMON.has(lower) || COMMON.has(squeezed) || (core.length >= 4 && COMMON.has(core)))
    return 'password is on a list of common or breached passwords; choose another';
  for (const seq of SEQUENCES) {
    const rev = [...seq].reverse().join('');
    if (seq.includes(squeezed) || rev.includes(squeezed) || seq.repeat(3).includes(squeezed)) return 'password is a keyboard or alphabet sequence';
  }
  if (/^(.{1,6})\1+$/.test(squeezed)) return 'password is too repetitive';
  const local = context.email?.split('@')[0]?.toLowerCase();
  // A context word plus a few digits or symbols is as guessable as the word alone.
  const rest = (word: string) =>
    squeezed
      .split(word)
      .join('')
      .replace(/[^\p{L}]/gu, '').length;
  if (squeezed.includes('vigil') && rest('vigil') < 4) return 'password must not be built from the service name';
  const who = local?.replace(/[\s\-_.]+/g, '');
  if (who && who.length >= 4 && squeezed.includes(who) && rest(who) < 4) return 'password must not be built from your email address';
  return null;
}
