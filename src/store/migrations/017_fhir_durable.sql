-- Issue 10: FHIR state that must survive a restart and be shared by several instances on one PostgreSQL.

-- SMART authorization requests between the screen and the user's answer (sign-in, MFA, consent): any
-- instance may show the screen and any other receive the answer. Kept 10 minutes.
CREATE TABLE IF NOT EXISTS smart_pending (
  id          text PRIMARY KEY,           -- the unguessable id the form posts back
  user_id     text,
  query       jsonb NOT NULL,             -- the authorization request's parameters
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The id_token signing key (RS256), one for every instance, so a token signed by one verifies with the JWKS
-- another publishes. The private key is sealed under the master key (platform/encryption).
CREATE TABLE IF NOT EXISTS smart_signing_keys (
  id          text PRIMARY KEY,           -- 'current'
  kid         text NOT NULL,
  private_key text NOT NULL,              -- sealed PKCS#8 PEM
  public_jwk  jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Bulk Data $export jobs (Bulk Data IG v2). A job is claimed by one instance at a time (owner + heartbeat);
-- a job whose instance died (stale heartbeat) is taken over and rerun from the start by any instance.
CREATE TABLE IF NOT EXISTS fhir_export_jobs (
  id               text PRIMARY KEY,
  user_id          text NOT NULL,
  principal        jsonb NOT NULL,        -- who asked, as the job runs with their access (scopes included)
  level            text NOT NULL CHECK (level IN ('system', 'patient', 'group')),
  group_id         text,
  types            text[] NOT NULL,
  since            text,
  base_url         text NOT NULL,
  request          text NOT NULL,
  transaction_time timestamptz NOT NULL,
  status           text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  progress         text NOT NULL DEFAULT 'queued',
  output           jsonb NOT NULL DEFAULT '[]',
  error            text,
  attempts         integer NOT NULL DEFAULT 0,
  owner            text,
  heartbeat_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fhir_export_jobs_claimable ON fhir_export_jobs (created_at) WHERE status IN ('queued', 'running');

-- The NDJSON files, in parts of about 1 MB, so any instance can serve them.
CREATE TABLE IF NOT EXISTS fhir_export_parts (
  job_id  text NOT NULL REFERENCES fhir_export_jobs(id) ON DELETE CASCADE,
  type    text NOT NULL,
  part    integer NOT NULL,
  body    bytea NOT NULL,
  PRIMARY KEY (job_id, type, part)
);
