import type { Db } from '../platform/db.ts';
import type { Principal, Role } from '../domain/types.ts';

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  role: Role;
  password_hash: string | null;
  practitioner_id: string | null;
  patient_id: string | null;
}

export interface UserRecord extends Principal {
  passwordHash: string | null;
}

const toUser = (r: UserRow): UserRecord => ({
  userId: r.id,
  email: r.email,
  displayName: r.display_name,
  role: r.role,
  passwordHash: r.password_hash,
  practitionerId: r.practitioner_id,
  patientId: r.patient_id,
});

export function createUsersRepository(db: Db) {
  return {
    async insert(u: { id: string; email: string; displayName: string; role: Role; passwordHash: string | null; practitionerId?: string | null; patientId?: string | null }) {
      await db.query(
        'INSERT INTO users (id, email, display_name, role, password_hash, practitioner_id, patient_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [u.id, u.email.toLowerCase(), u.displayName, u.role, u.passwordHash, u.practitionerId ?? null, u.patientId ?? null],
      );
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

    async insertSession(tokenHash: string, userId: string, expiresAt: number) {
      await db.query('INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)', [tokenHash, userId, new Date(expiresAt).toISOString()]);
    },
    async userBySession(tokenHash: string, now: number): Promise<UserRecord | null> {
      const rows = await db.query<UserRow>(
        'SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2',
        [tokenHash, new Date(now).toISOString()],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },
    async deleteSession(tokenHash: string) {
      await db.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
    },

    async insertToken(t: { id: string; userId: string; tokenHash: string; name: string | null }) {
      await db.query('INSERT INTO api_tokens (id, user_id, token_hash, name) VALUES ($1, $2, $3, $4)', [t.id, t.userId, t.tokenHash, t.name]);
    },
    async userByToken(tokenHash: string): Promise<UserRecord | null> {
      const rows = await db.query<UserRow>(
        'SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1',
        [tokenHash],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },
  };
}

export type UsersRepository = ReturnType<typeof createUsersRepository>;
