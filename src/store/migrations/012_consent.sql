-- Consent (issue 9, GDPR art. 6/7/9, HIPAA §164.508/§164.510(b)): what a patient agreed to, who may see what.
-- A caregiver (family member) reads a patient's portal data and threads only while the patient's consent
-- stands; revoking it ends that access at once. Other kinds (remote monitoring, sharing with a named
-- organisation, research) are recorded, shown to the patient and revocable. Rows are never deleted, only
-- revoked (the history is the evidence); erasing the patient removes them with the patient.
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'clinician', 'patient', 'caregiver'));

CREATE TABLE consents (
  id               text PRIMARY KEY,
  patient_id       text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  kind             text NOT NULL CHECK (kind IN ('caregiver', 'remote-monitoring', 'sharing', 'research')),
  -- caregiver: the account given access; sharing: the organisation's name.
  grantee_user_id  text REFERENCES users(id) ON DELETE CASCADE,
  grantee_name     text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  created_by       text NOT NULL,
  expires_at       timestamptz,
  revoked_at       timestamptz,
  revoked_by       text
);
CREATE INDEX consents_by_grantee ON consents (grantee_user_id) WHERE revoked_at IS NULL;
CREATE INDEX consents_by_patient ON consents (patient_id, created_at);
