import { randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Db, Queryable } from '../platform/db.ts';
import { AppError } from '../platform/errors.ts';

/**
 * Passkeys (WebAuthn Level 2 / FIDO2, @simplewebauthn/server): ONC §170.315(d)(13), NIST SP 800-63B §5.1.8
 * (multi-factor cryptographic authenticator when the user is verified). What is checked on every answer, by
 * the library or here:
 * - the challenge: issued by this server, answered once (deleted on use, any outcome) and within 5 minutes;
 * - the origin in the signed client data is one of the site's origins, and the RP ID hash is the site's;
 * - the signature, by the public key stored at registration, for a credential of the expected user;
 * - the signature counter: when the authenticator keeps one, it must grow (a cloned key is refused).
 */
const CHALLENGE_MS = 5 * 60_000;
const MAX_PASSKEYS = 20;

export interface PasskeySite {
  rpID: string;
  rpName: string;
  /** Origins a browser may sign from (the public URL, VIGIL_ALLOWED_ORIGINS); read at each ceremony. */
  origins(): string[];
}

/**
 * The relying party is the site's host name (WebAuthn §5.1.4.1: a registrable domain or "localhost", never
 * an IP address); its origins are the site's URL and VIGIL_ALLOWED_ORIGINS. Passkeys registered under one
 * host name do not work under another: changing VIGIL_PUBLIC_URL's host means registering them again.
 */
