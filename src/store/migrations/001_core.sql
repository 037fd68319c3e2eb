-- Core clinical and device tables. Timestamps are timestamptz; readings are the time series.

CREATE TABLE patients (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  birth_date  date,
  sex         text,
  mrn         text UNIQUE,
  -- per-patient clinical settings, e.g. {"spo2Scale": 2, "onOxygen": false}
  settings    jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE practitioners (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  qualification text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Which practitioner looks after which patient.
CREATE TABLE care_team_members (
  patient_id      text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  practitioner_id text NOT NULL REFERENCES practitioners(id) ON DELETE CASCADE,
  role            text NOT NULL DEFAULT 'clinician',
  PRIMARY KEY (patient_id, practitioner_id)
);
CREATE INDEX care_team_by_practitioner ON care_team_members (practitioner_id);

CREATE TABLE users (
  id              text PRIMARY KEY,
  email           text NOT NULL UNIQUE,
  display_name    text NOT NULL,
  role            text NOT NULL CHECK (role IN ('admin', 'clinician', 'patient')),
  password_hash   text,
  practitioner_id text REFERENCES practitioners(id),
  patient_id      text REFERENCES patients(id) ON DELETE CASCADE,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  token_hash  text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
  id          text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash  text NOT NULL UNIQUE,
  name        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);

CREATE TABLE devices (
  id            text PRIMARY KEY,
  patient_id    text REFERENCES patients(id) ON DELETE SET NULL,
  type          text NOT NULL,
  name          text,
  secret_hash   text NOT NULL,
  online        boolean NOT NULL DEFAULT false,
  battery       integer,
  last_seen_at  timestamptz,
  rejected_count integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_by_patient ON devices (patient_id);

CREATE TABLE readings (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  patient_id  text NOT NULL,
  device_id   text,
  system      text NOT NULL DEFAULT 'http://loinc.org',
  code        text NOT NULL,
  value       double precision NOT NULL,
  unit        text NOT NULL,
  ts          timestamptz NOT NULL,
  seq         bigint,
  command_id  text,
  -- derived observations: {"name": "...", "version": "..."}
  method      jsonb,
  received_at timestamptz NOT NULL DEFAULT now()
);
-- "patient + code + time range" (the one secondary index: every extra index slows ingest).
CREATE INDEX readings_patient_code_ts ON readings (patient_id, code, ts DESC);

-- De-duplication on (device, seq) per message, not per reading: one small row per message keeps the readings
-- table free of a unique index. Old keys may be pruned once devices can no longer re-send them.
CREATE TABLE ingested_messages (
  device_id   text NOT NULL,
  seq         bigint NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, seq)
);

-- Latest value per patient and code, maintained by ingest: the clinician panel reads one small table.
CREATE TABLE latest_readings (
  patient_id  text NOT NULL,
  code        text NOT NULL,
  value       double precision NOT NULL,
  unit        text NOT NULL,
  ts          timestamptz NOT NULL,
  device_id   text,
  PRIMARY KEY (patient_id, code)
);

CREATE TABLE ecg_chunks (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  patient_id  text NOT NULL,
  device_id   text NOT NULL,
  ts          timestamptz NOT NULL,
  seq         bigint,
  fs          real NOT NULL,
  lead        text NOT NULL,
  unit        text NOT NULL,
  samples     integer[] NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ecg_patient_ts ON ecg_chunks (patient_id, ts DESC);
CREATE UNIQUE INDEX ecg_device_seq ON ecg_chunks (device_id, seq) WHERE seq IS NOT NULL;

-- Payloads refused at ingest, with the reason, for admins.
CREATE TABLE rejected_payloads (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id   text,
  topic       text NOT NULL,
  reason      text NOT NULL,
  excerpt     text,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_by_time ON rejected_payloads (received_at DESC);

-- Audit trail: append-only, each entry chained to the previous by hash (tamper-evident).
CREATE TABLE audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  action      text NOT NULL,
  entity_type text,
  entity_id   text,
  patient_id  text,
  outcome     text NOT NULL DEFAULT 'success',
  details     jsonb,
  prev_hash   text NOT NULL,
  hash        text NOT NULL
);
