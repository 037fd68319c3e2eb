-- When a care team's members last changed (a patient joined or left): a FHIR Group's meta.lastUpdated
-- (api/fhir/resources/group.ts). R4 (resource.html#Meta): lastUpdated and versionId change when the resource
-- changes; before, a Group kept versionId "1" and its practitioner's created_at however its members changed.
-- Teams changed before this migration fall back to the practitioner's own times.
ALTER TABLE practitioners ADD COLUMN IF NOT EXISTS care_team_changed_at timestamptz;

CREATE OR REPLACE FUNCTION care_team_members_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE practitioners SET care_team_changed_at = now() WHERE id = NEW.practitioner_id;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.practitioner_id IS DISTINCT FROM NEW.practitioner_id) THEN
    UPDATE practitioners SET care_team_changed_at = now() WHERE id = OLD.practitioner_id;
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS care_team_members_changed ON care_team_members;
-- Only a change of who is on which team (not of another column, such as a role) changes the Group.
CREATE TRIGGER care_team_members_changed AFTER INSERT OR DELETE OR UPDATE OF patient_id, practitioner_id ON care_team_members
  FOR EACH ROW EXECUTE FUNCTION care_team_members_changed();
