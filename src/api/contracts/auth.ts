import { z } from 'zod';
import { Role, Text } from './common.ts';

export const LoginBody = z.object({ email: Text(320, 1), password: Text(1024, 1) });

/** 'mfa': the password was right, the second factor is next; 'enrol': one must be set up first (ONC §170.315(d)(13)). */
export const SignInStage = z.enum(['full', 'mfa', 'enrol']);
export type SignInStage = z.infer<typeof SignInStage>;

export const Me = z
  .object({
    id: z.string(),
    email: z.string(),
    role: Role,
    displayName: z.string(),
    patientId: z.string().nullable(),
    stage: SignInStage.optional(),
    /** How this request is signed in: a session cookie or an API token. */
    via: z.enum(['session', 'token']).nullable().optional(),
  })
  .meta({ id: 'Me' });
export type Me = z.infer<typeof Me>;

export const LoginResponse = z.object({ user: Me, stage: SignInStage.optional() });

export const DemoInfo = z.object({ logins: z.array(z.object({ email: z.string(), password: z.string(), role: z.string().optional() })) });
export type DemoInfo = z.infer<typeof DemoInfo>;

/** An alert email caught by the demo clinic's local mailbox. */
export const DemoMail = z.object({
  to: z.array(z.string()),
  from: z.string(),
  messageId: z.string(),
  subject: z.string(),
  receivedAt: z.string(),
  text: z.string(),
});
export type DemoMail = z.infer<typeof DemoMail>;

/** A six-digit authenticator code or a recovery code (xxxxx-xxxxx). */
export const CodeBody = z.object({ code: Text(40, 1) });
/** A new authenticator's first code; `current` (a code of the factor already there, or a recovery code) when replacing one. */
/** A code of a second factor the account already has (TOTP or recovery code), asked before its factors change. */
/** `current`: a code of the factor the account has; `password`: the account's password, to add its first factor from a full session. */
export const CurrentFactorBody = z.object({ current: Text(40, 1).optional(), password: Text(1024, 1).optional() });
export const TotpConfirmBody = z.object({ code: Text(40, 1), current: Text(40, 1).optional(), password: Text(1024, 1).optional() });

export const MfaStatus = z
  .object({ totp: z.boolean(), enrolledAt: z.string().nullable(), recoveryCodesLeft: z.number(), passkeys: z.number(), required: z.boolean() })
  .meta({ id: 'MfaStatus' });
export type MfaStatus = z.infer<typeof MfaStatus>;

/** A new TOTP secret and its otpauth:// URI (for the QR code); confirmed with a first code. */
export const TotpEnrolment = z.object({ factorId: z.string(), secret: z.string(), uri: z.string() });
export const TotpConfirmed = z.object({ recoveryCodes: z.array(z.string()), stage: SignInStage });

export const LogoutEverywhereBody = z
  .object({ keepThis: z.boolean({ error: 'keepThis must be true or false' }).optional() })
  .nullish()
  .transform((b) => b ?? {});
export const LogoutEverywhereResult = z.object({ ended: z.number() });

export const SessionInfo = z
  .object({
    id: z.string(),
    createdAt: z.string().nullable(),
    lastSeenAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
    stage: z.string(),
    ip: z.string().nullable(),
    current: z.boolean(),
  })
  .meta({ id: 'SessionInfo' });
export type SessionInfo = z.infer<typeof SessionInfo>;

/** Password change: the current one, and the next (NIST SP 800-63B policy is checked by the service). */
export const PasswordChangeBody = z.object({ current: Text(1024, 1), next: Text(1024, 1) });

/**
 * Passkeys (WebAuthn, ONC §170.315(d)(13)). A ceremony is two calls: options (with a `flowId` naming its
 * one-time challenge), then the browser's answer. The answer's shape is the WebAuthn JSON serialisation
 * (@simplewebauthn/browser's startRegistration / startAuthentication); its signed parts are checked by the server.
 */
const B64url = (max: number) => Text(max, 1).regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url');
const Extensions = z.record(z.string(), z.unknown());
export const PasskeyOptions = z.object({ flowId: z.string(), options: z.record(z.string(), z.unknown()), secondStep: z.boolean().optional() });
export const PasskeyRegistrationBody = z.object({
  flowId: Text(100, 1),
  name: Text(60).optional(),
  response: z.object({
    id: B64url(1400),
    rawId: B64url(1400),
    type: z.literal('public-key', { error: 'response.type must be "public-key"' }),
    response: z.looseObject({ clientDataJSON: B64url(20_000), attestationObject: B64url(60_000), transports: z.array(Text(20)).max(10).optional() }),
    clientExtensionResults: Extensions,
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  }),
});
/** A passkey confirmation of the signed-in session (step-up): how long it stands in for a code, once. */
export const StepUpResult = z.object({ validSeconds: z.number() });
export const PasskeySignInBody = z.object({
  flowId: Text(100, 1),
  response: z.object({
    id: B64url(1400),
    rawId: B64url(1400),
    type: z.literal('public-key', { error: 'response.type must be "public-key"' }),
    response: z.looseObject({
      clientDataJSON: B64url(20_000),
      authenticatorData: B64url(20_000),
      signature: B64url(2_000),
      userHandle: B64url(200).optional(),
    }),
    clientExtensionResults: Extensions,
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  }),
});
export const Passkey = z
  .object({
    id: z.string(),
    name: z.string(),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
    backedUp: z.boolean(),
    deviceType: z.string().nullable(),
  })
  .meta({ id: 'Passkey' });
export type Passkey = z.infer<typeof Passkey>;
export const PasskeyRegistered = z.object({ passkey: Passkey, recoveryCodes: z.array(z.string()).nullable(), stage: SignInStage });
export const PasskeyParams = z.object({ id: B64url(1400) });
export const PasskeyRenameBody = z.object({ name: Text(60, 1) });

/** Password reset by an emailed one-time link: the same answer whether or not the email has an account. */
export const PasswordResetRequestBody = z.object({ email: Text(320, 1) });
export const PasswordResetAccepted = z.object({ message: z.string() });
export const PasswordResetConfirmBody = z.object({
  token: Text(100, 1).regex(/^[A-Za-z0-9_-]+$/, 'is not a reset link token'),
  password: Text(1024, 1),
});
