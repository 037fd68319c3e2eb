-- Telehealth (issue 8): secure messages, appointments, video visits.
-- Free text and files are stored sealed (bytea envelopes from platform/encryption, per-patient keys).

CREATE TABLE message_threads (
  id              text PRIMARY KEY,
  patient_id      text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  subject         text NOT NULL,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_message_at timestamptz NOT NULL DEFAULT now(),
  -- an unanswered urgent message from the patient side sorts the clinicians' inbox
  urgent_open     boolean NOT NULL DEFAULT false
);
CREATE INDEX message_threads_by_patient ON message_threads (patient_id, last_message_at DESC);

-- Messages are never edited or deleted after sending (a correction is a new message): see the trigger below.
CREATE TABLE messages (
  id             text PRIMARY KEY,
  thread_id      text NOT NULL REFERENCES message_threads(id) ON DELETE CASCADE,
  patient_id     text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  sender_user_id text,
  sender_kind    text NOT NULL CHECK (sender_kind IN ('patient', 'staff', 'guest', 'system')),
  sender_name    text NOT NULL,
  -- FHIR reference of the sender: Patient/…, Practitioner/… or null (admin, guest, system)
  sender_ref     text,
  body           bytea NOT NULL,
  urgent         boolean NOT NULL DEFAULT false,
  category       text NOT NULL DEFAULT 'message' CHECK (category IN ('message', 'visit-chat', 'visit-summary', 'notification')),
  sent_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_by_thread ON messages (thread_id, sent_at);
CREATE INDEX messages_by_patient ON messages (patient_id, sent_at);

CREATE TABLE message_attachments (
  id           text PRIMARY KEY,
  message_id   text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  patient_id   text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  content_type text NOT NULL,
  size         integer NOT NULL,
  width        integer,
  height       integer,
  title        text,
  data         bytea NOT NULL,
  thumbnail    bytea
);
CREATE INDEX message_attachments_by_message ON message_attachments (message_id);

CREATE FUNCTION vigil_immutable() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'messages and their attachments are immutable: send a correction as a new message'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER messages_immutable BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION vigil_immutable();
CREATE TRIGGER message_attachments_immutable BEFORE UPDATE ON message_attachments FOR EACH ROW EXECUTE FUNCTION vigil_immutable();

-- Read receipts: who read which message when.
CREATE TABLE message_reads (
  message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  user_id    text NOT NULL,
  read_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_reads_by_user ON message_reads (user_id);

-- Clinician availability (FHIR Schedule), cut into slots of slot_minutes (FHIR Slot).
CREATE TABLE availability (
  id              text PRIMARY KEY,
  practitioner_id text NOT NULL REFERENCES practitioners(id) ON DELETE CASCADE,
  start_at        timestamptz NOT NULL,
  end_at          timestamptz NOT NULL,
  slot_minutes    integer NOT NULL DEFAULT 15 CHECK (slot_minutes BETWEEN 5 AND 240),
  created_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (end_at > start_at)
);
CREATE INDEX availability_by_practitioner ON availability (practitioner_id, start_at);

CREATE TABLE appointments (
  id               text PRIMARY KEY,
  patient_id       text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  practitioner_id  text REFERENCES practitioners(id) ON DELETE SET NULL,
  status           text NOT NULL CHECK (status IN ('proposed', 'booked', 'arrived', 'fulfilled', 'cancelled', 'noshow')),
  mode             text NOT NULL DEFAULT 'video' CHECK (mode IN ('video', 'audio')),
  start_at         timestamptz NOT NULL,
  end_at           timestamptz NOT NULL,
  description      text,
  thread_id        text REFERENCES message_threads(id) ON DELETE SET NULL,
  created_by       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  reminder_sent_at timestamptz,
  cancel_reason    text
);
CREATE INDEX appointments_by_patient ON appointments (patient_id, start_at);
CREATE INDEX appointments_by_practitioner ON appointments (practitioner_id, start_at);

-- A visit that took place (FHIR Encounter, class VR) and who joined it, when, for how long.
CREATE TABLE encounters (
  id             text PRIMARY KEY,
  appointment_id text REFERENCES appointments(id) ON DELETE SET NULL,
  patient_id     text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  status         text NOT NULL CHECK (status IN ('in-progress', 'finished')),
  started_at     timestamptz NOT NULL,
  ended_at       timestamptz
);
CREATE UNIQUE INDEX encounters_by_appointment ON encounters (appointment_id);
CREATE INDEX encounters_by_patient ON encounters (patient_id, started_at);

CREATE TABLE encounter_participants (
  id           bigserial PRIMARY KEY,
  encounter_id text NOT NULL REFERENCES encounters(id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('patient', 'staff', 'guest')),
  ref          text,
  display      text NOT NULL,
  joined_at    timestamptz NOT NULL,
  left_at      timestamptz
);
CREATE INDEX encounter_participants_by_encounter ON encounter_participants (encounter_id);

-- One-time guest links: only a hash of the token is kept.
CREATE TABLE visit_invites (
  token_hash     text PRIMARY KEY,
  appointment_id text NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
  display_name   text NOT NULL,
  created_by     text NOT NULL,
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz
);
