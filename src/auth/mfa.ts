import { createHash, randomBytes } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import type { Db, Queryable } from '../platform/db.ts';
import type { PatientCipherAdmin } from '../platform/encryption/index.ts';
import { newId } from '../platform/ids.ts';

/**
 * Second factors (ONC §170.315(d)(13), NIST SP 800-63B §5.1.4.1): TOTP (RFC 6238, otplib) with replay
 * protection (a code's time step is accepted once), and ten single-use recovery codes stored as hashes.
 * TOTP secrets are sealed with the key owner "user:<id>" (encryption module), never stored in clear.
 */
const RECOVERY_CODES = 10;
const hashCode = (userId: string, code: string) =>
  createHash('sha256')
    .update(`vigil-recovery\0${userId}\0${code.replace(/[\s-]/g, '').toLowerCase()}`)
    .digest('hex');

async function writeRecoveryCodes(tx: Queryable, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODES }, () => {
    const hex = randomBytes(5).toString('hex');
    return `${hex.slice(0, 5)}-${hex.slice(5)}`;
  });
  await tx.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
  for (const c of codes) await tx.query('INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)', [userId, hashCode(userId, c)]);
  return codes;
}

export function createMfa(db: Db, cipher: PatientCipherAdmin, now: () => number) {
  const owner = (userId: string) => `user:${userId}`;
  return {
    async enrolled(userId: string): Promise<boolean> {
      return (await db.query("SELECT 1 FROM mfa_factors WHERE user_id = $1 AND confirmed AND kind = 'totp'", [userId])).length > 0;
    },

    /** Starts TOTP enrolment: a fresh secret (replacing an unconfirmed one) and its otpauth:// URI for a QR code. */
    async beginTotp(userId: string, email: string): Promise<{ factorId: string; secret: string; uri: string }> {
      const secret = generateSecret();
      const factorId = newId('mfa');
      await db.query("DELETE FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND NOT confirmed", [userId]);
      await db.query("INSERT INTO mfa_factors (id, user_id, kind, secret) VALUES ($1, $2, 'totp', $3)", [
        factorId,
        userId,
        await cipher.sealText(owner(userId), secret, 'mfa.totp'),
      ]);
      return { factorId, secret, uri: generateURI({ issuer: 'Vigil', label: email, secret }) };
    },

    /** Whether `code` matches the authenticator being set up, changing nothing (checked before a current code is spent). */
    async pendingMatches(userId: string, code: string): Promise<boolean> {
      const [f] = await db.query<{ secret: string }>(
        "SELECT secret FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND NOT confirmed ORDER BY created_at DESC LIMIT 1",
        [userId],
      );
      return !!f && (await checkTotp(await cipher.openText(owner(userId), f.secret, 'mfa.totp'), code, null)) !== null;
    },

    /** Confirms enrolment with a first code; returns the recovery codes (shown once). Other TOTP factors are replaced. */
    /** `alsoInTx`: runs in the same transaction as the confirmation and the new codes (the audit entry, [audit]). */
    async confirmTotp(userId: string, code: string, alsoInTx?: (tx: Queryable) => Promise<void>): Promise<string[] | null> {
      const [f] = await db.query<{ id: string; secret: string }>(
        "SELECT id, secret FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND NOT confirmed ORDER BY created_at DESC LIMIT 1",
        [userId],
      );
      if (!f) return null;
      const step = await checkTotp(await cipher.openText(owner(userId), f.secret, 'mfa.totp'), code, null);
      if (step === null) return null;
      return db.transaction(async (tx) => {
        await tx.query("DELETE FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND id <> $2", [userId, f.id]);
        await tx.query('UPDATE mfa_factors SET confirmed = true, last_step = $2 WHERE id = $1', [f.id, step]);
        const codes = await writeRecoveryCodes(tx, userId);
        await alsoInTx?.(tx);
        return codes;
      });
    },

    async newRecoveryCodes(userId: string): Promise<string[]> {
      return db.transaction((tx) => writeRecoveryCodes(tx, userId));
    },

    /** Checks a TOTP code (once per time step) or a recovery code (once). Returns which kind matched. */
    async check(userId: string, code: string): Promise<'totp' | 'recovery' | null> {
      const clean = String(code ?? '').replace(/\s/g, '');
      if (/^\d{6}$/.test(clean)) {
        const [f] = await db.query<{ id: string; secret: string; last_step: string | null }>(
          "SELECT id, secret, last_step FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND confirmed",
          [userId],
        );
        if (!f) return null;
        const step = await checkTotp(await cipher.openText(owner(userId), f.secret, 'mfa.totp'), clean, f.last_step === null ? null : Number(f.last_step));
        if (step === null) return null;
        // Compare-and-set on last_step: two requests racing with the same code cannot both pass.
        const updated = await db.query('UPDATE mfa_factors SET last_step = $2 WHERE id = $1 AND (last_step IS NULL OR last_step < $2) RETURNING id', [
          f.id,
          step,
        ]);
        return updated.length ? 'totp' : null;
      }
      if (/^[0-9a-f]{5}-?[0-9a-f]{5}$/i.test(clean)) {
        const rows = await db.query(
          'UPDATE mfa_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING user_id',
          [userId, hashCode(userId, clean)],
        );
        return rows.length ? 'recovery' : null;
      }
      return null;
    },

    async remove(userId: string, q: Queryable = db) {
      await q.query('DELETE FROM mfa_factors WHERE user_id = $1', [userId]);
      await q.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
    },

    async status(userId: string) {
      const [f] = await db.query<{ created_at: Date }>("SELECT created_at FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND confirmed", [userId]);
      const [r] = await db.query<{ n: string }>('SELECT count(*) AS n FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL', [userId]);
      return { totp: !!f, enrolledAt: f ? new Date(f.created_at).toISOString() : null, recoveryCodesLeft: Number(r?.n ?? 0) };
    },
  };

  /** The matched time step, or null. ±1 step of clock drift (RFC 6238 §5.2); steps ≤ `after` are replays. */
  async function checkTotp(secret: string, code: string, after: number | null): Promise<number | null> {
    if (!/^\d{6}$/.test(code)) return null;
    const r = await verify({
      secret,
      token: code,
      epoch: Math.floor(now() / 1000),
      epochTolerance: 30,
      ...(after !== null ? { afterTimeStep: after } : {}),
    }).catch(() => null);
    return r && r.valid ? (r as { timeStep: number }).timeStep : null;
  }
}

export type Mfa = ReturnType<typeof createMfa>;
