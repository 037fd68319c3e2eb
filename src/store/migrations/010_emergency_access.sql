-- ONC §170.315(d)(6) emergency access ("break the glass"): a clinician outside the care team opens a patient's
-- record with a reason, for a limited time; every grant is audited and waits for an admin's review.
CREATE TABLE emergency_access (
  id           text PRIMARY KEY,
  user_id      text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  patient_id   text NOT NULL,
  reason       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  reviewed_at  timestamptz,
  reviewed_by  text,
  review_note  text
);
CREATE INDEX emergency_access_user ON emergency_access (user_id, expires_at);
