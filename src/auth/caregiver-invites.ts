import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { Principal } from '../domain/types.ts';
import type { AccessPolicy } from './access.ts';
import type { AuthService } from './auth.service.ts';
import type { Consents } from '../privacy/consent.ts';
import type { SendMail } from './mailer.ts';
import { AppError, forbidden, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import { passwordProblem } from './password-policy.ts';

/**
 * A patient invites a family member by email (issue 9: "a patient grants a family member read access"):
 * the email carries a one-time link (256 random bits, kept as SHA-256; 7 days by default, at most 30; used
 * once; revocable while pending). Opening it, the family member creates a caregiver account for that address
 * (or, already having one, signs in) and the patient's caregiver consent is recorded — read access to that
 * patient only, withdrawn at once by revoking the consent (privacy/consent.ts).
 */
const DEFAULT_DAYS = 7;
const MAX_DAYS = 30;
const MAX_PENDING = 10;
const DAY = 86_400_000;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);
const invalid = () => new AppError('VALIDATION', 'this invitation has expired, was withdrawn or was already used; ask for a new one');

interface InviteRow {
  id: string;
  token_hash: string;
  patient_id: string;
  email: string;
  invited_by: string;
  created_at: Date | string;
  expires_at: Date | string;
  accepted_at: Date | string | null;
  accepted_user_id: string | null;
  revoked_at: Date | string | null;
}

