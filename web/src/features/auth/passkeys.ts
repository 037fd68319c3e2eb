import { browserSupportsWebAuthn, startAuthentication, startRegistration, WebAuthnError } from '@simplewebauthn/browser';
import type { Me, MfaStatus, Passkey, SignInStage } from '@contracts';
import { request } from '../../api/client.ts';

/**
 * Passkeys in the browser (WebAuthn via @simplewebauthn/browser): the server issues a one-time challenge
 * (`flowId` names it), the browser asks the authenticator (fingerprint, face, PIN, security key), the server
 * checks the signed answer.
 */
type Options = { flowId: string; options: Record<string, unknown>; secondStep?: boolean };

export const passkeysSupported = () => browserSupportsWebAuthn();

export const passkeyApi = {
  list: () => request<Passkey[]>('GET', '/auth/passkeys'),
  status: () => request<MfaStatus>('GET', '/auth/mfa'),
  rename: (id: string, name: string) => request<Passkey>('PATCH', `/auth/passkeys/${encodeURIComponent(id)}`, { name }),
  /** `current`: a code of the account's second factor (asked when it has one). */
  remove: (id: string, current?: string) => request<void>('DELETE', `/auth/passkeys/${encodeURIComponent(id)}`, current ? { current } : undefined),
};

/** Adds a passkey to the signed-in account; answers the recovery codes when it is the first second factor. */
export async function addPasskey(
  name: string,
  proof: { current?: string; password?: string } = {},
): Promise<{ passkey: Passkey; recoveryCodes: string[] | null; stage: SignInStage }> {
  const body = { ...(proof.current ? { current: proof.current } : {}), ...(proof.password ? { password: proof.password } : {}) };
  const { flowId, options } = await request<Options>('POST', '/auth/passkeys/options', Object.keys(body).length ? body : undefined);
  const response = await startRegistration({ optionsJSON: options as never });
  return request('POST', '/auth/passkeys', { flowId, name: name.trim() || undefined, response });
}

/**
 * Confirms this signed-in session with one of the account's passkeys ("step-up"): the next change of second
 * factors, within minutes, needs no code (an account with passkeys only would otherwise spend a recovery code).
 */
export async function confirmWithPasskey(): Promise<{ validSeconds: number }> {
  const { flowId, options } = await request<Options>('POST', '/auth/passkey/step-up/options');
  const response = await startAuthentication({ optionsJSON: options as never });
  return request('POST', '/auth/passkey/step-up', { flowId, response });
}

/** Signs in with a passkey: the second step after the password, or without a password (discoverable passkey). */
export async function signInWithPasskey(): Promise<{ user: Me; stage?: SignInStage }> {
  const { flowId, options } = await request<Options>('POST', '/auth/passkey/options');
  const response = await startAuthentication({ optionsJSON: options as never });
  return request('POST', '/auth/passkey', { flowId, response });
}

/** A sentence for a person: the browser's own WebAuthn errors are technical (and a cancel is not a failure). */
export function passkeyProblem(err: unknown): string {
  if (err instanceof WebAuthnError) {
    if (err.code === 'ERROR_CEREMONY_ABORTED') return 'Cancelled.';
    if (err.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') return 'This device already holds a passkey for your account.';
    if (err.code === 'ERROR_INVALID_RP_ID' || err.code === 'ERROR_INVALID_DOMAIN')
      return 'Passkeys need the site’s own web address (a host name, not an IP address). Ask your administrator.';
  }
  if (err instanceof Error && err.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out.';
  return err instanceof Error ? err.message : 'The passkey did not work';
}
