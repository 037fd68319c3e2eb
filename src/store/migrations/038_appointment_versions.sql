-- FHIR meta.versionId and meta.lastUpdated for Appointment (R4 §2.17: every change is a new version; found by
-- review: an Appointment had no versionId, and its lastUpdated stayed at its creation after a cancellation).
-- A trigger keeps them whatever statement changes the row (status, time, cancellation, the visit's thread).
ALTER TABLE appointments ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;
ALTER TABLE appointments ADD COLUMN IF NOT EXISTS updated_at timestamptz;
UPDATE appointments SET updated_at = created_at WHERE updated_at IS NULL;

CREATE OR REPLACE FUNCTION appointments_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS appointments_touch ON appointments;
CREATE TRIGGER appointments_touch BEFORE UPDATE ON appointments FOR EACH ROW EXECUTE FUNCTION appointments_touch();