export function createCaregiverInvites(deps: {
  db: Db;
  audit: AuditService;
  access: AccessPolicy;
  auth: AuthService;
  consents: Consents;
  clock: Clock;
  send: SendMail | null;
  baseUrl: () => string;
}) {
  const status = (r: InviteRow): 'accepted' | 'revoked' | 'expired' | 'pending' =>
    r.accepted_at ? 'accepted' : r.revoked_at ? 'revoked' : new Date(r.expires_at).getTime() <= deps.clock.now() ? 'expired' : 'pending';
  const view = (r: InviteRow) => ({
    id: r.id,
    patientId: r.patient_id,
    email: r.email,
    status: status(r),
    createdAt: iso(r.created_at)!,
    expiresAt: iso(r.expires_at)!,
    acceptedAt: iso(r.accepted_at),
    revokedAt: iso(r.revoked_at),
  });
  const live = async (token: string) => {
    const [r] = await deps.db.query<InviteRow>('SELECT * FROM caregiver_invites WHERE token_hash = $1', [sha256(String(token))]);
    return r && status(r) === 'pending' ? r : null;
  };

  return {
    /** The patient (or an admin) invites someone by email; the link is emailed, never returned. */
    async invite(p: Principal, patientId: string, input: { email: string; days?: number }) {
      await deps.access.assertPatient(p, patientId);
      deps.access.assertMayConsentFor(p, patientId);
      const email = input.email.trim().toLowerCase();
      if (!EMAIL.test(email) || email.length > 254) throw new AppError('VALIDATION', `body.email: "${input.email.slice(0, 80)}" is not an email address`);
      if (email === p.email.toLowerCase()) throw new AppError('VALIDATION', 'body.email: invite someone else (this is your own address)');
      const days = input.days ?? DEFAULT_DAYS;
      if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) throw new AppError('VALIDATION', `body.days: a whole number of days, 1–${MAX_DAYS}`);
      if (!deps.send) throw new AppError('UNAVAILABLE', 'this server cannot send email (no VIGIL_SMTP_URL): ask the clinic to create the carer account');
      const now = deps.clock.now();
      const pending = await deps.db.query<InviteRow>(
        'SELECT * FROM caregiver_invites WHERE patient_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2',
        [patientId, new Date(now).toISOString()],
      );
      if (pending.filter((r) => r.email !== email).length >= MAX_PENDING)
        throw new AppError('CONFLICT', `at most ${MAX_PENDING} pending invitations; withdraw one first`);
      const token = randomBytes(32).toString('base64url');
      const id = newId('inv');
      await deps.db.transaction(async (tx) => {
        // A new invitation to the same address replaces the pending one (its link stops working).
        await tx.query('UPDATE caregiver_invites SET revoked_at = $3 WHERE patient_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL', [
          patientId,
          email,
          new Date(now).toISOString(),
        ]);
        await tx.query('INSERT INTO caregiver_invites (id, token_hash, patient_id, email, invited_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
          id,
          sha256(token),
          patientId,
          email,
          p.userId,
          new Date(now + days * DAY).toISOString(),
        ]);
        await deps.audit.recordIn(tx, {
          actor: p,
          action: 'caregiver.invite',
          entityType: 'CaregiverInvite',
          entityId: id,
          patientId,
          details: { email, days },
        });
      });
      try {
        await deps.send(
          email,
          `${p.displayName} invited you to follow their care on Vigil`,
          [
            `${p.displayName} would like you to be able to see their readings and messages from their care team on Vigil.`,
            '',
            `To accept, open this link within ${days} day${days === 1 ? '' : 's'}. It works once:`,
            `${deps.baseUrl()}/#/invite/${token}`,
            '',
            'You will create a carer account with this email address (or sign in to the one you have).',
            `${p.displayName} can stop sharing at any time. If you did not expect this, ignore this email.`,
          ].join('\n'),
        );
      } catch {
        await deps.db.query('UPDATE caregiver_invites SET revoked_at = now() WHERE id = $1', [id]);
        throw new AppError('UNAVAILABLE', 'the invitation email could not be sent; try again later');
      }
      const [row] = await deps.db.query<InviteRow>('SELECT * FROM caregiver_invites WHERE id = $1', [id]);
      return view(row);
    },

    async list(p: Principal, patientId: string) {
      await deps.access.assertPatient(p, patientId);
      const rows = await deps.db.query<InviteRow>('SELECT * FROM caregiver_invites WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 100', [patientId]);
      return rows.map(view);
    },

    /** Withdraws a pending invitation (the patient or an admin); its link stops working at once. */
    async revoke(p: Principal, inviteId: string) {
      const [row] = await deps.db.query<InviteRow>('SELECT * FROM caregiver_invites WHERE id = $1', [inviteId]);
      if (!row || !(await deps.access.mayRevokeConsent(p, row.patient_id, null))) throw notFound(`invitation ${inviteId}`);
      if (status(row) !== 'pending')
        throw new AppError('CONFLICT', `this invitation is ${status(row)}; ${row.accepted_at ? 'stop sharing with the carer instead' : 'nothing to withdraw'}`);
      await deps.db.transaction(async (tx) => {
        await tx.query('UPDATE caregiver_invites SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL AND accepted_at IS NULL', [inviteId]);
        await deps.audit.recordIn(tx, {
          actor: p,
          action: 'caregiver.invite.revoke',
          entityType: 'CaregiverInvite',
          entityId: inviteId,
          patientId: row.patient_id,
          details: { email: row.email },
        });
      });
      const [after] = await deps.db.query<InviteRow>('SELECT * FROM caregiver_invites WHERE id = $1', [inviteId]);
      return view(after);
    },

    /** What the link holder may know before accepting: whose invitation, for which address, and whether an account exists. */
    async preview(token: string) {
      const r = await live(token);
      if (!r) throw invalid();
      const inviter = await deps.auth.userById(r.invited_by);
      const [account] = await deps.db.query<{ role: string }>('SELECT role FROM users WHERE lower(email) = $1', [r.email]);
      return { email: r.email, invitedBy: inviter?.displayName ?? 'A patient', expiresAt: iso(r.expires_at)!, hasAccount: !!account };
    },

    /**
     * Accepts: signed in as the invited address's caregiver account, or creating that account now (display
     * name and password, NIST policy). The link is spent once; the patient's caregiver consent is recorded
     * as given by the inviter.
     */
    async accept(token: string, signedIn: Principal | null, input: { displayName?: string; password?: string }, meta: { ip?: string }) {
      const r = await live(token);
      const fail = async (reason: string, err: AppError) => {
        await deps.audit.record({
          actor: signedIn ?? 'system',
          action: 'caregiver.invite.accept',
          outcome: 'failure',
          entityType: 'CaregiverInvite',
          entityId: r?.id ?? null,
          patientId: r?.patient_id ?? null,
          details: { reason, ip: meta.ip },
        });
        return err;
      };
      if (!r) throw await fail('invalid link', invalid());
      // The inviter's account must still be enabled: a disabled account's invitations give nothing (found by review).
      const inviter = await deps.auth.activeUserById(r.invited_by);
      if (!inviter) throw await fail('inviter gone or disabled', invalid());
      const [existing] = await deps.db.query<{ id: string; role: string; disabled: boolean }>(
        'SELECT id, role, disabled_at IS NOT NULL AS disabled FROM users WHERE lower(email) = $1',
        [r.email],
      );
      let userId: string;
      let created = false;
      if (signedIn) {
        if (signedIn.email.toLowerCase() !== r.email)
          throw await fail(
            'signed in as another account',
            forbidden(`this invitation was sent to ${r.email}; sign in as that account (or sign out to create it)`),
          );
        if (!deps.access.isCaregiverAccount({ role: signedIn.role }))
          throw await fail(
            'not a caregiver account',
            new AppError('CONFLICT', 'this account cannot be a carer (staff and patient accounts cannot); ask for an invitation to another address'),
          );
        userId = signedIn.userId;
      } else if (existing) {
        throw await fail('account exists', new AppError('CONFLICT', `an account already uses ${r.email}: sign in, then open the link again`));
      } else {
        const displayName = input.displayName?.trim() ?? '';
        if (!displayName) throw new AppError('VALIDATION', 'body.displayName: your name is required');
        const problem = passwordProblem(input.password ?? '', { email: r.email });
        if (problem) throw new AppError('VALIDATION', `body.password: ${problem}`);
        userId = '';
      }
      // Spend the link (compare-and-set: two tabs racing cannot both accept) and record it in one transaction
      // ((d)(2)); the account and the consent it leads to are then written each with its own entry.
      const spent = await deps.db.transaction(async (tx) => {
        const rows = await tx.query(
          'UPDATE caregiver_invites SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2 RETURNING id',
          [r.id, new Date(deps.clock.now()).toISOString()],
        );
        if (rows.length)
          await deps.audit.recordIn(tx, {
            actor: signedIn ?? 'system',
            action: 'caregiver.invite.accept',
            entityType: 'CaregiverInvite',
            entityId: r.id,
            patientId: r.patient_id,
            details: { email: r.email, createsAccount: !userId, ip: meta.ip },
          });
        return rows.length > 0;
      });
      if (!spent) throw await fail('raced', invalid());
      if (!userId) {
        const u = await deps.auth.createUser({ email: r.email, role: 'caregiver', displayName: input.displayName!.trim(), password: input.password }, 'system');
        userId = u.id;
        created = true;
      }
      await deps.db.query('UPDATE caregiver_invites SET accepted_user_id = $2 WHERE id = $1', [r.id, userId]);
      const consent = await deps.consents.grant(inviter, r.patient_id, { kind: 'caregiver', email: r.email }).catch((err: unknown) => {
        // Already a carer of this patient (a second invitation): access stands, nothing more to record.
        if (err instanceof AppError && err.code === 'CONFLICT') return null;
        throw err;
      });
      return { email: r.email, accountCreated: created, consentId: consent?.id ?? null };
    },
  };
}

export type CaregiverInvites = ReturnType<typeof createCaregiverInvites>;
