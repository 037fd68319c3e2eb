import { createHash, randomBytes } from 'node:crypto';
import type { UsersRepository, UserRecord, TokenRow } from '../store/users.repository.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { Queryable } from '../platform/db.ts';
import type { Credential, Principal, Role } from '../domain/types.ts';
import { AppError, forbidden, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import { generatePassword, hashPassword, verifyPassword } from './passwords.ts';
import { passwordProblem } from './password-policy.ts';
import type { Mfa } from './mfa.ts';
import type { EventBus } from '../platform/events.ts';
import type { Passkeys } from './passkeys.ts';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';

const TOKEN_PREFIX = 'vgl_';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MFA_STAGE_MS = 10 * 60_000; // a password-only session has 10 minutes to present its second factor
const STEP_UP_VALID_MS = 5 * 60_000; // a passkey confirmation stands in for a code for 5 minutes, once
const TOUCH_EVERY_MS = 30_000; // last-seen writes at most this often per session or token
const PATIENT_TOKEN_MAX_DAYS = 30;
const DAY = 86_400_000;
/** Roles an account can have (a guest is a visit pass, never an account). */
const ROLES: Role[] = ['admin', 'clinician', 'patient', 'caregiver'];

export interface AuthSettings {
  /** ONC §170.315(d)(5): idle time-out and absolute lifetime of a session. */
  idleMs: number;
  maxMs: number;
  /** ONC §170.315(d)(13): clinicians and admins must use a second factor. */
  requireMfa: boolean;
  tokenTtlDays: number;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = { idleMs: 30 * 60_000, maxMs: 12 * 3600_000, requireMfa: true, tokenTtlDays: 90 };

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const toPrincipal = ({ passwordHash: _omit, disabled: _d, ...p }: UserRecord, credential?: Credential): Principal => (credential ? { ...p, credential } : p);
const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

export type SessionEnded = { sessionIds: string[]; userId: string } | { tokenIds: string[]; userId: string } | { userId: string; all: true };

/**
 * Accounts, password login, sessions, second factors and API tokens (ONC §170.315(d)(1), (d)(5), (d)(12),
 * (d)(13)). Every change is audited. Session and token secrets are stored only as SHA-256 hashes.
 */
/** The built-in admin the local CLI acts as (no password, so no sign-in). */
const SYSTEM_ADMIN_EMAIL = 'cli@vigil.local';

export function createAuthService(deps: {
  users: UsersRepository;
  patients: PatientsRepository;
  audit: AuditService;
  clock: Clock;
  mfa: Mfa;
  passkeys: Passkeys;
  settings?: Partial<AuthSettings>;
  events?: EventBus;
}) {
  const settings = { ...DEFAULT_AUTH_SETTINGS, ...deps.settings };
  const listeners = new Set<(e: SessionEnded) => void>();
  // Through the event bus when there is one: the relay carries it to the other instances, whose live
  // streams and principal caches then end the same sessions at once.
  deps.events?.on('auth.ended', (e) => listeners.forEach((l) => l(e as SessionEnded)));
  const ended = (e: SessionEnded) => (deps.events ? deps.events.emit('auth.ended', e) : listeners.forEach((l) => l(e)));
  const lastTouch = new Map<string, number>();
  const touchDue = (key: string) => {
    const now = deps.clock.now();
    if (now - (lastTouch.get(key) ?? 0) < TOUCH_EVERY_MS) return false;
    if (lastTouch.size > 50_000) lastTouch.clear();
    lastTouch.set(key, now);
    return true;
  };
  const mfaRequiredFor = (role: Role) => settings.requireMfa && (role === 'admin' || role === 'clinician');
  /** Which second factors a user has: an authenticator app (TOTP) and/or passkeys. */
  const factorsOf = async (userId: string) => ({ totp: await deps.mfa.enrolled(userId), passkeys: await deps.passkeys.count(userId) });
  /**
   * A session of an account that already has a second factor: changing its factors needs one of them again. An
   * 'enrol' session too: one opened before the owner enrolled elsewhere must not replace that factor (found by
   * review: it could, within its 10 minutes, and came out a full session).
   */
  const needsCurrentFactor = async (p: Principal) => p.credential?.kind === 'session' && p.credential.stage !== 'mfa' && (await hasSecondFactor(p.userId));
  /**
   * The current factor, asked again before second factors change (found by review: a borrowed session could add
   * its own passkey or authenticator and keep the account). A TOTP code or a recovery code; it is spent.
   */
  const proveCurrentFactor = async (p: Principal, current: string | undefined, action: string, kind: string) => {
    // A passkey confirmation of this very session in the last few minutes stands in for a code, once.
    if (!current && p.credential?.kind === 'session' && (await deps.users.takeStepUp(p.credential.id, deps.clock.now() - STEP_UP_VALID_MS))) return;
    if (!current) {
      const passkeys = (await deps.passkeys.count(p.userId)) > 0;
      throw new AppError(
        'VALIDATION',
        `current: ${passkeys ? 'confirm with one of your passkeys, or ' : ''}give a code from your authenticator app or a recovery code, to change your second factors`,
      );
    }
    if (await deps.mfa.check(p.userId, current)) return;
    await deps.audit.record({ actor: p, action, entityType: 'User', entityId: p.userId, outcome: 'failure', details: { kind } });
    throw new AppError('VALIDATION', 'current: that is not a code from your current authenticator app or an unused recovery code');
  };
  /**
   * The first second factor added from a full session needs the account's password (found by review: a session
   * left open on a shared PC could add its own passkey, a sign-in that then outlived a password change and
   * "sign out everywhere", and take the first recovery codes). An enrolment-stage session has just given it.
   */
  const proveOwnerForFirstFactor = async (p: Principal, password: string | undefined, action: string, kind: string) => {
    if (p.credential?.kind !== 'session' || p.credential.stage !== 'full') return;
    if (!password) throw new AppError('VALIDATION', 'password: give your password to add a second factor to your account');
    const user = await deps.users.byId(p.userId);
    if (user && (await verifyPassword(password.slice(0, 1024), user.passwordHash))) return;
    await deps.audit.record({ actor: p, action, entityType: 'User', entityId: p.userId, outcome: 'failure', details: { kind, reason: 'wrong password' } });
    throw new AppError('VALIDATION', 'password: that is not your password');
  };
  /** Adding a second factor: a current one when the account has one, else (from a full session) the password. */
  const proveFactorChange = async (p: Principal, proof: { current?: string; password?: string }, action: string, kind: string) =>
    (await needsCurrentFactor(p)) ? proveCurrentFactor(p, proof.current, action, kind) : proveOwnerForFirstFactor(p, proof.password, action, kind);
  const hasSecondFactor = async (userId: string) => {
    const f = await factorsOf(userId);
    return f.totp || f.passkeys > 0;
  };
  const noToken = (p: Principal) => {
    if (p.credential?.kind === 'token') throw forbidden('second factors are managed from a signed-in session, not with an API token');
  };

  async function newSession(user: UserRecord, stage: Credential['stage'], ip: string | null, q?: Queryable) {
    const token = randomBytes(32).toString('base64url');
    const now = deps.clock.now();
    const expiresAt = stage === 'full' ? now + settings.maxMs : now + MFA_STAGE_MS;
    const id = newId('ses');
    await deps.users.insertSession({ id, tokenHash: sha256(token), userId: user.userId, expiresAt, stage, ip }, q);
    return { token, sessionId: id, expiresAt, stage };
  }

  const service = {
    settings,
    /** Live connections (the WebSocket) close when their session or token ends. */
    onSessionEnded(listener: (e: SessionEnded) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async createUser(
      input: { email: string; role: Role; displayName?: string; password?: string; patientId?: string | null; practitionerName?: string },
      actor: Principal | 'cli' | 'system',
    ) {
      const email = String(input.email ?? '')
        .trim()
        .toLowerCase();
      if (!EMAIL.test(email) || email.length > 254) throw new AppError('VALIDATION', `email "${String(input.email).slice(0, 80)}" is not an email address`);
      if (!ROLES.includes(input.role))
        throw new AppError('VALIDATION', `role must be admin, clinician, patient or caregiver (got "${String(input.role).slice(0, 40)}")`);
      if (input.displayName !== undefined && (typeof input.displayName !== 'string' || input.displayName.length > 200))
        throw new AppError('VALIDATION', 'displayName must be text of at most 200 characters');
      if (await deps.users.byEmail(email)) throw new AppError('CONFLICT', `a user with email ${email} already exists`);
      if (input.role === 'patient') {
        if (!input.patientId) throw new AppError('VALIDATION', 'a patient account needs --patient ID');
        if (!(await deps.patients.byId(input.patientId))) throw notFound(`patient ${input.patientId}`);
      }
      const generated = input.password === undefined;
      const password = input.password ?? generatePassword();
      const problem = passwordProblem(password, { email });
      if (problem) throw new AppError('VALIDATION', problem);
      const displayName = input.displayName ?? email.split('@')[0];
      const practitionerId: string | null = input.role === 'clinician' ? newId('pra') : null;
      const id = newId('usr');
      const passwordHash = await hashPassword(password);
      // The account, its practitioner and the audit entry commit together ((d)(2)).
      await deps.audit.change(async (tx, log) => {
        if (practitionerId)
          await deps.patients.insertPractitioner({ id: practitionerId, name: input.practitionerName ?? displayName, qualification: null }, tx);
        await deps.users.insert(
          { id, email, displayName, role: input.role, passwordHash, practitionerId, patientId: input.role === 'patient' ? input.patientId : null },
          tx,
        );
        log({ actor, action: 'user.create', entityType: 'User', entityId: id, details: { email, role: input.role } });
      });
      return { id, email, role: input.role, practitionerId, password: generated ? password : undefined };
    },

    /**
     * Checks email and password; returns a session token (for the cookie) or throws 401. The session is
     * 'full', or 'mfa' (a second factor is enrolled: present it next), or 'enrol' (one is required: enrol it).
     */
    async login(
      email: string,
      password: string,
      meta: { ip?: string } = {},
    ): Promise<{ token: string; user: Principal; expiresAt: number; stage: Credential['stage'] }> {
      const user = await deps.users.byEmail(String(email ?? '').slice(0, 254));
      // Verify even when the user is unknown, so timing does not reveal which emails exist.
      const ok = await verifyPassword(
        String(password ?? '').slice(0, 1024),
        user?.passwordHash ?? 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      );
      if (!user || !ok) {
        await deps.audit.record({
          actor: user ? toPrincipal(user) : 'system',
          action: 'auth.login',
          outcome: 'failure',
          entityType: 'User',
          entityId: user?.userId ?? null,
          details: { email: String(email ?? '').slice(0, 254), ip: meta.ip },
        });
        throw new AppError('UNAUTHENTICATED', 'wrong email or password');
      }
      if (user.disabled) {
        await deps.audit.record({
          actor: toPrincipal(user),
          action: 'auth.login',
          outcome: 'failure',
          entityType: 'User',
          entityId: user.userId,
          details: { reason: 'disabled', ip: meta.ip },
        });
        throw new AppError('UNAUTHENTICATED', 'this account is disabled; ask your clinic administrator');
      }
      const stage: Credential['stage'] = (await hasSecondFactor(user.userId)) ? 'mfa' : mfaRequiredFor(user.role) ? 'enrol' : 'full';
      // [audit] the session and its sign-in entry commit together ((d)(2)).
      const s = await deps.audit.change(async (tx, log) => {
        const made = await newSession(user, stage, meta.ip ?? null, tx);
        log({
          actor: toPrincipal(user),
          action: 'auth.login',
          entityType: 'User',
          entityId: user.userId,
          details: { stage, session: made.sessionId, ip: meta.ip },
        });
        return made;
      });
      return { token: s.token, user: toPrincipal(user), expiresAt: s.expiresAt, stage };
    },

    /** Second step of a sign-in: a TOTP or recovery code turns an 'mfa' session into a new, full one. */
    async completeMfa(sessionToken: string, code: string, meta: { ip?: string } = {}) {
      const found = await deps.users.sessionByHash(sha256(sessionToken));
      if (!found || found.session.stage !== 'mfa' || new Date(found.session.expires_at).getTime() <= deps.clock.now())
        throw new AppError('UNAUTHENTICATED', 'sign in with your password first');
      const kind = await deps.mfa.check(found.user.userId, code);
      if (!kind) {
        await deps.audit.record({
          actor: toPrincipal(found.user),
          action: 'auth.mfa',
          outcome: 'failure',
          entityType: 'User',
          entityId: found.user.userId,
          details: { ip: meta.ip },
        });
        throw new AppError('UNAUTHENTICATED', 'that code is not valid (codes change every 30 seconds and work once)');
      }
      // A new session id at the privilege change (OWASP Session Management: no session fixation).
      const s = await deps.audit.change(async (tx, log) => {
        await deps.users.deleteSession(sha256(sessionToken), tx);
        const made = await newSession(found.user, 'full', meta.ip ?? null, tx);
        log({
          actor: toPrincipal(found.user),
          action: 'auth.mfa',
          entityType: 'User',
          entityId: found.user.userId,
          details: { kind, session: made.sessionId },
        });
        return made;
      });
      return { token: s.token, user: toPrincipal(found.user), expiresAt: s.expiresAt };
    },

    /** TOTP enrolment for the signed-in user (a full session, or an 'enrol' one). */
    async beginTotp(p: Principal) {
      if (p.credential?.kind === 'token') throw forbidden('second factors are managed from a signed-in session, not with an API token');
      return deps.mfa.beginTotp(p.userId, p.email);
    },
    /** Confirms TOTP enrolment; an 'enrol' session becomes a new full one. Returns the recovery codes once. */
    async confirmTotp(p: Principal, sessionToken: string | undefined, code: string, meta: { ip?: string; current?: string; password?: string } = {}) {
      if (p.credential?.kind === 'token') throw forbidden('second factors are managed from a signed-in session, not with an API token');
      // Replacing (or adding to) a second factor needs the one already there: a borrowed or stolen session must
      // not swap in its own authenticator and lock the owner out (found by review). The check spends the code.
      // The new code first, so that a typo spends no current code.
      if (!(await deps.mfa.pendingMatches(p.userId, String(code ?? '')))) throw new AppError('VALIDATION', NEW_CODE_WRONG);
      await proveFactorChange(p, meta, 'auth.mfa.enrol', 'totp');
      // [audit] the confirmed factor, its recovery codes and the entry commit together ((d)(2)).
      const codes = await deps.mfa.confirmTotp(p.userId, String(code ?? ''), (tx) =>
        deps.audit.recordIn(tx, { actor: p, action: 'auth.mfa.enrol', entityType: 'User', entityId: p.userId, details: { kind: 'totp' } }),
      );
      if (!codes) throw new AppError('VALIDATION', NEW_CODE_WRONG);
      let session: { token: string; expiresAt: number } | null = null;
      if (sessionToken && p.credential?.stage !== 'full') {
        await deps.users.deleteSession(sha256(sessionToken));
        const user = (await deps.users.byId(p.userId))!;
        session = await newSession(user, 'full', meta.ip ?? null);
      }
      return { recoveryCodes: codes, session };
    },
    async mfaStatus(p: Principal) {
      return { ...(await deps.mfa.status(p.userId)), passkeys: await deps.passkeys.count(p.userId), required: mfaRequiredFor(p.role) };
    },

    /** Passkey registration, step 1: options for navigator.credentials.create (a signed-in session, or an 'enrol' one). */
    async passkeyRegistrationOptions(p: Principal, current?: string, password?: string) {
      noToken(p);
      await proveFactorChange(p, { current, password }, 'auth.passkey.add', 'passkey');
      return deps.passkeys.registrationOptions(p);
    },
    /**
     * Step 2: the browser's answer. The first second factor of an account also gets recovery codes (shown
     * once); an 'enrol' session becomes a new full one.
     */
    async registerPasskey(
      p: Principal,
      sessionToken: string | undefined,
      input: { flowId: string; response: RegistrationResponseJSON; name?: string },
      meta: { ip?: string } = {},
    ) {
      noToken(p);
      const hadFactor = await hasSecondFactor(p.userId);
      const name = input.name?.trim() || 'Passkey';
      let passkey;
      try {
        // [audit] the stored passkey and its entry commit together ((d)(2)).
        passkey = await deps.passkeys.register(p.userId, input.flowId, input.response, name, (tx, pk) =>
          deps.audit.recordIn(tx, {
            actor: p,
            action: 'auth.passkey.add',
            entityType: 'User',
            entityId: p.userId,
            details: { passkey: pk.id.slice(0, 24), name, ip: meta.ip },
          }),
        );
      } catch (err) {
        // (when the audit itself is what failed, this entry cannot be written either: the original error stands)
        await deps.audit
          .record({
            actor: p,
            action: 'auth.passkey.add',
            outcome: 'failure',
            entityType: 'User',
            entityId: p.userId,
            details: { reason: (err as Error).message.slice(0, 200), ip: meta.ip },
          })
          .catch(() => undefined);
        throw err;
      }
      const recoveryCodes = hadFactor ? null : await deps.mfa.newRecoveryCodes(p.userId);
      let session: { token: string; expiresAt: number } | null = null;
      if (sessionToken && p.credential?.stage === 'enrol') {
        await deps.users.deleteSession(sha256(sessionToken));
        session = await newSession((await deps.users.byId(p.userId))!, 'full', meta.ip ?? null);
      }
      return { passkey, recoveryCodes, session };
    },
    async listPasskeys(p: Principal) {
      return deps.passkeys.list(p.userId);
    },
    async renamePasskey(p: Principal, id: string, name: string) {
      noToken(p);
      return deps.audit.change(async (tx, log) => {
        const r = await deps.passkeys.rename(p.userId, id, name.trim() || 'Passkey', tx);
        if (!r) throw notFound(`passkey ${id}`);
        log({ actor: p, action: 'auth.passkey.rename', entityType: 'User', entityId: p.userId, details: { passkey: id.slice(0, 24) } });
        return r;
      });
    },
    /** Removes one of the caller's passkeys; the last second factor of an account that requires one stays. */
    async removePasskey(p: Principal, id: string, current?: string) {
      noToken(p);
      const f = await factorsOf(p.userId);
      const mine = (await deps.passkeys.list(p.userId)).some((k) => k.id === id);
      if (!mine) throw notFound(`passkey ${id}`);
      if (mfaRequiredFor(p.role) && !f.totp && f.passkeys <= 1)
        throw new AppError('CONFLICT', 'your role requires a second factor: add another passkey or an authenticator app before removing this one');
      if (await needsCurrentFactor(p)) await proveCurrentFactor(p, current, 'auth.passkey.remove', 'passkey');
      await deps.audit.change(async (tx, log) => {
        if (await deps.passkeys.remove(p.userId, id, tx))
          log({ actor: p, action: 'auth.passkey.remove', entityType: 'User', entityId: p.userId, details: { passkey: id.slice(0, 24) } });
      });
    },

    /** Step-up, 1: options to confirm this signed-in session with one of the account's own passkeys. */
    async passkeyStepUpOptions(p: Principal) {
      noToken(p);
      if (p.credential?.stage !== 'full') throw new AppError('UNAUTHENTICATED', 'finish signing in first');
      return deps.passkeys.authenticationOptions(p.userId);
    },
    /**
     * Step-up, 2: the signed answer. A passkey of this account, in a ceremony begun for it, marks the session
     * confirmed for STEP_UP_VALID_MS; the next change of second factors spends it instead of a code.
     */
    async passkeyStepUp(p: Principal, flowId: string, response: AuthenticationResponseJSON, meta: { ip?: string } = {}) {
      noToken(p);
      if (p.credential?.kind !== 'session' || p.credential.stage !== 'full') throw new AppError('UNAUTHENTICATED', 'finish signing in first');
      try {
        const result = await deps.passkeys.authenticate(flowId, response);
        if (result.userId !== p.userId || !result.secondStep) throw new AppError('UNAUTHENTICATED', 'this passkey belongs to another account');
        if (!(await deps.users.markStepUp(p.credential.id, p.userId, deps.clock.now()))) throw new AppError('UNAUTHENTICATED', 'this session has ended');
      } catch (err) {
        await deps.audit.record({
          actor: p,
          action: 'auth.stepup',
          outcome: 'failure',
          entityType: 'User',
          entityId: p.userId,
          details: { kind: 'passkey', reason: (err as Error).message.slice(0, 200), ip: meta.ip },
        });
        throw err;
      }
      await deps.audit.record({ actor: p, action: 'auth.stepup', entityType: 'User', entityId: p.userId, details: { kind: 'passkey', ip: meta.ip } });
      return { validSeconds: STEP_UP_VALID_MS / 1000 };
    },
    /**
     * Passkey sign-in options. With a password-stage session: that user's passkeys (the second step).
     * Without: any passkey of this site (passwordless; the passkey must verify the user).
     */
    async passkeySignInOptions(sessionToken: string | undefined) {
      const found = sessionToken ? await deps.users.sessionByHash(sha256(sessionToken)) : null;
      const second = found && found.session.stage === 'mfa' && new Date(found.session.expires_at).getTime() > deps.clock.now() ? found.user : null;
      return { ...(await deps.passkeys.authenticationOptions(second?.userId ?? null)), secondStep: !!second };
    },
    /** Checks a passkey assertion and opens a new full session (second step, or passwordless sign-in). */
    async passkeySignIn(sessionToken: string | undefined, flowId: string, response: AuthenticationResponseJSON, meta: { ip?: string } = {}) {
      const found = sessionToken ? await deps.users.sessionByHash(sha256(sessionToken)) : null;
      const pending = found && found.session.stage === 'mfa' ? found : null;
      let result;
      try {
        result = await deps.passkeys.authenticate(flowId, response);
        if (pending && result.userId !== pending.user.userId) throw new AppError('UNAUTHENTICATED', 'this passkey belongs to another account');
        // A second-step ceremony finishes only the password-stage session that began it.
        if (result.secondStep && !pending) throw new AppError('UNAUTHENTICATED', 'sign in with your password first');
      } catch (err) {
        const who = pending ? toPrincipal(pending.user) : 'system';
        await deps.audit.record({
          actor: who,
          action: pending ? 'auth.mfa' : 'auth.login',
          outcome: 'failure',
          entityType: 'User',
          entityId: pending?.user.userId ?? null,
          details: { kind: 'passkey', reason: (err as Error).message.slice(0, 200), ip: meta.ip },
        });
        throw err;
      }
      const user = await deps.users.byId(result.userId);
      if (!user || user.disabled) {
        await deps.audit.record({
          actor: user ? toPrincipal(user) : 'system',
          action: 'auth.login',
          outcome: 'failure',
          entityType: 'User',
          entityId: result.userId,
          details: { kind: 'passkey', reason: 'disabled', ip: meta.ip },
        });
        throw new AppError('UNAUTHENTICATED', 'this account is disabled; ask your clinic administrator');
      }
      // [audit] the new session and its sign-in entry commit together ((d)(2)).
      const s = await deps.audit.change(async (tx, log) => {
        if (pending) await deps.users.deleteSession(sha256(sessionToken!), tx);
        const made = await newSession(user, 'full', meta.ip ?? null, tx);
        log({
          actor: toPrincipal(user),
          action: pending ? 'auth.mfa' : 'auth.login',
          entityType: 'User',
          entityId: user.userId,
          details: { kind: 'passkey', passwordless: !pending, userVerified: result.userVerified, session: made.sessionId, ip: meta.ip },
        });
        return made;
      });
      return { token: s.token, user: toPrincipal(user), expiresAt: s.expiresAt };
    },
    /** Removes a user's second factors (admin reset for a lost phone, or the user themself when not required). */
    async resetMfa(userId: string, actor: Principal | 'cli') {
      if (!(await deps.users.byId(userId))) throw notFound(`user ${userId}`);
      const ids = await deps.audit.change(async (tx, log) => {
        await deps.mfa.remove(userId, tx);
        await deps.passkeys.removeAll(userId, tx);
        const appGrants = await deps.users.revokeSmartGrantsOfUser(userId, tx);
        log({ actor, action: 'auth.mfa.reset', entityType: 'User', entityId: userId, details: { appGrantsRevoked: appGrants } });
        return deps.users.deleteSessionsOfUser(userId, undefined, tx);
      });
      ended({ sessionIds: ids, userId });
    },

    /** Who a user id names (audit reports, SMART apps acting for a user); null when there is no such user. */
    async userById(id: string): Promise<Principal | null> {
      const u = await deps.users.byId(id);
      return u ? toPrincipal(u) : null;
    },

    /** The user a grant acts for (SMART apps' tokens), only while the account is enabled: disabling stops every app at once. */
    async activeUserById(id: string): Promise<Principal | null> {
      const u = await deps.users.byId(id);
      return u && !u.disabled ? toPrincipal(u) : null;
    },

    async listUsers(): Promise<Array<Principal & { disabled: boolean }>> {
      return (await deps.users.list()).map((u) => ({ ...toPrincipal(u), disabled: u.disabled }));
    },

    /** The built-in admin the local CLI acts as through a running server (it has no password: no login). */
    async ensureSystemAdmin(): Promise<Principal> {
      const email = SYSTEM_ADMIN_EMAIL;
      const existing = await deps.users.byEmail(email);
      if (existing) return toPrincipal(existing);
      const id = newId('usr');
      await deps.audit.change(async (tx, log) => {
        await deps.users.insert({ id, email, displayName: 'Vigil CLI', role: 'admin', passwordHash: null }, tx);
        log({ actor: 'system', action: 'user.create', entityType: 'User', entityId: id, details: { email, role: 'admin' } });
      });
      return toPrincipal((await deps.users.byEmail(email))!);
    },

    async logout(token: string) {
      const found = await deps.users.sessionByHash(sha256(token));
      // [audit] the session's end and its entry commit together ((d)(2)).
      const id = await deps.audit.change(async (tx, log) => {
        const gone = await deps.users.deleteSession(sha256(token), tx);
        if (gone && found)
          log({ actor: toPrincipal(found.user), action: 'auth.logout', entityType: 'User', entityId: found.user.userId, details: { session: gone } });
        return gone;
      });
      if (id && found) ended({ sessionIds: [id], userId: found.user.userId });
    },

    /** Ends every session of the user ("sign out everywhere"), optionally keeping the current one. */
    async logoutEverywhere(p: Principal, keepToken?: string) {
      const ids = await deps.audit.change(async (tx, log) => {
        const gone = await deps.users.deleteSessionsOfUser(p.userId, keepToken ? sha256(keepToken) : undefined, tx);
        log({ actor: p, action: 'auth.logout.everywhere', entityType: 'User', entityId: p.userId, details: { sessions: gone.length } });
        return gone;
      });
      ended({ sessionIds: ids, userId: p.userId });
      return ids.length;
    },

    /** The session's principal, or null when unknown, expired (absolute), idle too long, or the user is disabled. */
    async principalFromSession(token: string): Promise<Principal | null> {
      if (typeof token !== 'string' || token.length > 200) return null;
      const hash = sha256(token);
      const found = await deps.users.sessionByHash(hash);
      if (!found) return null;
      const now = deps.clock.now();
      const { session, user } = found;
      if (user.disabled || new Date(session.expires_at).getTime() <= now || now - new Date(session.last_seen_at).getTime() > settings.idleMs) {
        if (await deps.users.deleteSession(hash)) ended({ sessionIds: [session.id], userId: user.userId });
        return null;
      }
      if (touchDue(session.id)) await deps.users.touchSession(hash, now);
      return toPrincipal(user, { kind: 'session', id: session.id, scope: 'write', patients: null, stage: session.stage });
    },

    async principalFromToken(token: string): Promise<Principal | null> {
      if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
      const found = await deps.users.tokenByHash(sha256(token));
      if (!found) return null;
      const { token: t, user } = found;
      const now = deps.clock.now();
      if (user.disabled || t.revoked_at || (t.expires_at && new Date(t.expires_at).getTime() <= now)) return null;
      if (touchDue(t.id)) await deps.users.touchToken(t.id, now);
      return toPrincipal(user, { kind: 'token', id: t.id, scope: t.scope === 'read' ? 'read' : 'write', patients: t.patient_ids ?? null, stage: 'full' });
    },

    /**
     * A bearer token for `email` (printed once, stored hashed). Scope 'read' refuses writes; `patientIds`
     * narrows it to some of the account's patients; it expires after `ttlDays` (default VIGIL_TOKEN_TTL_DAYS;
     * 0 = never, admins only; patients at most 30 days).
     */
    async createToken(
      email: string,
      name: string | null,
      actor: Principal | 'cli' | 'system',
      opts: { scope?: 'read' | 'write'; patientIds?: string[] | null; ttlDays?: number } = {},
    ) {
      const user = await deps.users.byEmail(String(email ?? ''));
      if (!user) throw notFound(`user ${email}`);
      if (user.disabled) throw new AppError('CONFLICT', `user ${email} is disabled`);
      const scope = opts.scope ?? 'write';
      if (scope !== 'read' && scope !== 'write') throw new AppError('VALIDATION', 'scope must be "read" or "write"');
      if (name !== null && (typeof name !== 'string' || name.length > 100)) throw new AppError('VALIDATION', 'name must be text of at most 100 characters');
      if (opts.patientIds != null && (!Array.isArray(opts.patientIds) || opts.patientIds.length > 1000 || opts.patientIds.some((x) => typeof x !== 'string')))
        throw new AppError('VALIDATION', 'patientIds must be a list of patient ids');
      // A token can narrow, never widen: a tokened actor cannot mint beyond its own scope.
      if (typeof actor !== 'string' && actor.credential?.kind === 'token' && actor.credential.scope === 'read' && scope === 'write')
        throw forbidden('a read-only token cannot create a write token');
      // A token limited to some patients mints only within them (found by review: it minted an unlimited one).
      const limit = typeof actor !== 'string' && actor.credential?.kind === 'token' ? actor.credential.patients : null;
      if (limit && (!opts.patientIds || opts.patientIds.some((id) => !limit.includes(id))))
        throw forbidden(`a token limited to some patients can create only tokens limited to them (patientIds within ${limit.join(', ')})`);
      let ttlDays = opts.ttlDays ?? settings.tokenTtlDays;
      if (!Number.isInteger(ttlDays) || ttlDays < 0 || ttlDays > 3650) throw new AppError('VALIDATION', 'ttlDays must be a whole number of days, 0–3650');
      if (user.role === 'patient' && (ttlDays === 0 || ttlDays > PATIENT_TOKEN_MAX_DAYS)) ttlDays = PATIENT_TOKEN_MAX_DAYS;
      if (ttlDays === 0 && typeof actor !== 'string' && actor.role !== 'admin') throw forbidden('only an admin may create a token that never expires');
      const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const id = newId('tok');
      const expiresAt = ttlDays === 0 ? null : deps.clock.now() + ttlDays * DAY;
      await deps.audit.change(async (tx, log) => {
        await deps.users.insertToken({ id, userId: user.userId, tokenHash: sha256(token), name, scope, patientIds: opts.patientIds ?? null, expiresAt }, tx);
        log({
          actor,
          action: 'token.create',
          entityType: 'User',
          entityId: user.userId,
          details: { tokenId: id, scope, patients: opts.patientIds?.length ?? null, expiresAt: expiresAt ? new Date(expiresAt).toISOString() : null },
        });
      });
      return { id, token, scope, patientIds: opts.patientIds ?? null, expiresAt: expiresAt ? new Date(expiresAt).toISOString() : null };
    },

    /** Tokens of the caller (admins: of everyone with all=true); never the secret. */
    async listTokens(p: Principal | 'cli', all = false) {
      const userId = p === 'cli' || (all && p.role === 'admin') ? null : p.userId;
      if (all && p !== 'cli' && p.role !== 'admin') throw forbidden('admin role required to list every token');
      return (await deps.users.listTokens(userId)).map(publicToken);
    },

    /** Revokes a token at once (its owner or an admin); later requests with it answer 401. */
    async revokeToken(id: string, actor: Principal | 'cli') {
      const t = await deps.users.tokenById(String(id ?? ''));
      if (!t || (actor !== 'cli' && actor.role !== 'admin' && t.user_id !== actor.userId)) throw notFound(`token ${id}`);
      const changed = await deps.audit.change(async (tx, log) => {
        const done = await deps.users.revokeToken(t.id, tx);
        if (done) log({ actor, action: 'token.revoke', entityType: 'User', entityId: t.user_id, details: { tokenId: t.id } });
        return done;
      });
      if (changed) ended({ tokenIds: [t.id], userId: t.user_id });
      return { id: t.id, revoked: true };
    },

    /** The CLI's own admin token: each server start revokes the previous one before minting the next. */
    async rotateCliToken(): Promise<{ id: string; token: string }> {
      const cli = await service.ensureSystemAdmin();
      await deps.audit.change(async (tx, log) => {
        const old = await deps.users.revokeTokensNamed(cli.userId, 'local CLI', tx);
        if (old.length)
          log({ actor: 'system', action: 'token.revoke', entityType: 'User', entityId: cli.userId, details: { tokenIds: old, reason: 'server restart' } });
      });
      const t = await service.createToken(cli.email, 'local CLI', 'system', { ttlDays: 0 });
      return { id: t.id, token: t.token };
    },
    async revokeCliToken(id: string) {
      await deps.audit.change(async (tx, log) => {
        if (await deps.users.revokeToken(id, tx))
          log({ actor: 'system', action: 'token.revoke', entityType: 'Token', entityId: id, details: { tokenId: id, reason: 'server stop' } });
      });
    },

    /** Password change by its owner: the current password is required; every other session ends. */
    async changePassword(p: Principal, current: string, next: string, keepToken?: string) {
      const user = await deps.users.byId(p.userId);
      if (!user || !(await verifyPassword(String(current ?? '').slice(0, 1024), user.passwordHash))) {
        await deps.audit.record({ actor: p, action: 'auth.password.change', outcome: 'failure', entityType: 'User', entityId: p.userId });
        throw new AppError('VALIDATION', 'the current password is wrong');
      }
      const problem = passwordProblem(next, { email: user.email });
      if (problem) throw new AppError('VALIDATION', problem);
      const hash = await hashPassword(next);
      // The new password, the other sessions' end and the audit entry commit together ((d)(2)).
      const ids = await deps.audit.change(async (tx, log) => {
        await deps.users.setPassword(p.userId, hash, tx);
        const gone = await deps.users.deleteSessionsOfUser(p.userId, keepToken ? sha256(keepToken) : undefined, tx);
        log({ actor: p, action: 'auth.password.change', entityType: 'User', entityId: p.userId, details: { sessionsEnded: gone.length } });
        return gone;
      });
      ended({ sessionIds: ids, userId: p.userId });
    },

    /**
     * Sets a new password for an account that proved it owns its email (a reset link) or by an admin: every
     * session ends and every API token and SMART app grant is revoked (the live stream closes with them). Audited.
     */
    async resetPassword(userId: string, next: string, meta: { ip?: string; via: string }, actor: Principal | 'cli' | 'system' = 'system') {
      const user = await deps.users.byId(userId);
      if (!user) throw notFound(`user ${userId}`);
      const problem = passwordProblem(next, { email: user.email });
      if (problem) throw new AppError('VALIDATION', problem);
      const hash = await hashPassword(next);
      // [audit] the new password, the ended sessions, the revoked tokens and the entry commit together ((d)(2)).
      await deps.audit.change(async (tx, log) => {
        await deps.users.setPassword(userId, hash, tx);
        const sessions = await deps.users.deleteSessionsOfUser(userId, undefined, tx);
        const tokens = await deps.users.revokeTokensOfUser(userId, tx);
        // SMART apps too: an app approved by whoever held the account must not outlive the recovery (found by review).
        const appGrants = await deps.users.revokeSmartGrantsOfUser(userId, tx);
        log({
          actor: actor === 'system' ? toPrincipal(user) : actor,
          action: 'auth.password.reset',
          entityType: 'User',
          entityId: userId,
          details: { via: meta.via, sessionsEnded: sessions.length, tokensRevoked: tokens.length, appGrantsRevoked: appGrants, ip: meta.ip },
        });
      });
      ended({ userId, all: true });
    },

    /** Admin: disable (every session ends, API tokens and SMART app grants are revoked) or re-enable an account (with none of them). */
    async setDisabled(userId: string, disabled: boolean, actor: Principal | 'cli') {
      const user = await deps.users.byId(String(userId ?? ''));
      if (!user) throw notFound(`user ${userId}`);
      if (actor !== 'cli' && actor.userId === user.userId && disabled) throw new AppError('CONFLICT', 'you cannot disable your own account');
      // Disabling the local CLI's account broke every later `vigil start` (found by review); it has no password to misuse.
      if (user.email === SYSTEM_ADMIN_EMAIL && disabled)
        throw new AppError('CONFLICT', 'the built-in CLI account cannot be disabled (it has no password; revoke its tokens instead)');
      await deps.audit.change(async (tx, log) => {
        await deps.users.setDisabled(user.userId, disabled, tx);
        if (!disabled) return log({ actor, action: 'user.enable', entityType: 'User', entityId: user.userId });
        // Tokens and app grants are revoked, not merely refused while disabled: re-enabling an account (often
        // disabled because it was misused) must not bring back credentials someone else may hold (found by review).
        const sessions = await deps.users.deleteSessionsOfUser(user.userId, undefined, tx);
        const tokens = await deps.users.revokeTokensOfUser(user.userId, tx);
        const appGrants = await deps.users.revokeSmartGrantsOfUser(user.userId, tx);
        // So do the invitations it sent (found by review: someone who took an account over could invite their
        // own address as a carer, or as a visit guest, and use the link after the account was disabled).
        const invites = await deps.users.revokeInvitesOfUser(user.userId, tx);
        log({
          actor,
          action: 'user.disable',
          entityType: 'User',
          entityId: user.userId,
          details: { sessionsEnded: sessions.length, tokensRevoked: tokens.length, appGrantsRevoked: appGrants, ...invites },
        });
      });
      if (disabled) ended({ userId: user.userId, all: true });
      return { id: user.userId, disabled };
    },

    async sessionsOf(p: Principal) {
      return (await deps.users.sessionsOfUser(p.userId)).map((s) => ({
        id: s.id,
        createdAt: iso(s.created_at),
        lastSeenAt: iso(s.last_seen_at),
        expiresAt: iso(s.expires_at),
        stage: s.stage,
        ip: s.ip,
        current: p.credential?.id === s.id,
      }));
    },
  };
  return service;
}

function publicToken(t: TokenRow & { email?: string }) {
  return {
    id: t.id,
    email: t.email,
    name: t.name,
    scope: t.scope,
    patientIds: t.patient_ids,
    createdAt: iso(t.created_at),
    lastUsedAt: iso(t.last_used_at),
    expiresAt: iso(t.expires_at),
    revokedAt: iso(t.revoked_at),
  };
}

const NEW_CODE_WRONG = 'that code does not match the new authenticator entry; check the device clock and try the next code';

export type AuthService = ReturnType<typeof createAuthService>;
/** @deprecated the absolute lifetime is a setting now (VIGIL_SESSION_MAX_HOURS). */
export const SESSION_TTL_MS = DEFAULT_AUTH_SETTINGS.maxMs;
