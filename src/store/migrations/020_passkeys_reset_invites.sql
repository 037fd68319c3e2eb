-- Issue 9 (ONC §170.315(d)(13), NIST SP 800-63B): passkeys, password reset by an emailed link, caregiver invites.

-- Passkeys (WebAuthn): the credential id and its COSE public key (public material: not secret), the signature
-- counter (a clone that reuses an older counter is refused), transports (hints for the browser).
CREATE TABLE webauthn_credentials (
  id            text PRIMARY KEY,               -- credential id, base64url
  user_id       text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  public_key    text NOT NULL,                  -- COSE key, base64url
  counter       bigint NOT NULL DEFAULT 0,
  transports    jsonb,
  name          text NOT NULL,
  device_type   text,
  backed_up     boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- A WebAuthn ceremony in progress: its challenge is used once (deleted when answered) and expires. Kept in
-- the database so that any instance can finish a ceremony another one began.
CREATE TABLE webauthn_challenges (
  id          text PRIMARY KEY,
  purpose     text NOT NULL CHECK (purpose IN ('register', 'authenticate')),
  challenge   text NOT NULL,
  user_id     text REFERENCES users(id) ON DELETE CASCADE, -- null: a passwordless sign-in (any passkey of this site)
  expires_at  timestamptz NOT NULL
);

-- One-time links sent by email: password reset and caregiver invites. Only the SHA-256 of the secret is kept.
CREATE TABLE password_resets (
  token_hash  text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id);

CREATE TABLE caregiver_invites (
  id          text PRIMARY KEY,
  token_hash  text NOT NULL UNIQUE,
  patient_id  text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  email       text NOT NULL,
  invited_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_user_id text,
  revoked_at  timestamptz
);
CREATE INDEX caregiver_invites_patient ON caregiver_invites (patient_id, created_at);
