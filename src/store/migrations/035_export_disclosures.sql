-- Which patients each file of a Bulk export carries (type → patient id → resources), so a download is audited
-- once per patient it discloses (ONC §170.315(d)(2): the patient's own AuditEvent view), as a search is.
ALTER TABLE fhir_export_jobs ADD COLUMN IF NOT EXISTS disclosed jsonb NOT NULL DEFAULT '{}';
