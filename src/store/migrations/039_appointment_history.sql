-- FHIR vread and _history for Appointment (issue 10). Two changes to the trigger of migration 038:
-- 1. A statement that changes only the reminder bookkeeping (`reminder_sent_at`: a reminder claimed, or given
--    back after a failed send) is not a new version (found by review: every reminder run bumped versionId and
--    lastUpdated of each visit it reminded, with nothing in the resource changed). Neither is an UPDATE that
--    changes nothing.
-- 2. Every new version (the INSERT that books it, and every UPDATE that bumps it, whatever path made it: REST,
--    FHIR, the visit room) is captured, in the same transaction, into `appointment_versions_pending`; the
--    application seals it with the patient's data key into `fhir_versions` after COMMIT (sealing may not run
--    inside a transaction on PGlite), so history is complete even when a process stops in between. The copy
--    is the row as it is (its description and cancellation reason are already sealed there).
CREATE OR REPLACE FUNCTION appointments_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (to_jsonb(NEW) - ARRAY['reminder_sent_at', 'version', 'updated_at']) = (to_jsonb(OLD) - ARRAY['reminder_sent_at', 'version', 'updated_at']) THEN
    NEW.version := OLD.version;
    NEW.updated_at := OLD.updated_at;
  ELSE
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;

CREATE TABLE IF NOT EXISTS appointment_versions_pending (
  appointment_id text NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
  version        integer NOT NULL,
  method         text NOT NULL CHECK (method IN ('POST', 'PUT', 'SNAPSHOT')),
  actor_user_id  text,                  -- set_config('vigil.actor', …, true) of the writing transaction, if any
  body           jsonb NOT NULL,        -- the appointments row at that version
  PRIMARY KEY (appointment_id, version)
);

CREATE OR REPLACE FUNCTION appointments_capture_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
    RETURN NULL;
  END IF;
  INSERT INTO appointment_versions_pending (appointment_id, version, method, actor_user_id, body)
  VALUES (NEW.id, NEW.version, CASE WHEN TG_OP = 'INSERT' THEN 'POST' ELSE 'PUT' END, NULLIF(current_setting('vigil.actor', true), ''), to_jsonb(NEW))
  ON CONFLICT (appointment_id, version) DO NOTHING;
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS appointments_capture_version ON appointments;
CREATE TRIGGER appointments_capture_version AFTER INSERT OR UPDATE ON appointments FOR EACH ROW EXECUTE FUNCTION appointments_capture_version();

-- Appointments booked before this migration: their current version is where their history starts.
INSERT INTO appointment_versions_pending (appointment_id, version, method, actor_user_id, body)
SELECT a.id, a.version, 'SNAPSHOT', NULL, to_jsonb(a) FROM appointments a
ON CONFLICT (appointment_id, version) DO NOTHING;
