-- FHIR update of Practitioner and Device (R4 §3.1.0.4, If-Match): each counts its FHIR updates, as patients do
-- (meta.versionId), and remembers when it last changed (meta.lastUpdated, _lastUpdated).
ALTER TABLE practitioners ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE practitioners ADD COLUMN updated_at timestamptz;
ALTER TABLE devices ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN updated_at timestamptz;
