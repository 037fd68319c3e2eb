import type { Db, Queryable } from '../platform/db.ts';
import type { Principal, Role } from '../domain/types.ts';

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  role: Role;
  password_hash: string | null;
  practitioner_id: string | null;
  patient_id: string | null;
  disabled_at?: Date | string | null;
}

export interface UserRecord extends Principal {
  passwordHash: string | null;
  disabled: boolean;
}

export interface SessionRow {
  id: string;
  user_id: string;
  expires_at: Date | string;
  last_seen_at: Date | string;
  created_at: Date | string;
  stage: 'full' | 'mfa' | 'enrol';
  ip: string | null;
}

export interface TokenRow {
  id: string;
  user_id: string;
  name: string | null;
  scope: 'read' | 'write';
  patient_ids: string[] | null;
  created_at: Date | string;
  last_used_at: Date | string | null;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
}

const toUser = (r: UserRow): UserRecord => ({
  userId: r.id,
  email: r.email,
  displayName: r.display_name,
  role: r.role,
  passwordHash: r.password_hash,
  practitionerId: r.practitioner_id,
  patientId: r.patient_id,
  disabled: !!r.disabled_at,
});

export function createUsersRepository(db: Db) {
  return {
    async insert(
      u: { id: string; email: string; displayName: string; role: Role; passwordHash: string | null; practitionerId?: string | null; patientId?: string | null },
      q: Queryable = db,
    ) {
      await q.query('INSERT INTO users (id, email, display_name, role, password_hash, practitioner_id, patient_id) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        u.id,
        u.email.toLowerCase(),
        u.displayName,
        u.role,
        u.passwordHash,
        u.practitionerId ?? null,
        u.patientId ?? null,
      ]);
    },
    async byEmail(email: string): Promise<UserRecord | null> {
      const rows = await db.query<UserRow>('SELECT * FROM users WHERE email = $1', [email.toLowerCase()]);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async byId(id: string): Promise<UserRecord | null> {
      const rows = await db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async list(): Promise<UserRecord[]> {
      return (await db.query<UserRow>('SELECT * FROM users ORDER BY email')).map(toUser);
    },
    async count(): Promise<number> {
      const [{ n }] = await db.query<{ n: string }>('SELECT count(*) AS n FROM users');
      return Number(n);
    },

    async setPassword(userId: string, passwordHash: string, q: Queryable = db) {
      await q.query('UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1', [userId, passwordHash]);
    },
    async setDisabled(userId: string, disabled: boolean, q: Queryable = db) {
      await q.query('UPDATE users SET disabled_at = CASE WHEN $2 THEN now() ELSE NULL END WHERE id = $1', [userId, disabled]);
    },

    async insertSession(
      s: { id: string; tokenHash: string; userId: string; expiresAt: number; stage: SessionRow['stage']; ip: string | null },
      q: Queryable = db,
    ) {
      await q.query('INSERT INTO sessions (id, token_hash, user_id, expires_at, stage, ip) VALUES ($1, $2, $3, $4, $5, $6)', [
        s.id,
        s.tokenHash,
        s.userId,
        new Date(s.expiresAt).toISOString(),
        s.stage,
        s.ip,
      ]);
    },
    /** Records a fresh passkey confirmation on a (full) session of this user. */
    async markStepUp(sessionId: string, userId: string, at: number): Promise<boolean> {
      const rows = await db.query("UPDATE sessions SET step_up_at = $3 WHERE id = $1 AND user_id = $2 AND stage = 'full' RETURNING id", [
        sessionId,
        userId,
        new Date(at).toISOString(),
      ]);
      return rows.length > 0;
    },
    /** Spends a session's passkey confirmation if it is newer than `since` (once: compare-and-clear). */
    async takeStepUp(sessionId: string, since: number): Promise<boolean> {
      const rows = await db.query('UPDATE sessions SET step_up_at = NULL WHERE id = $1 AND step_up_at > $2 RETURNING id', [
        sessionId,
        new Date(since).toISOString(),
      ]);
      return rows.length > 0;
    },
    async sessionByHash(tokenHash: string): Promise<{ session: SessionRow; user: UserRecord } | null> {
      const rows = await db.query<
        UserRow & { s_id: string; s_expires_at: Date; s_last_seen_at: Date; s_created_at: Date; s_stage: SessionRow['stage']; s_ip: string | null }
      >(
        `SELECT u.*, s.id AS s_id, s.expires_at AS s_expires_at, s.last_seen_at AS s_last_seen_at, s.created_at AS s_created_at, s.stage AS s_stage, s.ip AS s_ip
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`,
        [tokenHash],
      );
      const r = rows[0];
      if (!r) return null;
      return {
        user: toUser(r),
        session: {
          id: r.s_id,
          user_id: r.id,
          expires_at: r.s_expires_at,
          last_seen_at: r.s_last_seen_at,
          created_at: r.s_created_at,
          stage: r.s_stage,
          ip: r.s_ip,
        },
      };
    },
    async touchSession(tokenHash: string, now: number) {
      await db.query('UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1', [tokenHash, new Date(now).toISOString()]);
    },
    async setSessionStage(tokenHash: string, stage: SessionRow['stage']) {
      await db.query('UPDATE sessions SET stage = $2 WHERE token_hash = $1', [tokenHash, stage]);
    },
    async deleteSession(tokenHash: string, q: Queryable = db): Promise<string | null> {
      const rows = await q.query<{ id: string }>('DELETE FROM sessions WHERE token_hash = $1 RETURNING id', [tokenHash]);
      return rows[0]?.id ?? null;
    },
    /** Deletes a user's sessions (all, or all but one); returns their ids. */
    async deleteSessionsOfUser(userId: string, exceptHash?: string, q: Queryable = db): Promise<string[]> {
      const rows = await q.query<{ id: string }>('DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 RETURNING id', [userId, exceptHash ?? '']);
      return rows.map((r) => r.id);
    },
    async sessionsOfUser(userId: string): Promise<SessionRow[]> {
      return db.query<SessionRow>(
        'SELECT id, user_id, expires_at, last_seen_at, created_at, stage, ip FROM sessions WHERE user_id = $1 ORDER BY created_at DESC',
        [userId],
      );
    },
    async deleteExpiredSessions(now: number, idleMs: number) {
      await db.query('DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2', [new Date(now).toISOString(), new Date(now - idleMs).toISOString()]);
    },

    async insertToken(
      t: {
        id: string;
        userId: string;
        tokenHash: string;
        name: string | null;
        scope?: 'read' | 'write';
        patientIds?: string[] | null;
        expiresAt?: number | null;
      },
      q: Queryable = db,
    ) {
      await q.query('INSERT INTO api_tokens (id, user_id, token_hash, name, scope, patient_ids, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        t.id,
        t.userId,
        t.tokenHash,
        t.name,
        t.scope ?? 'write',
        t.patientIds ? JSON.stringify(t.patientIds) : null,
        t.expiresAt ? new Date(t.expiresAt).toISOString() : null,
      ]);
    },
    async tokenByHash(tokenHash: string): Promise<{ token: TokenRow; user: UserRecord } | null> {
      const rows = await db.query<
        UserRow & {
          t_id: string;
          t_name: string | null;
          t_scope: 'read' | 'write';
          t_patient_ids: string[] | null;
          t_created_at: Date;
          t_last_used_at: Date | null;
          t_expires_at: Date | null;
          t_revoked_at: Date | null;
        }
      >(
        `SELECT u.*, t.id AS t_id, t.name AS t_name, t.scope AS t_scope, t.patient_ids AS t_patient_ids, t.created_at AS t_created_at, t.last_used_at AS t_last_used_at,
                t.expires_at AS t_expires_at, t.revoked_at AS t_revoked_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1`,
        [tokenHash],
      );
      const r = rows[0];
      if (!r) return null;
      return {
        user: toUser(r),
        token: {
          id: r.t_id,
          user_id: r.id,
          name: r.t_name,
          scope: r.t_scope,
          patient_ids: r.t_patient_ids,
          created_at: r.t_created_at,
          last_used_at: r.t_last_used_at,
          expires_at: r.t_expires_at,
          revoked_at: r.t_revoked_at,
        },
      };
    },
    async touchToken(id: string, now: number) {
      await db.query('UPDATE api_tokens SET last_used_at = $2 WHERE id = $1', [id, new Date(now).toISOString()]);
    },
    async tokenById(id: string): Promise<TokenRow | null> {
      const rows = await db.query<TokenRow>(
        'SELECT id, user_id, name, scope, patient_ids, created_at, last_used_at, expires_at, revoked_at FROM api_tokens WHERE id = $1',
        [id],
      );
      return rows[0] ?? null;
    },
    /** Tokens of one user, or of everyone (null), newest first. */
    async listTokens(userId: string | null): Promise<Array<TokenRow & { email: string }>> {
      return db.query(
        `SELECT t.id, t.user_id, u.email, t.name, t.scope, t.patient_ids, t.created_at, t.last_used_at, t.expires_at, t.revoked_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE ($1::text IS NULL OR t.user_id = $1) ORDER BY t.created_at DESC`,
        [userId],
      );
    },
    async revokeToken(id: string, q: Queryable = db): Promise<boolean> {
      const rows = await q.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id', [id]);
      return rows.length > 0;
    },
    /** Revokes every live token of a user (password reset); returns their ids. */
    async revokeTokensOfUser(userId: string, q: Queryable = db): Promise<string[]> {
      const rows = await q.query<{ id: string }>('UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id', [userId]);
      return rows.map((r) => r.id);
    },
    /** Revokes every SMART app grant (codes, access and refresh tokens) acting for this user; returns how many. */
    /**
     * Ends the invitations a user issued that are still open: caregiver invitations not yet accepted, and video
     * visit guest links not yet expired (their holders are refused from now on). Returns how many of each.
     */
    async revokeInvitesOfUser(userId: string, q: Queryable = db): Promise<{ caregiverInvites: number; visitInvites: number }> {
      const caregivers = await q.query(
        'UPDATE caregiver_invites SET revoked_at = now() WHERE invited_by = $1 AND revoked_at IS NULL AND accepted_at IS NULL RETURNING id',
        [userId],
      );
      const guests = await q.query('UPDATE visit_invites SET expires_at = now() WHERE created_by = $1 AND expires_at > now() RETURNING token_hash', [userId]);
      return { caregiverInvites: caregivers.length, visitInvites: guests.length };
    },
    async revokeSmartGrantsOfUser(userId: string, q: Queryable = db): Promise<number> {
      const rows = await q.query<{ hash: string }>('UPDATE smart_grants SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING hash', [
        userId,
      ]);
      return rows.length;
    },
    /** Revokes a user's live tokens with this name (the CLI's own token at each start); returns their ids. */
    async revokeTokensNamed(userId: string, name: string, q: Queryable = db): Promise<string[]> {
      const rows = await q.query<{ id: string }>(
        'UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL RETURNING id',
        [userId, name],
      );
      return rows.map((r) => r.id);
    },
  };
}

export type UsersRepository = ReturnType<typeof createUsersRepository>;
