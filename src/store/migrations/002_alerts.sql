-- Alerts: rules as versioned data, alerts with their lifecycle, per-user notification preferences, and
-- the durable notifications outbox that delivery workers claim from.

-- The current version of each rule at its scope: clinic default (scope_id ''), care team (practitioner
-- id) or patient (patient id). The most specific scope wins for a patient.
CREATE TABLE alert_rules (
  id          text PRIMARY KEY,
  key         text NOT NULL,
  scope       text NOT NULL CHECK (scope IN ('clinic', 'team', 'patient')),
  scope_id    text NOT NULL DEFAULT '',
  version     integer NOT NULL,
  enabled     boolean NOT NULL DEFAULT true,
  definition  jsonb NOT NULL,
  updated_by  text,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (key, scope, scope_id)
);

-- Every version ever saved, so an alert's (rule_id, rule_version) can always be looked up.
CREATE TABLE alert_rule_versions (
  rule_id     text NOT NULL REFERENCES alert_rules(id),
  version     integer NOT NULL,
  enabled     boolean NOT NULL,
  definition  jsonb NOT NULL,
  edited_by   text,
  edited_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rule_id, version)
);

CREATE TABLE alerts (
  id              text PRIMARY KEY,
  patient_id      text NOT NULL,
  rule_key        text NOT NULL,
  rule_id         text NOT NULL,
  rule_version    integer NOT NULL,
  -- the device for device-level rules (offline, battery, missing data); '' otherwise
  subject         text NOT NULL DEFAULT '',
  severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  status          text NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
  message         text NOT NULL,
  value           double precision,
  opened_at       timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  last_value_at   timestamptz,
  acknowledged_at timestamptz,
  acknowledged_by text,
  resolved_at     timestamptz,
  resolved_by     text,
  resolution_note text,
  snoozed_until   timestamptz,
  snooze_reason   text,
  assignee_id     text,
  escalation_level integer NOT NULL DEFAULT 0,
  escalated_at    timestamptz
);
-- De-duplication: at most one unresolved alert per patient, rule and subject.
CREATE UNIQUE INDEX alerts_one_active ON alerts (patient_id, rule_key, subject) WHERE status <> 'resolved';
CREATE INDEX alerts_by_patient ON alerts (patient_id, opened_at DESC);
CREATE INDEX alerts_active ON alerts (status) WHERE status <> 'resolved';

CREATE TABLE alert_preferences (
  user_id     text PRIMARY KEY,
  prefs       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The notifications outbox: one row per (alert event, recipient, channel). A worker claims due rows by
-- flipping status to 'sending' with a lease (FOR UPDATE SKIP LOCKED), so two instances never send the
-- same row; the idempotency key travels with the message (Message-ID, Idempotency-Key header).
CREATE TABLE notification_jobs (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  alert_id        text NOT NULL,
  user_id         text,
  channel         text NOT NULL CHECK (channel IN ('email', 'webhook', 'webpush')),
  target          text NOT NULL,
  payload         jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  lease_until     timestamptz,
  last_error      text,
  sent_at         timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_jobs_due ON notification_jobs (next_attempt_at) WHERE status IN ('pending', 'sending');
