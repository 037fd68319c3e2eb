-- Issue 9 (F4, ONC §170.315(d)(1), (d)(5), (d)(13)): revocable access, session time-outs, second factors.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;

-- Sessions: idle time-out (last_seen_at) and absolute lifetime (expires_at); 'mfa' = still needs its second
-- factor (only the MFA routes answer), 'enrol' = must enrol a second factor first.
ALTER TABLE sessions ADD COLUMN id text;
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE sessions ADD COLUMN stage text NOT NULL DEFAULT 'full';
ALTER TABLE sessions ADD COLUMN ip text;
CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens: scoped (read / write, which patients), expiring, revocable.
ALTER TABLE api_tokens ADD COLUMN scope text NOT NULL DEFAULT 'write';
ALTER TABLE api_tokens ADD COLUMN patient_ids jsonb;
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
ALTER TABLE api_tokens ADD COLUMN revoked_at timestamptz;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Second factors: TOTP secrets are sealed (AES-256-GCM under the master key); recovery codes stored hashed.
CREATE TABLE mfa_factors (
  id          text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind        text NOT NULL CHECK (kind IN ('totp', 'webauthn')),
  secret      text NOT NULL,
  confirmed   boolean NOT NULL DEFAULT false,
  last_step   bigint,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_factors_user ON mfa_factors (user_id);

CREATE TABLE mfa_recovery_codes (
  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash  text NOT NULL,
  used_at    timestamptz,
  PRIMARY KEY (user_id, code_hash)
);