export function passkeySite(site: { url: () => string; allowedOrigins: string[] }): PasskeySite {
  const host = () => {
    try {
      return new URL(site.url()).hostname;
    } catch {
      return 'localhost';
    }
  };
  return {
    get rpID() {
      const h = host();
      // An IP address cannot be a relying party: browsers refuse it. Loopback addresses mean this machine.
      return /^[\d.]+$|^\[|:/.test(h) ? 'localhost' : h;
    },
    rpName: 'Vigil',
    origins: () => {
      const own: string[] = [];
      try {
        own.push(new URL(site.url()).origin);
      } catch {
        /* not listening yet */
      }
      return [...own, ...site.allowedOrigins.map((o) => o.replace(/\/$/, ''))];
    },
  };
}

interface CredentialRow {
  id: string;
  user_id: string;
  public_key: string;
  counter: string | number;
  transports: string[] | null;
  name: string;
  device_type: string | null;
  backed_up: boolean;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);
const publicPasskey = (r: CredentialRow) => ({
  id: r.id,
  name: r.name,
  createdAt: iso(r.created_at)!,
  lastUsedAt: iso(r.last_used_at),
  backedUp: r.backed_up,
  deviceType: r.device_type,
});
export type PasskeyInfo = ReturnType<typeof publicPasskey>;

const refused = (why: string) => new AppError('UNAUTHENTICATED', why);

export function createPasskeys(db: Db, site: PasskeySite, now: () => number) {
  async function newChallenge(purpose: 'register' | 'authenticate', userId: string | null, challenge: string) {
    const id = randomBytes(18).toString('base64url');
    await db.query('DELETE FROM webauthn_challenges WHERE expires_at < $1', [new Date(now()).toISOString()]);
    await db.query('INSERT INTO webauthn_challenges (id, purpose, challenge, user_id, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      id,
      purpose,
      challenge,
      userId,
      new Date(now() + CHALLENGE_MS).toISOString(),
    ]);
    return id;
  }

  /** Takes the ceremony's challenge out (single use, whatever the outcome); null when unknown or expired. */
  async function takeChallenge(flowId: string, purpose: 'register' | 'authenticate') {
    const [c] = await db.query<{ challenge: string; user_id: string | null; expires_at: Date | string }>(
      'DELETE FROM webauthn_challenges WHERE id = $1 AND purpose = $2 RETURNING challenge, user_id, expires_at',
      [String(flowId).slice(0, 100), purpose],
    );
    if (!c || new Date(c.expires_at).getTime() <= now()) return null;
    return { challenge: c.challenge, userId: c.user_id };
  }

  const listRows = (userId: string) => db.query<CredentialRow>('SELECT * FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at', [userId]);

  return {
    async count(userId: string): Promise<number> {
      const [r] = await db.query<{ n: string }>('SELECT count(*) AS n FROM webauthn_credentials WHERE user_id = $1', [userId]);
      return Number(r?.n ?? 0);
    },

    async list(userId: string): Promise<PasskeyInfo[]> {
      return (await listRows(userId)).map(publicPasskey);
    },

    /** Registration options for a signed-in user; their existing passkeys are excluded (no duplicates on one device). */
    async registrationOptions(user: { userId: string; email: string; displayName: string }) {
      const existing = await listRows(user.userId);
      if (existing.length >= MAX_PASSKEYS) throw new AppError('CONFLICT', `at most ${MAX_PASSKEYS} passkeys per account; remove one first`);
      const options = await generateRegistrationOptions({
        rpName: site.rpName,
        rpID: site.rpID,
        userName: user.email,
        userDisplayName: user.displayName,
        // The user handle is the account id (not the email: WebAuthn §14.6.1 asks for no personal data in it).
        userID: new TextEncoder().encode(user.userId),
        attestationType: 'none',
        excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports ?? undefined })),
        // A discoverable credential lets the same passkey sign in without a password later.
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      const flowId = await newChallenge('register', user.userId, options.challenge);
      return { flowId, options: { ...options } };
    },

    /** Checks a registration answer and stores the passkey; throws 400 naming the problem. */
    /** `alsoInTx` runs in the transaction that stores the passkey (its audit entry, [audit] (d)(2)). */
    async register(
      userId: string,
      flowId: string,
      response: RegistrationResponseJSON,
      name: string,
      alsoInTx?: (tx: Queryable, passkey: PasskeyInfo) => Promise<void>,
    ): Promise<PasskeyInfo> {
      const c = await takeChallenge(flowId, 'register');
      if (!c || c.userId !== userId) throw new AppError('VALIDATION', 'this passkey set-up has expired or was already used; start again');
      let verified;
      try {
        verified = await verifyRegistrationResponse({
          response,
          expectedChallenge: c.challenge,
          expectedOrigin: site.origins(),
          expectedRPID: site.rpID,
          requireUserVerification: false,
        });
      } catch (err) {
        throw new AppError('VALIDATION', `the passkey could not be verified: ${(err as Error).message}`);
      }
      if (!verified.verified) throw new AppError('VALIDATION', 'the passkey could not be verified');
      const { credential, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
      const [taken] = await db.query('SELECT 1 FROM webauthn_credentials WHERE id = $1', [credential.id]);
      if (taken) throw new AppError('CONFLICT', 'this passkey is already registered');
      return db.transaction(async (tx) => {
        await tx.query(
          'INSERT INTO webauthn_credentials (id, user_id, public_key, counter, transports, name, device_type, backed_up) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [
            credential.id,
            userId,
            b64url(credential.publicKey),
            credential.counter,
            JSON.stringify(credential.transports ?? response.response.transports ?? []),
            name,
            credentialDeviceType,
            credentialBackedUp,
          ],
        );
        const [row] = await tx.query<CredentialRow>('SELECT * FROM webauthn_credentials WHERE id = $1', [credential.id]);
        const passkey = publicPasskey(row!);
        await alsoInTx?.(tx, passkey);
        return passkey;
      });
    },

    /**
     * Options for an assertion: for one user's passkeys (the second step after a password) or, with no
     * user, for any passkey of this site (passwordless: the browser offers its discoverable credentials).
     */
    async authenticationOptions(userId: string | null) {
      const allow = userId ? (await listRows(userId)).map((c) => ({ id: c.id, transports: c.transports ?? undefined })) : undefined;
      if (userId && !allow?.length) throw new AppError('CONFLICT', 'this account has no passkey');
      const options = await generateAuthenticationOptions({ rpID: site.rpID, allowCredentials: allow, userVerification: userId ? 'preferred' : 'required' });
      const flowId = await newChallenge('authenticate', userId, options.challenge);
      return { flowId, options: { ...options } };
    },

    /**
     * Checks an assertion; returns the user it signs in and whether the user was verified (PIN, biometric).
     * A ceremony begun for one user accepts only that user's passkeys; a passwordless one needs user
     * verification (a passkey alone is then two factors: possession and a PIN or biometric).
     */
    async authenticate(
      flowId: string,
      response: AuthenticationResponseJSON,
    ): Promise<{ userId: string; credentialId: string; userVerified: boolean; secondStep: boolean }> {
      const c = await takeChallenge(flowId, 'authenticate');
      if (!c) throw refused('this passkey sign-in has expired or was already used; start again');
      const [cred] = await db.query<CredentialRow>('SELECT * FROM webauthn_credentials WHERE id = $1', [String(response.id).slice(0, 1400)]);
      if (!cred) throw refused('this passkey is not registered here');
      if (c.userId && cred.user_id !== c.userId) throw refused('this passkey belongs to another account');
      let verified;
      try {
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge: c.challenge,
          expectedOrigin: site.origins(),
          expectedRPID: site.rpID,
          credential: {
            id: cred.id,
            publicKey: Buffer.from(cred.public_key, 'base64url'),
            counter: Number(cred.counter),
            transports: cred.transports ?? undefined,
          },
          requireUserVerification: !c.userId,
        });
      } catch (err) {
        throw refused(`the passkey answer was refused: ${(err as Error).message}`);
      }
      if (!verified.verified) throw refused('the passkey signature does not verify');
      const { newCounter, userVerified } = verified.authenticationInfo;
      // Compare-and-set on the counter: two answers racing with the same counter cannot both pass.
      const moved = await db.query('UPDATE webauthn_credentials SET counter = $2, last_used_at = $4 WHERE id = $1 AND counter = $3 RETURNING id', [
        cred.id,
        newCounter,
        cred.counter,
        new Date(now()).toISOString(),
      ]);
      if (!moved.length) throw refused('the passkey was used at the same moment elsewhere; try again');
      return { userId: cred.user_id, credentialId: cred.id, userVerified, secondStep: !!c.userId };
    },

    async rename(userId: string, id: string, name: string, q: Queryable = db): Promise<PasskeyInfo | null> {
      const [row] = await q.query<CredentialRow>('UPDATE webauthn_credentials SET name = $3 WHERE id = $1 AND user_id = $2 RETURNING *', [id, userId, name]);
      return row ? publicPasskey(row) : null;
    },

    async remove(userId: string, id: string, q: Queryable = db): Promise<boolean> {
      return (await q.query('DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2 RETURNING id', [id, userId])).length > 0;
    },

    async removeAll(userId: string, q: Queryable = db) {
      await q.query('DELETE FROM webauthn_credentials WHERE user_id = $1', [userId]);
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;
