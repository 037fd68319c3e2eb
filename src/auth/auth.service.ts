import { createHash, randomBytes } from 'node:crypto';
import type { UsersRepository, UserRecord } from '../store/users.repository.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { Principal, Role } from '../domain/types.ts';
import { AppError, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import { generatePassword, hashPassword, verifyPassword } from './passwords.ts';

const SESSION_TTL_MS = 12 * 3600_000; // one clinical shift
const TOKEN_PREFIX = 'vgl_';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MIN_PASSWORD_CHARS = 10; // NIST SP 800-63B §5.1.1.2 asks for at least 8

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const toPrincipal = ({ passwordHash: _omit, ...p }: UserRecord): Principal => p;

/** Accounts, password login, sessions and API tokens. Every change is audited. */
export function createAuthService(deps: { users: UsersRepository; patients: PatientsRepository; audit: AuditService; clock: Clock }) {
  return {
    async createUser(input: { email: string; role: Role; displayName?: string; password?: string; patientId?: string | null; practitionerName?: string }, actor: Principal | 'cli' | 'system') {
      const email = input.email.trim().toLowerCase();
      if (!EMAIL.test(email)) throw new AppError('VALIDATION', `email "${input.email}" is not an email address`);
      if (!['admin', 'clinician', 'patient'].includes(input.role)) throw new AppError('VALIDATION', `role must be admin, clinician or patient (got "${input.role}")`);
      if (await deps.users.byEmail(email)) throw new AppError('CONFLICT', `a user with email ${email} already exists`);
      if (input.role === 'patient') {
        if (!input.patientId) throw new AppError('VALIDATION', 'a patient account needs --patient ID');
        if (!(await deps.patients.byId(input.patientId))) throw notFound(`patient ${input.patientId}`);
      }
      const generated = input.password === undefined;
      const password = input.password ?? generatePassword();
      if (password.length < MIN_PASSWORD_CHARS) throw new AppError('VALIDATION', `password must have at least ${MIN_PASSWORD_CHARS} characters`);
      const displayName = input.displayName ?? email.split('@')[0];
      let practitionerId: string | null = null;
      if (input.role === 'clinician') {
        practitionerId = newId('pra');
        await deps.patients.insertPractitioner({ id: practitionerId, name: input.practitionerName ?? displayName, qualification: null });
      }
      const id = newId('usr');
      await deps.users.insert({ id, email, displayName, role: input.role, passwordHash: await hashPassword(password), practitionerId, patientId: input.role === 'patient' ? input.patientId : null });
      await deps.audit.record({ actor, action: 'user.create', entityType: 'User', entityId: id, details: { email, role: input.role } });
      return { id, email, role: input.role, practitionerId, password: generated ? password : undefined };
    },

    /** Checks email and password; returns a session token (for the cookie) or throws 401. */
    async login(email: string, password: string): Promise<{ token: string; user: Principal; expiresAt: number }> {
      const user = await deps.users.byEmail(email ?? '');
      // Verify even when the user is unknown, so timing does not reveal which emails exist.
      const ok = await verifyPassword(password ?? '', user?.passwordHash ?? 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      if (!user || !ok) {
        await deps.audit.record({ actor: 'system', action: 'auth.login', outcome: 'failure', details: { email } });
        throw new AppError('UNAUTHENTICATED', 'wrong email or password');
      }
      const token = randomBytes(32).toString('base64url');
      const expiresAt = deps.clock.now() + SESSION_TTL_MS;
      await deps.users.insertSession(sha256(token), user.userId, expiresAt);
      await deps.audit.record({ actor: toPrincipal(user), action: 'auth.login', entityType: 'User', entityId: user.userId });
      return { token, user: toPrincipal(user), expiresAt };
    },

    async listUsers(): Promise<Principal[]> {
      return (await deps.users.list()).map(toPrincipal);
    },

    /** The built-in admin the local CLI acts as through a running server (it has no password: no login). */
    async ensureSystemAdmin(): Promise<Principal> {
      const email = 'cli@vigil.local';
      const existing = await deps.users.byEmail(email);
      if (existing) return toPrincipal(existing);
      const id = newId('usr');
      await deps.users.insert({ id, email, displayName: 'Vigil CLI', role: 'admin', passwordHash: null });
      await deps.audit.record({ actor: 'system', action: 'user.create', entityType: 'User', entityId: id, details: { email, role: 'admin' } });
      return toPrincipal((await deps.users.byEmail(email))!);
    },

    async logout(token: string) {
      await deps.users.deleteSession(sha256(token));
    },

    async principalFromSession(token: string): Promise<Principal | null> {
      const user = await deps.users.userBySession(sha256(token), deps.clock.now());
      return user ? toPrincipal(user) : null;
    },

    async principalFromToken(token: string): Promise<Principal | null> {
      if (!token.startsWith(TOKEN_PREFIX)) return null;
      const user = await deps.users.userByToken(sha256(token));
      return user ? toPrincipal(user) : null;
    },

    async createToken(email: string, name: string | null, actor: Principal | 'cli' | 'system'): Promise<{ id: string; token: string }> {
      const user = await deps.users.byEmail(email);
      if (!user) throw notFound(`user ${email}`);
      const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const id = newId('tok');
      await deps.users.insertToken({ id, userId: user.userId, tokenHash: sha256(token), name });
      await deps.audit.record({ actor, action: 'token.create', entityType: 'User', entityId: user.userId, details: { tokenId: id } });
      return { id, token };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
export { SESSION_TTL_MS };
