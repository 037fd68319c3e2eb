-- SMART App Launch 2.x EHR launch (issue 10): the EHR (Vigil's web app) opens a registered app at its launch
-- URL with `iss` and an opaque `launch`; the app's authorization request names that launch, and the server
-- gives the token the context it stands for (the patient open in the EHR) for the user who launched it.
ALTER TABLE smart_clients ADD COLUMN IF NOT EXISTS launch_url text;

CREATE TABLE IF NOT EXISTS smart_launches (
  id          text PRIMARY KEY,            -- sha-256 of the opaque launch value
  client_id   text NOT NULL REFERENCES smart_clients(id) ON DELETE CASCADE,
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  patient_id  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
