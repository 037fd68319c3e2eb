import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { UsersRepository } from '../store/users.repository.ts';
import { AppError } from '../platform/errors.ts';
import type { AuthService } from './auth.service.ts';
import type { SendMail } from './mailer.ts';
import { passwordProblem } from './password-policy.ts';

/**
 * Password reset by an emailed one-time link (NIST SP 800-63B §6.1.2.3; OWASP Forgot Password Cheat Sheet):
 * - the same answer whether or not the email has an account, and the work (look-up, link, email) is done
 *   after the answer, so neither the words nor the timing say which addresses exist;
 * - a link is 256 random bits, kept only as its SHA-256, valid for 30 minutes, used once; a new request
 *   replaces the older links of the account;
 * - a reset ends every session and revokes every API token of the account (the live stream closes too);
 *   the second factor is still asked at the next sign-in;
 * - requests are throttled per address and per email by the route (login-throttle.ts).
 */
export const RESET_LINK_MS = 30 * 60_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const invalidLink = () => new AppError('VALIDATION', 'this reset link has expired or was already used; ask for a new one');

export function createPasswordReset(deps: {
  db: Db;
  users: UsersRepository;
  auth: AuthService;
  audit: AuditService;
  clock: Clock;
  logger: Logger;
  send: SendMail | null;
  baseUrl: () => string;
}) {
  const log = deps.logger.child({ module: 'password-reset' });

  async function request(email: string, meta: { ip?: string }) {
    const address = String(email).trim().toLowerCase().slice(0, 254);
    const user = await deps.users.byEmail(address);
    if (!user || user.disabled || !user.passwordHash) {
      await deps.audit.record({
        actor: 'system',
        action: 'auth.password.reset.request',
        outcome: 'failure',
        entityType: 'User',
        entityId: user?.userId ?? null,
        details: { email: address, reason: user ? 'disabled or no password' : 'no such account', ip: meta.ip },
      });
      return;
    }
    if (!deps.send) {
      log.warn('a password reset was asked for, but no SMTP relay is configured (VIGIL_SMTP_URL): no link can be sent');
      await deps.audit.record({
        actor: 'system',
        action: 'auth.password.reset.request',
        outcome: 'failure',
        entityType: 'User',
        entityId: user.userId,
        details: { reason: 'no SMTP relay', ip: meta.ip },
      });
      return;
    }
    const token = randomBytes(32).toString('base64url');
    const now = deps.clock.now();
    await deps.db.transaction(async (tx) => {
      await tx.query('DELETE FROM password_resets WHERE user_id = $1 OR expires_at < $2', [user.userId, new Date(now).toISOString()]);
      await tx.query('INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)', [
        sha256(token),
        user.userId,
        new Date(now + RESET_LINK_MS).toISOString(),
      ]);
    });
    const link = `${deps.baseUrl()}/#/reset-password/${token}`;
    await deps.send(
      user.email,
      'Reset your Vigil password',
      [
        `Someone (we hope you) asked to reset the password of your Vigil account ${user.email}.`,
        '',
        `To choose a new password, open this link within 30 minutes. It works once:`,
        link,
        '',
        'If you did not ask for this, ignore this email: your password stays as it is.',
        meta.ip ? `(Asked from the address ${meta.ip}.)` : '',
      ].join('\n'),
    );
    await deps.audit.record({ actor: 'system', action: 'auth.password.reset.request', entityType: 'User', entityId: user.userId, details: { ip: meta.ip } });
  }

  return {
    /** Starts a reset: answers at once, then (in the background) emails a link if the account exists. */
    requestSoon(email: string, meta: { ip?: string }) {
      setImmediate(() => void request(email, meta).catch((err: Error) => log.warn({ err: err.message }, 'password reset request failed')));
    },
    /** For tests and the CLI: the same work, awaited. */
    request,
    /** Sets a new password with a link's token; every session and token of the account ends. */
    async confirm(token: string, password: string, meta: { ip?: string }) {
      const hash = sha256(String(token));
      const [row] = await deps.db.query<{ user_id: string; expires_at: Date | string; used_at: Date | string | null }>(
        'SELECT user_id, expires_at, used_at FROM password_resets WHERE token_hash = $1',
        [hash],
      );
      if (!row || row.used_at || new Date(row.expires_at).getTime() <= deps.clock.now()) {
        await deps.audit.record({
          actor: 'system',
          action: 'auth.password.reset',
          outcome: 'failure',
          entityType: 'User',
          entityId: row?.user_id ?? null,
          details: { reason: row ? (row.used_at ? 'used' : 'expired') : 'unknown link', ip: meta.ip },
        });
        throw invalidLink();
      }
      const user = await deps.users.byId(row.user_id);
      if (!user || user.disabled) throw invalidLink();
      // The policy is checked before the link is spent: a refused password leaves the link usable.
      const problem = passwordProblem(password, { email: user.email });
      if (problem) throw new AppError('VALIDATION', problem);
      const spent = await deps.db.query('UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING user_id', [
        hash,
        new Date(deps.clock.now()).toISOString(),
      ]);
      if (!spent.length) throw invalidLink();
      await deps.auth.resetPassword(user.userId, password, { ip: meta.ip, via: 'emailed link' });
    },
  };
}

export type PasswordReset = ReturnType<typeof createPasswordReset>;
