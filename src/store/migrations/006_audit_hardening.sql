-- ONC §170.315(d)(2) / HIPAA §164.312(b): the audit trail is append-only and keyed.
-- key_id: which HMAC key (outside the database) chains the entry; NULL for entries from before keying.
ALTER TABLE audit_log ADD COLUMN key_id text;

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE INDEX audit_log_patient ON audit_log (patient_id, id) WHERE patient_id IS NOT NULL;
