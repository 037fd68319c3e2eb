-- Video visits across instances (issue 8): each visit's room is hosted by one instance (its "home"); a
-- participant whose WebSocket lands on another instance is relayed to the home through visit_mail (rows
-- sealed with the patient's key, announced by NOTIFY vigil_visits). A home that stops beating is replaced.
CREATE TABLE visit_room_homes (
  appointment_id  text PRIMARY KEY REFERENCES appointments(id) ON DELETE CASCADE,
  instance_id     text NOT NULL,
  heartbeat_at    timestamptz NOT NULL
);
CREATE TABLE visit_mail (
  id           bigserial PRIMARY KEY,
  to_instance  text NOT NULL,
  patient_id   text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  payload      bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_mail_by_instance ON visit_mail (to_instance, id);
-- Guest passes (from a one-time link) are valid on every instance; only their hash is stored.
CREATE TABLE visit_guest_passes (
  pass_hash       text PRIMARY KEY,
  appointment_id  text NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
  name            text NOT NULL,
  expires_at      timestamptz NOT NULL
);
