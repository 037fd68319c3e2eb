-- Principal cache (src/api/principal-cache.ts): every instance caches "bearer token → principal" for a
-- moment. A change that can end or narrow a token's access — the token revoked, expired or re-scoped; the
-- user disabled, deleted, or their role or links changed — NOTIFYs `vigil_principals` with the user id, at
-- COMMIT, whoever made it (this instance, another one, the CLI, plain SQL), so every instance drops it at once.
CREATE OR REPLACE FUNCTION vigil_principal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'users' THEN
    PERFORM pg_notify('vigil_principals', COALESCE(OLD.id, NEW.id));
  ELSE
    PERFORM pg_notify('vigil_principals', COALESCE(OLD.user_id, NEW.user_id));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER users_principal_changed AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION vigil_principal_changed();

-- Not on last_used_at (touched as tokens are used): only what decides whether and how a token works.
CREATE TRIGGER api_tokens_principal_changed AFTER UPDATE ON api_tokens
  FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
    OR OLD.scope IS DISTINCT FROM NEW.scope OR OLD.patient_ids IS DISTINCT FROM NEW.patient_ids
    OR OLD.token_hash IS DISTINCT FROM NEW.token_hash OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION vigil_principal_changed();

CREATE TRIGGER api_tokens_principal_deleted AFTER DELETE ON api_tokens
  FOR EACH ROW EXECUTE FUNCTION vigil_principal_changed();
