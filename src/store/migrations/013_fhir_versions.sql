-- FHIR writes and versioned history (issue 10; FHIR R4 RESTful API §3.1.0.4 update, §3.1.0.3 vread/history).
-- A Patient's demographics change through FHIR update: its version and when it last changed live on the row
-- (meta.versionId / meta.lastUpdated), so reads and searches need no extra query.
ALTER TABLE patients ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;
ALTER TABLE patients ADD COLUMN IF NOT EXISTS updated_at timestamptz;

-- Every version a FHIR write produced, as it was served then (vread, _history), with who wrote it and how
-- (provenance). The body is sealed with the patient's data key (platform/encryption): a crypto-shredded
-- patient's history becomes unreadable with the rest of their record.
CREATE TABLE IF NOT EXISTS fhir_versions (
  type          text NOT NULL,
  id            text NOT NULL,           -- the internal id (api/fhir/ids.ts maps it to the FHIR id)
  version       integer NOT NULL,
  patient_id    text NOT NULL,
  method        text NOT NULL CHECK (method IN ('POST', 'PUT', 'SNAPSHOT')),
  actor_user_id text,
  last_updated  timestamptz NOT NULL DEFAULT now(),
  body          bytea NOT NULL,
  PRIMARY KEY (type, id, version)
);
CREATE INDEX IF NOT EXISTS fhir_versions_patient ON fhir_versions (patient_id);
