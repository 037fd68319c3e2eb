-- A video visit's participants can come straight back after their connection drops (visits/visit-rooms.ts: the
-- admission's rejoin secret). Kept in memory at the room's home only, that was lost when the home restarted or
-- died: the patient, back within seconds on the restarted or another instance, had to wait to be let in again
-- (found by review). The same, in the database: only a SHA-256 of the secret; `until` NULL while in the visit as
-- its home last knew (a crashed home: good while the Encounter is in progress, which the orphan sweep ends after
-- the rejoin window), else the end of the rejoin window after a drop. Gone when the participant leaves or the visit ends.
CREATE TABLE IF NOT EXISTS visit_rejoin (
  appointment_id  text NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
  participant_key text NOT NULL,
  secret_hash     text NOT NULL,
  until           timestamptz,
  PRIMARY KEY (appointment_id, participant_key)
);
