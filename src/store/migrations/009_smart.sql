-- SMART App Launch 2.x (issue 10): registered apps, one-time authorization codes, access and refresh
-- tokens. Codes and tokens are stored only as SHA-256 hashes.
CREATE TABLE smart_clients (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  redirect_uris jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE smart_grants (
  hash          text PRIMARY KEY,
  kind          text NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
  client_id     text NOT NULL REFERENCES smart_clients(id) ON DELETE CASCADE,
  user_id       text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  patient_id    text,
  scopes        text NOT NULL,
  redirect_uri  text,
  code_challenge text,
  expires_at    timestamptz NOT NULL,
  used_at       timestamptz,
  revoked_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX smart_grants_by_user ON smart_grants (user_id);
