-- When an appointment last changed the clinician's free and busy time (booked, moved, cancelled before it began):
-- a FHIR Slot's meta.lastUpdated (appointment.fhir.ts). Before, the Slot took the clinician's latest appointment
-- change of any kind, so a patient polling their care team's slots learnt when another patient's visit started or
-- ended, and every slot got a new version on each (found by review). A visit starting, ending, getting its chat
-- thread or a new description changes no slot. Rows from before this migration fall back to updated_at (a
-- backfill UPDATE would make a new FHIR version of every appointment: migration 039's trigger).
ALTER TABLE appointments ADD COLUMN IF NOT EXISTS slot_changed_at timestamptz;

CREATE OR REPLACE FUNCTION appointments_slot_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.slot_changed_at := now();
  ELSIF NEW.start_at IS DISTINCT FROM OLD.start_at OR NEW.end_at IS DISTINCT FROM OLD.end_at
     OR NEW.practitioner_id IS DISTINCT FROM OLD.practitioner_id
     OR ((NEW.status IN ('booked', 'arrived')) IS DISTINCT FROM (OLD.status IN ('booked', 'arrived')) AND OLD.start_at > now()) THEN
    NEW.slot_changed_at := now();
  ELSE
    NEW.slot_changed_at := OLD.slot_changed_at;
  END IF;
  RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS appointments_slot_change ON appointments;
CREATE TRIGGER appointments_slot_change BEFORE INSERT OR UPDATE ON appointments FOR EACH ROW EXECUTE FUNCTION appointments_slot_change();
